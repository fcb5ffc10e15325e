"""The ``requests.Session`` we hand to py-trello as its ``http_service``.

py-trello 0.20.1's ``TrelloClient.fetch_json`` hard-codes ``https://api.trello.com/1``,
passes no timeout, and turns every non-200 into an exception that drops the status
headers and body. Its ``http_service`` hook is the one place to fix all that, so
this session:

- rewrites the ``https://api.trello.com/1`` prefix to our ``base_url``;
- sits behind the outbound guard (``connectors.outbound``): every socket is checked at
  connect time, and any request to another origin, redirects included, is refused;
- injects the timeout;
- takes a token from the rate-limit buckets before each request;
- raises *our* classified errors on non-2xx and on transport failures (translated by
  ``translate.py``), with key and token scrubbed from URLs and messages, so py-trello
  never sees a failure.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from connectors.outbound import OutboundPolicy, guard_session
from connectors.trello.ratelimit import RateLimiter
from connectors.trello.translate import error_from_response, transport_error

__all__ = ["TrelloSession", "TRELLO_API"]

TRELLO_API = "https://api.trello.com/1"


class TrelloSession(requests.Session):
    """A session bound to one key/token pair and one base URL, behind the outbound guard."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        token: str,
        timeout: float,
        limiter: RateLimiter,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        """``outbound`` is the operator's allow list; None allows public addresses only."""
        super().__init__()
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._secrets = tuple(s for s in (api_key, token) if s)
        self.api_key = api_key
        self.token = token
        self.timeout = timeout
        self.limiter = limiter
        self.calls = 0
        self._calls_lock = threading.Lock()
        self._guard = guard_session(self, self.base_url, outbound or OutboundPolicy())

    def rewrite(self, url: str) -> str:
        """Point py-trello's hard-coded Trello URL at ``base_url``."""
        if url == TRELLO_API or url.startswith(TRELLO_API + "/"):
            return self.base_url + url[len(TRELLO_API) :]
        return url

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "REDACTED")
        return text

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        method_s = method.decode() if isinstance(method, bytes) else method
        target = self.rewrite(url.decode() if isinstance(url, bytes) else url)
        self._guard.check_origin(target)  # before taking a rate-limit token
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
        except requests.RequestException as exc:
            raise transport_error(exc, method_s, safe_url) from None
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, method_s, safe_url, self.redact)
        # py-trello parses with ``response.json()`` (stdlib json); a board's card list is
        # megabytes, and orjson parses it several times faster (its error is a ValueError too).
        content = response.content
        response.json = lambda **_: orjson.loads(content)  # type: ignore[method-assign]
        return response
