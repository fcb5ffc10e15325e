"""``create_app(state)``: the simulated Jira as a FastAPI app.

A gate in front of the REST routes does what Jira's edge does: authentication
(Cloud: Basic email + API token; Data Center: Bearer personal access token), injected
faults and 429 storms, the per-second burst limit, optional latency, and it counts
every request. ``/_sandbox/*`` (the control API) bypasses the gate.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.jira import api, api_history, api_search, control
from sandbox.jira.limits import FaultRule, rate_limit_headers
from sandbox.jira.respond import JiraHTTPError, jira_error
from sandbox.jira.state import JiraState

__all__ = ["create_app", "route_shape"]

CallNext = Callable[[Request], Awaitable[Response]]  # an HTTP middleware's next step

_SHAPES = [
    (re.compile(r"/issue/[^/]+"), "/issue/{issueIdOrKey}"),
    (re.compile(r"/project/(?!search$|search/)[^/]+"), "/project/{projectIdOrKey}"),
    (re.compile(r"/webhook/\d+"), "/webhook/{id}"),
    (re.compile(r"/version/\d+"), "/version/{id}"),
]


def route_shape(path: str) -> str:
    """``/rest/api/3/issue/PROJ-1/worklog`` -> ``/rest/api/3/issue/{issueIdOrKey}/worklog``."""
    for pattern, repl in _SHAPES:
        path = pattern.sub(repl, path)
    return path


def _unauthorized(state: JiraState) -> Response:
    if state.config.is_cloud:
        # What Jira Cloud sends for a wrong email/API token (observed bodies, text/plain).
        return PlainTextResponse(
            "Client must be authenticated to access this resource.",
            status_code=401,
            headers={
                "WWW-Authenticate": 'Basic realm="protected-area"',
                "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
            },
        )
    return jira_error(
        401,
        "You are not authenticated. Authentication required to perform this operation.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _authorized(state: JiraState, header: str | None) -> bool:
    cfg = state.config
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if cfg.is_cloud:
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        email, _, token = decoded.partition(":")
        return secrets.compare_digest(email, cfg.email) and secrets.compare_digest(
            token, cfg.api_token
        )
    return scheme.lower() == "bearer" and secrets.compare_digest(value.strip(), cfg.pat)


def _fault_response(rule: FaultRule, limit: int) -> Response:
    if rule.status == 429:
        wait = rule.retry_after if rule.retry_after is not None else 1.0
        return jira_error(429, "Rate limit exceeded.", headers=rate_limit_headers(wait, limit))
    headers = {"Retry-After": str(int(rule.retry_after))} if rule.retry_after is not None else None
    if rule.status in (502, 504):
        # Gateway errors come from the proxy in front of Jira: HTML, not JSON.
        return Response(
            f"<html><body><h1>{rule.status} Gateway error</h1></body></html>",
            status_code=rule.status,
            media_type="text/html",
            headers=headers,
        )
    if rule.status >= 500:
        return jira_error(rule.status, "Internal server error", headers=headers)
    return jira_error(rule.status, f"Injected fault {rule.status}", headers=headers)


def create_app(state: JiraState) -> FastAPI:
    """The sandbox app over ``state`` (share ``state`` with tests to drive and inspect it)."""
    app = FastAPI(title="Jira sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.jira = state

    @app.exception_handler(JiraHTTPError)
    async def _jira_errors(request: Request, exc: JiraHTTPError) -> Response:
        return jira_error(exc.status_code, *exc.messages, errors=exc.errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_errors(request: Request, exc: StarletteHTTPException) -> Response:
        return jira_error(exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def gate(request: Request, call_next: CallNext) -> Response:
        path = request.url.path
        if path.startswith("/_sandbox") or path == "/":  # control API, start-up probe
            return await call_next(request)
        if not state.config.base_url:
            state.seen_base_url = str(request.base_url).rstrip("/")
        response = await _gate(request, path, call_next)
        state.stats.record(request.method, path, route_shape(path), response.status_code)
        return response

    async def _gate(request: Request, path: str, call_next: CallNext) -> Response:
        if state.faults.latency_ms:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        open_path = path.endswith("/serverInfo")  # anonymous access and never rate limited
        if not open_path and not _authorized(state, request.headers.get("authorization")):
            return _unauthorized(state)
        rule = state.faults.next_fault(request.method, path)
        if rule is not None:
            return _fault_response(rule, state.config.rate_limit_burst)
        bucket = state.bucket
        if bucket is not None and not open_path:
            wait = bucket.take()
            if wait > 0:
                return jira_error(
                    429, "Rate limit exceeded.", headers=rate_limit_headers(wait, bucket.burst)
                )
        return await call_next(request)

    app.include_router(api_search.router)
    app.include_router(api.router)
    app.include_router(api_history.router)
    app.include_router(control.router)
    return app
