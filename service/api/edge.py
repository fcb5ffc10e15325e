"""The HTTP edge: request-header limits (431) and the security headers every response carries.

Uvicorn runs httptools here, and httptools (llhttp) bounds neither the size nor the number
of request headers (h11's ``max_incomplete_event_size`` does not apply, and uvicorn has no
header-count option), so a 1 MB header or 200 headers reached the app. ``EdgeGuard`` is a
pure ASGI layer in front of everything that answers — the webhook fast path included — and
refuses such a request with a 431 problem+json that names the limit, then closes the
connection. The defaults (``Settings.max_headers``, ``max_header_field_bytes``,
``max_header_bytes``) follow what the web already lives with: Apache's ``LimitRequestFields``
(100) and ``LimitRequestFieldSize`` (8190 bytes), nginx's 8 KiB header buffers; a Jira or
Trello delivery sends about 15 headers and 1-2 KiB, a browser a few KiB with its cookies, so
both fit with room to spare (32 KiB in total leaves room for a sign-on proxy's cookies).

Every response gets ``X-Content-Type-Options: nosniff`` (a JSON or CSV body is never run as
a script or a stylesheet) and ``Referrer-Policy: same-origin`` (a dashboard URL, with its
portfolio and date, is never sent to Jira or Trello when a user follows a link there;
``no-referrer`` would also blank the ``Origin`` of the sign-in form's POST, which the
dashboard checks). The dashboard's pages add ``DASHBOARD_HEADERS``: a CSP that allows the
page's own stylesheet and nothing else — the pages have no script, no inline style and no
inline event handler, and their SVG charts are markup, not resources — and forbid framing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.problems import problem_response
from service.settings import Settings

__all__ = ["DASHBOARD_HEADERS", "EdgeGuard", "header_problem"]

_EVERY_RESPONSE = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
# API answers are per token and some carry a secret once (a new token, a rotated webhook secret,
# a new source's secret): no cache, shared or private, keeps them unless a route says otherwise.
_API_NO_STORE = (b"cache-control", b"no-store")

# The dashboard serves HTML with one same-origin stylesheet and no script: everything else
# is refused, so injected markup can load, run, frame or post nothing.
DASHBOARD_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
DASHBOARD_HEADERS = {"Content-Security-Policy": DASHBOARD_CSP, "X-Frame-Options": "DENY"}


def header_problem(headers: list[tuple[bytes, bytes]], *, max_headers: int, max_field: int,
                   max_total: int) -> str | None:
    """What is wrong with the request's headers, or ``None`` when they are within the limits."""
    if len(headers) > max_headers:
        return f"the request has {len(headers)} headers; the limit is {max_headers} (max_headers)"
    total = 0
    for name, value in headers:
        size = len(name) + len(value)
        if size > max_field:
            shown = name[:60].decode("latin-1")
            return (f"header {shown!r} is {size} bytes; the limit per header is {max_field} bytes "
                    "(max_header_field_bytes)")
        total += size
    if total > max_total:
        return (f"the request headers total {total} bytes; the limit is {max_total} bytes "
                "(max_header_bytes)")
    return None


class EdgeGuard:
    """Refuses oversized header sets with 431 before the app sees them; stamps the headers
    every response carries."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_headers = settings.max_headers
        self.max_field = settings.max_header_field_bytes
        self.max_total = settings.max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        api = scope["path"].startswith("/api/")

        async def send_stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), *_EVERY_RESPONSE]
                if api and not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append(_API_NO_STORE)
                message["headers"] = headers
            await send(message)

        problem = header_problem(scope["headers"], max_headers=self.max_headers, max_field=self.max_field,
                                 max_total=self.max_total)
        if problem is None:
            await self.app(scope, receive, send_stamped)
            return
        rid = scope.get("state", {}).get("request_id")
        # The body (if any) is left unread: closing the connection is cheaper than draining it.
        response = problem_response(431, problem, rid, title="Request Header Fields Too Large",
                                    headers={"Connection": "close"})
        await response(scope, receive, send_stamped)
