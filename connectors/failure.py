"""A failed request in words a user can act on: the host tried and why it failed.

A connector error's message names the request and our classification ("cannot connect to
Jira for GET /rest/api/2/serverInfo: ConnectionError"); what a person setting up a source
needs is the host and the cause: "jira.acme.test:8443: connection refused". The cause is
read from the status, else from the exception chain the connectors keep (``raise ... from
None`` hides it from tracebacks, not from ``__context__``). Used by source verification
(the 422 on registration) and by a source's health after a failed sync.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from connectors.errors import ConnectorError
from connectors.outbound import OutboundRefused

__all__ = ["failure_cause", "failure_host", "describe_failure"]

_STATUS_MEANING = {
    401: "credentials rejected",
    403: "forbidden (the credentials lack permission)",
    404: "not found",
    410: "gone",
    429: "rate limited",
}
_TIMEOUTS = (TimeoutError, socket.timeout, requests.Timeout, urllib3.exceptions.TimeoutError)
_NAME_ERRORS = (socket.gaierror, urllib3.exceptions.NameResolutionError)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (bounded: chains can loop)."""
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out and len(out) < 20:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


# Most specific first, over the whole chain: urllib3's NewConnectionError (a refused
# connection) is a subclass of its ConnectTimeoutError, so the OS error decides.
_CAUSES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (_NAME_ERRORS, "host name not found"),
    ((ssl.SSLError, requests.exceptions.SSLError), "TLS handshake failed"),
    (ConnectionResetError, "connection reset"),
    (_TIMEOUTS, "timed out"),
)


def _transport_cause(chain: list[BaseException]) -> str | None:
    for kind, words in _CAUSES:
        if any(isinstance(link, kind) for link in chain):
            return words
    return None


def failure_cause(exc: BaseException) -> str:
    """``connection refused``, ``timed out``, ``HTTP 401 credentials rejected``, the guard's refusal…"""
    if isinstance(exc, OutboundRefused):
        return f"outbound guard {exc}"
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        meaning = _STATUS_MEANING.get(status, "server error" if status >= 500 else "refused")
        return f"HTTP {status} {meaning}"
    found = _transport_cause(_chain(exc))
    if found is not None:
        return found
    return f"{exc.__class__.__name__}: {exc}" if isinstance(exc, ConnectorError) else exc.__class__.__name__


def failure_host(base_url: str | None, exc: BaseException | None = None) -> str:
    """The host (and port) tried: from ``base_url``, else from the failed request's URL."""
    for url in (base_url, getattr(exc, "url", None)):
        if url:
            netloc = urlsplit(str(url)).netloc
            if netloc:
                return netloc.rsplit("@", 1)[-1]  # never a user:password@ prefix
    return "the tool"


def describe_failure(exc: BaseException, base_url: str | None) -> str:
    """``host: cause`` — one line for a status reason or a 422."""
    return f"{failure_host(base_url, exc)}: {failure_cause(exc)}"
