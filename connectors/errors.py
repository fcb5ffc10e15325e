"""Every connector failure, classified once.

Callers catch these categories, never ``requests``/``httpx``/library exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "ConnectorError",
    "Unauthorized",
    "NotFound",
    "RateLimited",
    "Transient",
    "Fatal",
    "classify_status",
]


class ConnectorError(Exception):
    """Base of every classified connector failure.

    The message names the status, our classification and the host, never the body of
    the vendor's answer: messages reach the API (``last_run.error``), and a body could
    be anything the far end chose to send. The body stays in ``body`` for the server log.
    """

    body: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        self.url = url


class Unauthorized(ConnectorError):
    """401/403: credentials wrong, expired or lacking permission. Not retried."""


class NotFound(ConnectorError):
    """404 (or 410): the object is gone or invisible to these credentials."""


class RateLimited(ConnectorError):
    """429 (or 503 with Retry-After). ``retry_after`` is seconds, or None when the vendor gave none."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message, status=status, headers=headers, url=url)
        self.retry_after = retry_after


class Transient(ConnectorError):
    """5xx, timeouts, connection errors: worth retrying for idempotent reads."""


class Fatal(ConnectorError):
    """Any other 4xx or an unreadable response: retrying will not help."""


def classify_status(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    url: str | None = None,
    retry_after: float | None = None,
) -> ConnectorError:
    """Map an HTTP status to the error category (the one status→action table)."""
    if status in (401, 403):
        return Unauthorized(message, status=status, headers=headers, url=url)
    if status in (404, 410):
        return NotFound(message, status=status, headers=headers, url=url)
    if status == 429 or (status == 503 and retry_after is not None):
        return RateLimited(message, retry_after=retry_after, status=status, headers=headers, url=url)
    if status >= 500 or status in (408, 425):
        return Transient(message, status=status, headers=headers, url=url)
    return Fatal(message, status=status, headers=headers, url=url)
