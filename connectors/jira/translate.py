"""Turn ``jira``/``requests`` exceptions into ``connectors.errors`` categories, once.

The ``jira`` library raises ``JIRAError`` (with ``status_code`` and the ``requests``
response) for HTTP errors, and lets ``requests`` exceptions through for transport
failures (``ResilientSession`` only retries, it does not wrap). ``str(JIRAError)`` dumps
request and response headers, so messages are rebuilt here from safe parts only: the
status, the method, the path and the host. The response body never goes into a message
(messages reach ``last_run.error`` through the API, and the far end chooses the body);
it is kept on the error's ``body`` and logged at DEBUG.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import requests
from jira.exceptions import JIRAError

from connectors.errors import ConnectorError, Fatal, Transient, classify_status
from connectors.retry import parse_retry_after

__all__ = ["translate_error", "short_path"]

log = logging.getLogger("connectors.jira")


def short_path(url: str | None) -> str:
    """The path of ``url`` without query string (query strings may hold JQL or tokens)."""
    if not url:
        return "?"
    return urlsplit(url).path or url


def _host(url: str | None) -> str:
    return (urlsplit(url).hostname or "?") if url else "?"


def _body_text(response: requests.Response | None, fallback: str | None) -> str:
    """The answer's body for ``error.body`` and the debug log (never for a message)."""
    text = fallback or ""
    if not text and response is not None:
        try:
            text = response.text
        except Exception:  # noqa: BLE001 - best effort, for the log only
            text = ""
    return text


def translate_error(
    exc: BaseException, *, method: str = "GET", url: str | None = None
) -> ConnectorError:
    """The connector error for ``exc`` (a ``ConnectorError`` is returned unchanged)."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, JIRAError):
        response = exc.response if isinstance(exc.response, requests.Response) else None
        where = exc.url or (response.url if response is not None else None) or url
        status = exc.status_code or (response.status_code if response is not None else None)
        body = _body_text(response, exc.text)
        if status is None:
            error: ConnectorError = Fatal(
                f"Jira client error on {method} {short_path(where)} at {_host(where)}", url=where
            )
        else:
            headers = response.headers if response is not None else {}
            retry_after = parse_retry_after(headers.get("Retry-After"))
            error = classify_status(
                int(status),
                f"Jira at {_host(where)} answered {status} to {method} {short_path(where)}",
                headers=dict(headers),
                url=where,
                retry_after=retry_after,
            )
            error.args = (f"{error.args[0]} ({type(error).__name__})",)
        error.body = body
        log.debug("%s; body: %.2000s", error, body)
        return error
    where = short_path(url)
    if isinstance(exc, requests.exceptions.JSONDecodeError):
        return Fatal(f"Jira sent a response that is not JSON on {method} {where}", url=url)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema,
    ):
        return Fatal(f"invalid Jira URL {url!r}: {type(exc).__name__}", url=url)
    if isinstance(exc, requests.Timeout):
        return Transient(f"Jira timed out on {method} {where}", url=url)
    if isinstance(exc, requests.ConnectionError):
        return Transient(
            f"cannot connect to Jira for {method} {where}: {type(exc).__name__}", url=url
        )
    if isinstance(exc, requests.RequestException):
        return Transient(
            f"transport error talking to Jira on {method} {where}: {type(exc).__name__}", url=url
        )
    if isinstance(exc, ValueError):
        # Its text quotes what could not be read, i.e. the response body: server log only.
        log.debug("unreadable Jira response on %s %s: %s", method, where, exc)
        return Fatal(f"unreadable Jira response on {method} {where} ({type(exc).__name__})", url=url)
    return Fatal(
        f"unexpected {type(exc).__name__} from the Jira client on {method} {where}", url=url
    )
