"""Run an ASGI app (a vendor sandbox) with uvicorn in a background thread on loopback.

Shared by the Jira and Trello sandboxes, their tests and the benchmark:

    base_url, stop = run_in_thread(create_app(state))
    try: ...
    finally: stop()
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

import uvicorn

__all__ = ["run_in_thread", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_until_answers(base_url: str, timeout: float, probe_path: str = "/") -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base_url + probe_path, timeout=1.0):  # noqa: S310 (loopback)
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer (404, 401…) means the server is up
        except OSError as exc:  # connection refused while starting
            last = exc
            time.sleep(0.02)
    raise RuntimeError(f"server at {base_url} did not start within {timeout}s: {last!r}")


def run_in_thread(
    app: Any,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    startup_timeout: float = 10.0,
    log_level: str = "warning",
    probe_path: str = "/",
    lifespan: Literal["auto", "on", "off"] = "off",
    http: str = "h11",
) -> tuple[str, Callable[[], None]]:
    """Start uvicorn serving ``app`` in a daemon thread; return ``(base_url, stop)``.

    ``port=0`` picks a free port. Returns once ``probe_path`` answers (any HTTP status).
    ``stop()`` asks uvicorn to exit and joins the thread; calling it twice is harmless.
    ``lifespan="on"`` runs the app's startup/shutdown (the taskhub app needs it to close
    its database pools on its own event loop); the sandboxes have none. ``http="httptools"``
    serves with the parser production uses (``taskhub serve``), for tests of its limits.
    """
    if port == 0:
        port = free_port(host)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan=lifespan,
        loop="asyncio",
        http=http,
        ws="none",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    # uvicorn installs signal handlers only on the main thread, so a thread is fine.
    thread = threading.Thread(target=server.run, name=f"sandbox-{port}", daemon=True)
    thread.start()
    base_url = f"http://{host}:{port}"
    try:
        _wait_until_answers(base_url, startup_timeout, probe_path)
    except Exception:
        server.should_exit = True
        thread.join(timeout=5)
        raise

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return base_url, stop
