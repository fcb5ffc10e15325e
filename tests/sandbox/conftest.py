"""Fixtures for the sandbox tests (shared file: the Jira part below, others append theirs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.jira import JiraConfig, JiraState, generate, start

# --- Jira sandbox ----------------------------------------------------------------------

JIRA_EMAIL = "integration@example.com"
JIRA_TOKEN = "sandbox-api-token"
JIRA_PAT = "sandbox-pat"


@pytest.fixture
def jira_state() -> Iterator[JiraState]:
    """A small seeded Cloud site (3 projects x 30 issues); worklog feeds show everything."""
    state = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    generate(state, projects=3, issues_per_project=30, seed=11)
    yield state
    state.close()


@pytest.fixture
def jira_url(jira_state: JiraState) -> Iterator[str]:
    """The seeded site served over HTTP on loopback."""
    url, stop = start(jira_state)
    yield url
    stop()


@pytest.fixture
def jira_http() -> requests.Session:
    """A requests session with the Cloud credentials of the sandbox."""
    session = requests.Session()
    session.auth = (JIRA_EMAIL, JIRA_TOKEN)
    return session


class HookReceiver:
    """A loopback HTTP server recording raw webhook deliveries (body bytes + headers).

    ``statuses`` is a queue of status codes to answer with (then 200); ``delay`` seconds
    are slept before answering the first delivery.
    """

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                import time

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    first = not receiver.received
                    receiver.received.append(({k: v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if first and receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def bodies(self) -> list[dict[str, object]]:
        import json

        return [json.loads(body) for _h, body in self.received]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def jira_hook_receiver() -> Iterator[HookReceiver]:
    receiver = HookReceiver()
    yield receiver
    receiver.close()


# --- Trello sandbox --------------------------------------------------------------------

TRELLO_KEY = "sandbox-key"
TRELLO_TOKEN = "sandbox-token"


@pytest.fixture
def trello_state() -> Iterator[object]:
    """A small seeded Trello (3 boards x 30 cards) with default credentials."""
    from sandbox.trello import TrelloState
    from sandbox.trello import generate as trello_generate

    state = TrelloState(seed=5)
    trello_generate(state, boards=3, cards_per_board=30, seed=5)
    yield state
    state.close()


@pytest.fixture
def trello_url(trello_state: object) -> Iterator[str]:
    """The seeded Trello served on loopback (API under ``/1``, control under ``/_sandbox``)."""
    from sandbox.trello.testing import running_trello

    with running_trello(trello_state) as (url, _state):  # type: ignore[arg-type]
        yield url


@pytest.fixture
def trello_http() -> Iterator[requests.Session]:
    """A requests session sending the sandbox key and token as query parameters."""
    session = requests.Session()
    session.params = {"key": TRELLO_KEY, "token": TRELLO_TOKEN}  # type: ignore[assignment]
    yield session
    session.close()  # closed keep-alive connections let the server stop at once


@pytest.fixture
def trello_receiver() -> Iterator[object]:
    """A loopback callback endpoint recording HEAD probes and webhook POSTs."""
    from sandbox.trello.testing import CallbackReceiver

    with CallbackReceiver() as receiver:
        yield receiver
