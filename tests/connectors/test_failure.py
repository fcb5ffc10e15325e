"""``connectors.failure``: the host and cause of a failed request, in words (issue 21)."""

from __future__ import annotations

import socket

import requests

from connectors.errors import Transient, Unauthorized
from connectors.failure import describe_failure, failure_cause, failure_host
from connectors.outbound import OutboundRefused


def _raised_from(cause: BaseException) -> Transient:
    """A Transient as the clients raise it: ``from None`` over the transport error."""
    try:
        try:
            raise requests.ConnectionError("pool") from cause
        except requests.ConnectionError:
            raise Transient("cannot connect to Jira for GET /rest/api/2/serverInfo: ConnectionError") from None
    except Transient as exc:
        return exc


def test_the_cause_comes_from_the_status_or_the_chain() -> None:
    assert failure_cause(Unauthorized("x", status=401)) == "HTTP 401 credentials rejected"
    assert failure_cause(Unauthorized("x", status=403)) == "HTTP 403 forbidden (the credentials lack permission)"
    assert failure_cause(Transient("x", status=503)) == "HTTP 503 server error"
    assert failure_cause(Transient("x", status=418)) == "HTTP 418 refused"
    assert failure_cause(_raised_from(ConnectionRefusedError(111, "Connection refused"))) == "connection refused"
    assert failure_cause(_raised_from(socket.gaierror(-2, "Name or service not known"))) == "host name not found"
    assert failure_cause(_raised_from(TimeoutError("timed out"))) == "timed out"
    assert failure_cause(OutboundRefused("refused: 10.0.0.1 is a private address")) == (
        "outbound guard refused: 10.0.0.1 is a private address")
    assert failure_cause(Transient("no cause kept")) == "Transient: no cause kept"


def test_the_host_is_the_base_urls_else_the_requests_and_never_a_password() -> None:
    assert failure_host("https://jira.acme.test:8443/jira") == "jira.acme.test:8443"
    assert failure_host("https://bot:pw@jira.acme.test") == "jira.acme.test"
    assert failure_host(None, Transient("x", url="https://api.trello.com/1/members/me")) == "api.trello.com"
    assert failure_host(None) == "the tool"
    refused = _raised_from(ConnectionRefusedError(111, "Connection refused"))
    assert describe_failure(refused, "http://127.0.0.1:9") == "127.0.0.1:9: connection refused"
