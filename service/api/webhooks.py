"""``/webhooks/{kind}/{source_id}``: where Jira and Trello deliver events.

``async def`` on purpose: the request path is verify → one INSERT through the
async driver → 202, with no thread-pool hop and no ORM unit of work.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from service.api.problems import Problem
from service.ingest import DEDUPE, VERIFIERS, insert_event

router = APIRouter(tags=["webhooks"])

# Headers worth keeping with the event (for debugging and the handlers); never auth headers.
_KEEP = ("content-type", "user-agent", "x-atlassian-webhook-identifier", "x-atlassian-webhook-retry",
         "x-atlassian-webhook-flow", "x-request-id")


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise Problem(413, f"body of {declared} bytes exceeds the {limit}-byte limit")
        except ValueError:
            raise Problem(400, "Content-Length is not a number") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"body exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def _source(request: Request, kind: str, source_id: int):  # type: ignore[no-untyped-def]
    if kind not in VERIFIERS:
        raise Problem(404, f"unknown webhook kind {kind!r}: expected jira or trello")
    src = await request.app.state.source_cache.get(request.app.state.db.async_engine, source_id)
    if src is None or src.kind != kind:
        raise Problem(404, f"no {kind} source with id {source_id}")
    return src


@router.head("/webhooks/{kind}/{source_id}", include_in_schema=False)
async def webhook_handshake(kind: str, source_id: int, request: Request) -> Response:
    """Trello sends HEAD to the callback URL when a webhook is created; anything but 200 fails it."""
    await _source(request, kind, source_id)
    return Response(status_code=200)


@router.post("/webhooks/{kind}/{source_id}", status_code=202)
async def receive_webhook(kind: str, source_id: int, request: Request) -> Response:
    """Verify, dedupe and store one delivery; the worker applies it later."""
    src = await _source(request, kind, source_id)
    body = await _read_body(request, request.app.state.settings.webhook_max_body)
    if not src.enabled:
        raise Problem(403, f"source {source_id} is disabled")
    reason = VERIFIERS[kind](src, body, request.headers, str(request.url))
    if reason is not None:
        raise Problem(401, reason)
    if not body:
        raise Problem(400, "empty body: expected a JSON webhook payload")
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, f"body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise Problem(400, "body must be a JSON object")
    key = DEDUPE[kind](parsed, body, request.headers)
    headers = {k: v for k in _KEEP if (v := request.headers.get(k)) is not None}
    event_id, duplicate = await insert_event(request.app.state.db.async_engine, src, key, body, headers)
    return Response(orjson.dumps({"id": event_id, "duplicate": duplicate}), status_code=202,
                    media_type="application/json")
