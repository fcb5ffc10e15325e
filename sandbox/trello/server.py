"""Serve a Trello sandbox: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

import uvicorn

from sandbox.server import run_in_thread
from sandbox.trello.app import create_app
from sandbox.trello.generator import generate
from sandbox.trello.state import TrelloState

__all__ = ["start", "serve"]


def start(state: TrelloState, port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve ``state`` on loopback; returns ``(base_url, stop)``. The API is at ``base_url + "/1"``.

    ``stop()`` also stops the webhook worker.
    """
    url, stop_server = run_in_thread(create_app(state), port=port)

    def stop() -> None:
        stop_server()
        state.close()

    return url, stop


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8082,
    boards: int = 4,
    cards_per_board: int | None = None,
    seed_cards: int | None = None,
    seed: int = 0,
    history: bool = True,
    limits: bool = True,
    log_level: str = "warning",
    app_secret: str | None = None,
) -> None:
    """Seed a sandbox, print one JSON ready line, serve until interrupted (blocking).

    ``seed_cards`` (total, spread evenly over ``boards``) or ``cards_per_board`` (default 60).
    ``limits=False`` turns Trello's request limits off (benchmarks measuring our side).
    ``app_secret``: the secret of the application owning the API key (it signs the webhooks'
    deliveries; default the sandbox's fixed one).
    """
    boards = max(1, boards)
    if cards_per_board is None:
        cards_per_board = -(-seed_cards // boards) if seed_cards is not None else 60
    state = TrelloState(seed=seed)
    if app_secret:
        state.app_secret = app_secret
    state.config.limits_enabled = limits
    board_ids = generate(
        state, boards=boards, cards_per_board=cards_per_board, seed=seed, history=history
    )
    url = f"http://{host}:{port}"
    token = next(iter(state.tokens))
    ready = {
        "url": url,
        "api": url + "/1",
        "boards": board_ids,
        "cards": len(state.cards),
        "api_key": state.api_key,
        "token": token,
        "app_secret": state.app_secret,
        "limits": limits,
    }
    sys.stdout.write(json.dumps(ready) + "\n")
    sys.stdout.flush()
    try:
        uvicorn.run(
            create_app(state),
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
        )
    finally:
        state.close()
