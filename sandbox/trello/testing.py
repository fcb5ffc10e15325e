"""Test helpers around the Trello sandbox: a running server, a callback receiver, a fake clock.

Used by ``tests/sandbox``, ``tests/connectors`` and integration tests; plain context
managers so any test suite (or the demo) can use them without pytest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sandbox.server import run_in_thread
from sandbox.trello.app import create_app
from sandbox.trello.state import TrelloState

__all__ = ["FakeClock", "Received", "CallbackReceiver", "running_trello"]


class FakeClock:
    """A clock that only moves when someone sleeps on it (shared by sandbox and client)."""

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class CallbackReceiver:
    """A loopback HTTP endpoint that records Trello's HEAD probes and POST deliveries.

    ``head_status`` / ``post_status`` set the answers; ``fail_posts`` makes the next N
    POSTs answer 500 (to exercise retries).
    """

    def __init__(self, *, head_status: int = 200, post_status: int = 200) -> None:
        self.head_status = head_status
        self.post_status = post_status
        self.fail_posts = 0
        self.received: list[Received] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self, body: bytes) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._cond:
                    receiver.received.append(Received(self.command, self.path, headers, body))
                    receiver._cond.notify_all()

            def do_HEAD(self) -> None:  # noqa: N802 - http.server naming
                self._record(b"")
                self.send_response(receiver.head_status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._record(body)
                with receiver._cond:
                    failing = receiver.fail_posts > 0
                    receiver.fail_posts -= 1 if failing else 0
                self.send_response(500 if failing else receiver.post_status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="callback-receiver",
            daemon=True,
        )

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def posts(self) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.method == "POST"]

    def wait_for_posts(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for r in self.received if r.method == "POST") < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        return self.posts()

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_trello(state: TrelloState | None = None) -> Iterator[tuple[str, TrelloState]]:
    """Serve ``state`` (default: an empty one) on loopback; yields ``(base_url, state)``.

    The Trello API is at ``base_url + "/1"``. Stops the server and the webhook worker on exit.
    """
    state = state or TrelloState()
    base_url, stop = run_in_thread(create_app(state))
    try:
        yield base_url, state
    finally:
        stop()
        state.close()
