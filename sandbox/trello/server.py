"""Serve a Trello sandbox: in a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

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
    cards_per_board: int = 60,
    seed: int = 0,
) -> None:
    """Seed a sandbox and serve it until interrupted (for ``taskhub sandbox trello``)."""
    state = TrelloState(seed=seed)
    generate(state, boards=boards, cards_per_board=cards_per_board, seed=seed)
    try:
        uvicorn.run(create_app(state), host=host, port=port, log_level="warning")
    finally:
        state.close()
