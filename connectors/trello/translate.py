"""Turn Trello failures into ``connectors.errors`` categories, once.

Three places a Trello call can fail, each translated here:

- the HTTP answer is not 2xx (``error_from_response``, called by the session): the status
  is classified, headers and body kept on the error;
- the request never got an answer (``transport_error``, called by the session):
  timeouts and broken connections are ``Transient``, any other ``requests`` failure
  ``Fatal``;
- py-trello refused what came back (``translate_error``, called by the client around
  ``fetch_json``): a 2xx other than 200 (``ResourceUnavailable``), or an answer that
  is not JSON.

Messages name the method, the path or host and the classification, never the body
(messages reach the API through ``last_run.error``, and the far end chooses the body);
the body is on ``error.body`` and in the debug log. Key and token are scrubbed by the
caller's ``redact``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import requests
from trello.exceptions import ResourceUnavailable

from connectors.errors import ConnectorError, Fatal, Transient, classify_status
from connectors.retry import parse_retry_after

__all__ = ["error_from_response", "transport_error", "translate_error"]

log = logging.getLogger("connectors.trello")
Redact = Callable[[str], str]


def _keep(text: str) -> str:
    return text


def error_from_response(
    response: requests.Response, method: str, safe_url: str, redact: Redact = _keep
) -> ConnectorError:
    """The classified error for a non-2xx answer, with status, headers and body kept."""
    body = redact(response.text)
    headers: Mapping[str, str] = dict(response.headers)
    # Trello sends no Retry-After on 429 (so retry_after stays None); honour one if it ever appears.
    retry_after = parse_retry_after(headers.get("Retry-After"))
    message = f"Trello {response.status_code} on {method} {safe_url}"
    error = classify_status(
        response.status_code, message, headers=headers, url=safe_url, retry_after=retry_after
    )
    error.args = (f"{message} ({type(error).__name__})",)
    error.body = body
    log.debug("%s; body: %.2000s", error, body)
    return error


def transport_error(exc: requests.RequestException, method: str, safe_url: str) -> ConnectorError:
    """The classified error for a request that got no answer (``safe_url`` already redacted)."""
    failed = f"Trello {method} {safe_url} failed: {exc.__class__.__name__}"
    if isinstance(
        exc, requests.Timeout | requests.ConnectionError | requests.exceptions.ChunkedEncodingError
    ):
        return Transient(failed, url=safe_url)
    return Fatal(failed, url=safe_url)


def translate_error(
    exc: ResourceUnavailable | ValueError, *, method: str, path: str, redact: Redact = _keep
) -> ConnectorError:
    """The ``Fatal`` error for what py-trello's ``fetch_json`` raised on a 2xx answer."""
    if isinstance(exc, ResourceUnavailable):  # py-trello accepts only 200
        # str(exc) starts with the response body: it stays out of the message (issue 16).
        error = Fatal(redact(f"Trello {method} {path}: unexpected status {exc._status} (Fatal)"))
        error.body = redact(str(exc._msg))
        return error
    # requests' JSONDecodeError and orjson's are ValueErrors: the answer is not JSON.
    return Fatal(f"Trello {method} {redact(path)}: answer is not JSON")
