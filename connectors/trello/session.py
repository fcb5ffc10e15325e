"""The ``requests.Session`` we hand to py-trello as its ``http_service``.

py-trello 0.20.1's ``TrelloClient.fetch_json`` hard-codes ``https://api.trello.com/1``,
passes no timeout, and turns every non-200 into an exception that drops the status
headers and body. Its ``http_service`` hook is the one place to fix all that, so
this session:

- rewrites the ``https://api.trello.com/1`` prefix to our ``base_url`` and refuses any
  other host (a request can never leak to a host we were not configured for);
- injects the timeout;
- takes a token from the rate-limit buckets before each request;
- raises *our* classified errors (``connectors.errors``) on non-2xx, keeping status,
  headers and body (with key and token scrubbed from URLs and messages), so
  py-trello never sees a failure.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from connectors.errors import ConnectorError, Fatal, Transient, classify_status
from connectors.retry import parse_retry_after
from connectors.trello.ratelimit import RateLimiter

__all__ = ["TrelloSession", "TRELLO_API", "error_from_response"]

TRELLO_API = "https://api.trello.com/1"
_BODY_IN_MESSAGE = 300


class TrelloSession(requests.Session):
    """A session bound to one key/token pair and one base URL."""

    def __init__(
        self, *, base_url: str, api_key: str, token: str, timeout: float, limiter: RateLimiter
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._origin = (parts.scheme, parts.netloc)
        self._secrets = tuple(s for s in (api_key, token) if s)
        self.api_key = api_key
        self.token = token
        self.timeout = timeout
        self.limiter = limiter
        self.calls = 0
        self._calls_lock = threading.Lock()

    def rewrite(self, url: str) -> str:
        """Point py-trello's hard-coded Trello URL at ``base_url``."""
        if url == TRELLO_API or url.startswith(TRELLO_API + "/"):
            return self.base_url + url[len(TRELLO_API) :]
        return url

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "REDACTED")
        return text

    def _check_origin(self, url: str) -> None:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._origin:
            raise Fatal(
                f"refusing to call {parts.scheme}://{parts.netloc}: "
                f"this client may only call {self.base_url}"
            )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Also reached by redirects, which bypass request(): they may not leave base_url either.
        self._check_origin(request.url or "")
        return super().send(request, **kwargs)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        method_s = method.decode() if isinstance(method, bytes) else method
        target = self.rewrite(url.decode() if isinstance(url, bytes) else url)
        self._check_origin(target)
        parts = urlsplit(target)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        api_path = parts.path[len(urlsplit(self.base_url).path) :]
        self.limiter.acquire(self.api_key, self.token, api_path)
        with self._calls_lock:
            self.calls += 1
        safe_url = self.redact(f"{parts.scheme}://{parts.netloc}{parts.path}")
        try:
            response = super().request(method_s, target, *args, **kwargs)
        except (
            requests.Timeout,
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            raise Transient(
                f"Trello {method_s} {safe_url} failed: {exc.__class__.__name__}", url=safe_url
            ) from None
        except requests.RequestException as exc:
            raise Fatal(
                f"Trello {method_s} {safe_url} failed: {exc.__class__.__name__}", url=safe_url
            ) from None
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, method_s, safe_url, self.redact)
        # py-trello parses with ``response.json()`` (stdlib json); a board's card list is
        # megabytes, and orjson parses it several times faster (its error is a ValueError too).
        content = response.content
        response.json = lambda **_: orjson.loads(content)  # type: ignore[method-assign]
        return response


def error_from_response(
    response: requests.Response, method: str, safe_url: str, redact: Any = lambda s: s
) -> ConnectorError:
    """The classified error for a non-2xx answer, with status, headers and body kept."""
    body = redact(response.text)
    headers: Mapping[str, str] = dict(response.headers)
    # Trello sends no Retry-After on 429 (so retry_after stays None); honour one if it ever appears.
    retry_after = parse_retry_after(headers.get("Retry-After"))
    message = f"Trello {response.status_code} on {method} {safe_url}: {body[:_BODY_IN_MESSAGE]}"
    error = classify_status(
        response.status_code, message, headers=headers, url=safe_url, retry_after=retry_after
    )
    error.body = body  # type: ignore[attr-defined]  # ConnectorError has no body field (yet)
    return error
