"""Serve a Jira sandbox on loopback in a background thread (see ``sandbox/server.py``)."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.jira.app import create_app
from sandbox.jira.state import JiraState
from sandbox.server import run_in_thread

__all__ = ["run_in_thread", "start"]


def start(state: JiraState, port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve ``state``; ``stop()`` also stops webhook delivery. Sets ``config.base_url``."""
    url, stop_server = run_in_thread(create_app(state), port=port)
    if not state.config.base_url:
        state.config.base_url = url

    def stop() -> None:
        stop_server()
        state.close()

    return url, stop
