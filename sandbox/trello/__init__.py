"""A simulated Trello over real HTTP: Trello's REST shapes, limits, faults and signed webhooks.

    state = TrelloState(seed=1)
    generate(state, boards=4, cards_per_board=60, seed=1)
    base_url, stop = start(state)          # or run_in_thread(create_app(state))
    # Trello API at base_url + "/1"; control API at base_url + "/_sandbox"

Never imported by production code paths.
"""

from __future__ import annotations

from sandbox.trello import mutations
from sandbox.trello.app import create_app
from sandbox.trello.errors import ApiError
from sandbox.trello.generator import generate
from sandbox.trello.server import serve, start
from sandbox.trello.state import SandboxConfig, TrelloState
from sandbox.trello.webhooks import signature

__all__ = [
    "create_app",
    "TrelloState",
    "SandboxConfig",
    "generate",
    "mutations",
    "signature",
    "ApiError",
    "start",
    "serve",
]
