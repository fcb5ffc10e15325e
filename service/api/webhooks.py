"""``/webhooks/{kind}/{source_id}``: where Jira and Trello deliver events.

The request path is verify → one INSERT through the raw async driver (grouped
commits) → 202, with no thread-pool hop and no ORM unit of work. The same
``ingest`` coroutine serves two doors: the FastAPI routes (documented in the
OpenAPI schema, used by the test client) and ``WebhookFastPath``, a pure ASGI
layer in front of the app that answers webhook POSTs before FastAPI's
middleware and routing stack (about a third of the per-request CPU otherwise).

``/webhooks/{kind}/{source_id}/automation`` is the door for senders that cannot sign (Jira
Automation's "Send web request"): the ``X-Taskhub-Secret`` header instead of a signature, the
body normalized into the kind's webhook payload (``receive.AUTOMATION``), then the same inbox.
It is low-volume, so it goes through FastAPI only.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.problems import Problem, error_response, problem_response
from service.api.responses import WebhookAccepted
from service.ids import Id
from service.ingest.receive import (
    AUTOMATION,
    DEDUPE,
    REPLAY,
    VERIFIERS,
    CachedSource,
    automation_dedupe,
    verify_secret_header,
)

router = APIRouter(tags=["webhooks"])
log = logging.getLogger("taskhub.webhooks")

# Headers worth keeping with the event (for debugging and the handlers); never auth headers.
_KEEP = ("content-type", "user-agent", "x-atlassian-webhook-identifier", "x-atlassian-webhook-retry",
         "x-atlassian-webhook-flow", "x-request-id")


async def _read_body(headers: Mapping[str, str], chunks_in: AsyncIterator[bytes], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise Problem(400, "Content-Length is not a number") from None
        if too_big:
            raise Problem(413, f"body of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in chunks_in:
            size += len(chunk)
            if size > limit:
                raise Problem(413, f"body exceeds the {limit}-byte limit")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Problem(400, "client disconnected before the body was complete") from None
    return b"".join(chunks)


def _json_body(body: bytes) -> Any:
    if not body:
        raise Problem(400, "empty body: expected a JSON webhook payload")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"body is not valid JSON: {exc}") from None


async def _source(state: Any, kind: str, source_id: int) -> CachedSource:
    if kind not in VERIFIERS:
        raise Problem(404, f"unknown webhook kind {kind!r}: expected jira or trello")
    src = await state.source_cache.get(state.db.async_engine, source_id)
    if src is None or src.kind != kind:
        raise Problem(404, f"no {kind} source with id {source_id}")
    return src


async def ingest(state: Any, kind: str, source_id: int, headers: Mapping[str, str],
                 chunks: AsyncIterator[bytes], url: str) -> bytes:
    """Verify, dedupe and store one delivery; returns the 202 body. Raises ``Problem``."""
    src = await _source(state, kind, source_id)
    body = await _read_body(headers, chunks, state.settings.webhook_max_body)
    if not src.enabled:
        raise Problem(403, f"source {source_id} is disabled")
    # ``state.clock`` (epoch seconds) lets tests move time past a rotated secret's overlap.
    reason = VERIFIERS[kind](src, body, headers, url, getattr(state, "clock", time.time)())
    if reason is not None:
        raise Problem(401, reason)
    parsed = _json_body(body)
    if not isinstance(parsed, dict):
        raise Problem(400, "body must be a JSON object")
    key = DEDUPE[kind](parsed, body, headers)
    kept = {k: v for k in _KEEP if (v := headers.get(k)) is not None}
    event_id, duplicate = await state.inbox_writer.insert(src, key, body, kept, REPLAY[kind](parsed, headers))
    return orjson.dumps({"id": event_id, "duplicate": duplicate})


async def ingest_automation(state: Any, kind: str, source_id: int, headers: Mapping[str, str],
                            chunks: AsyncIterator[bytes]) -> bytes:
    """Authenticate by ``X-Taskhub-Secret``, normalize and store one automation request; the
    202 body. Raises ``Problem``: 404 (no such door or source), 401, 400 (not JSON), 422
    (not a body the door knows, naming what is missing)."""
    if kind not in AUTOMATION:
        raise Problem(404, f"no automation webhook for {kind!r}: only jira has one (Trello signs its webhooks)")
    src = await _source(state, kind, source_id)
    body = await _read_body(headers, chunks, state.settings.webhook_max_body)
    if not src.enabled:
        raise Problem(403, f"source {source_id} is disabled")
    reason = verify_secret_header(src, headers, getattr(state, "clock", time.time)())
    if reason is not None:
        raise Problem(401, reason)
    try:
        payload, fmt = AUTOMATION[kind](_json_body(body))
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    kept = {k: v for k in _KEEP if (v := headers.get(k)) is not None} | {"x-taskhub-automation-format": fmt}
    event_id, duplicate = await state.inbox_writer.insert(src, automation_dedupe(body), orjson.dumps(payload),
                                                          kept, None)
    return orjson.dumps({"id": event_id, "duplicate": duplicate})


@router.post("/webhooks/{kind}/{source_id}/automation", status_code=202, response_model=None,
             responses={202: {"model": WebhookAccepted, "description": "Stored (or a duplicate of a stored one)."}})
async def receive_automation(kind: str, source_id: Id, request: Request) -> Response:
    """A Jira Automation "Send web request" (body: Issue data, Automation or Jira format), authenticated
    by the source's automation secret in ``X-Taskhub-Secret``; mapped like an issue webhook.

    202 ``{"id": <inbox event id>, "duplicate": <bool>}``; a byte-identical body is a duplicate.
    """
    body = await ingest_automation(request.app.state, kind, source_id, request.headers, request.stream())
    return Response(body, status_code=202, media_type="application/json")


@router.head("/webhooks/{kind}/{source_id}", include_in_schema=False)
async def webhook_handshake(kind: str, source_id: Id, request: Request) -> Response:
    """Trello sends HEAD to the callback URL when a webhook is created; anything but 200 fails it."""
    await _source(request.app.state, kind, source_id)
    return Response(status_code=200)


@router.post("/webhooks/{kind}/{source_id}", status_code=202, response_model=None,
             responses={202: {"model": WebhookAccepted, "description": "Stored (or a duplicate of a stored one)."}})
async def receive_webhook(kind: str, source_id: Id, request: Request) -> Response:
    """Verify, dedupe and store one delivery; the worker applies it later.

    202 ``{"id": <inbox event id>, "duplicate": <bool>}`` once the event is committed.
    """
    body = await ingest(request.app.state, kind, source_id, request.headers, request.stream(), str(request.url))
    return Response(body, status_code=202, media_type="application/json")


# ASCII digits and the whole path (fullmatch): ``\d`` takes any Unicode digit ("١", "１") and
# ``$`` matches before a trailing newline, so "/webhooks/jira/1\n" was source 1. The routes
# behind it (POST, HEAD) take the same ids: ``service.ids.Id`` is ASCII digits too.
_PATH = re.compile(r"/webhooks/([a-z]+)/([0-9]{1,18})")


class WebhookFastPath:
    """Answers ``POST /webhooks/{kind}/{id}`` directly; everything else goes to the app."""

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        m = _PATH.fullmatch(scope["path"])
        if m is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rid = scope.setdefault("state", {}).get("request_id")

        async def chunks() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        try:
            body = await ingest(self.fastapi_app.state, m.group(1), int(m.group(2)), headers, chunks(),
                                _url(scope, headers))
            response: Response = Response(body, status_code=202, media_type="application/json")
        except Problem as exc:
            response = problem_response(exc.status, exc.detail, rid, title=exc.title, headers=exc.headers)
        except Exception as exc:  # noqa: BLE001 - never a bare 500 page: 503 in an outage, else 500
            response = error_response(self.fastapi_app.state, exc, rid)
        await response(scope, receive, send)


def _url(scope: Scope, headers: Headers) -> str:
    host = headers.get("host") or "{}:{}".format(*scope.get("server") or ("localhost", 80))
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{scope.get('scheme', 'http')}://{host}{scope['path']}" + (f"?{query}" if query else "")
