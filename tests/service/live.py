"""A real uvicorn server in a thread, for tests that need what TestClient skips: the server's
own error logging, the webhook fast path and the async engines on the server's event loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, *, timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` on a free loopback port; yields its base URL. ``log_config=None`` leaves
    uvicorn's loggers unconfigured, so its records reach the root logger (and ``caplog``)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None, access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
