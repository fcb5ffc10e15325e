"""The ``/1`` HTTP surface: Trello's gatekeeping in front of the route table.

In order, as Trello's edge and API do:
1. a GET that carries a body is refused by CloudFront with a 403 HTML page (CHANGE-1459);
2. key + token, from the query (``key``/``token``) or ``Authorization: OAuth
   oauth_consumer_key="…", oauth_token="…"``; wrong → 401 ``invalid key``/``invalid token``;
3. injected faults (429 storm, 5xx share);
4. the per-token / per-key windows → 429 JSON, **without** ``Retry-After``;
5. the handler; unknown objects → 404 ``The requested resource was not found.``
Every request is counted per route template for ``GET /_sandbox/stats``.
Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

# Importing the handler modules registers their routes on ROUTES.
from sandbox.trello import handlers_read, handlers_write  # noqa: F401
from sandbox.trello.errors import ApiError
from sandbox.trello.limits import pick_fault, rate_limit_body
from sandbox.trello.routes import ROUTES, Ctx
from sandbox.trello.state import TrelloState

__all__ = ["build_api_router", "handle", "credentials"]

JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

_CLOUDFRONT_403 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">\n<HTML><HEAD>'
    "<TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>\n<H1>403 ERROR</H1>\n"
    '<H2>The request could not be satisfied.</H2>\n<HR noshade size="1px">\nBad request.\n'
    "</BODY></HTML>"
)
_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')


def credentials(
    query: Mapping[str, str], headers: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """``(key, token)`` from the query string, else from an ``Authorization: OAuth …`` header."""
    key, token = query.get("key"), query.get("token")
    auth = headers.get("authorization", "")
    if auth.lower().startswith("oauth "):
        params = dict(_OAUTH_PARAM.findall(auth))
        key = key or params.get("oauth_consumer_key")
        token = token or params.get("oauth_token")
    return key, token


def _json(status: int, payload: Any) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type=JSON)


def _text(status: int, text: str) -> Response:
    return Response(text, status_code=status, media_type=TEXT)


def handle(
    state: TrelloState,
    method: str,
    path: str,
    query: dict[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    """Answer one ``/1/...`` request (``path`` includes the ``/1`` prefix)."""
    sub_path = path[2:] if path.startswith("/1/") else path
    found = ROUTES.match(method, sub_path)
    label = f"{method} /1{found[0].template}" if found else f"{method} <unmatched>"
    response = _answer(state, method, sub_path, found, query, headers, body)
    state.stats.record(label, path, response.status_code)
    return response


def _answer(
    state: TrelloState,
    method: str,
    sub_path: str,
    found: Any,
    query: dict[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Response:
    if method == "GET" and (
        body
        or headers.get("content-length", "0") not in ("", "0")
        or "transfer-encoding" in headers
    ):
        return Response(_CLOUDFRONT_403, status_code=403, media_type="text/html")
    key, token = credentials(query, headers)
    if key not in state.apps:
        return _text(401, "invalid key")
    if token is None or token not in state.tokens:
        return _text(401, "invalid token")
    fault = pick_fault(state)
    if fault is not None:
        status, payload = fault
        return _json(status, payload) if isinstance(payload, dict) else _text(status, str(payload))
    if state.config.limits_enabled:
        error = state.rate_limits.check(key, token, state.now(), state.config)
        if error is not None:
            return _json(429, rate_limit_body(error))  # Trello sends no Retry-After header
    if found is None:
        return _text(404, f"Cannot {method} /1{sub_path}")
    route, path_params = found
    params = {k: v for k, v in query.items() if k not in ("key", "token")}
    ctx = Ctx(state, method, token, state.tokens[token], params, body, api_key=key)
    try:
        if method == "GET":
            with state.lock:
                return _json(200, route.handler(ctx, **path_params))
        return _json(200, route.handler(ctx, **path_params))  # write handlers lock for themselves
    except ApiError as exc:
        return _text(exc.status, exc.text)


def build_api_router(state: TrelloState) -> APIRouter:
    router = APIRouter()

    @router.api_route(
        "/1/{path:path}", methods=["GET", "POST", "PUT", "DELETE"], include_in_schema=False
    )
    async def trello_api(request: Request, path: str) -> Response:
        body = await request.body()
        query = dict(request.query_params)
        headers = {k.lower(): v for k, v in request.headers.items()}
        return await run_in_threadpool(
            handle, state, request.method, "/1/" + path, query, headers, body
        )

    return router
