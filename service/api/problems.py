"""problem+json (RFC 9457) errors with the request id, for every failure a client can cause."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import errors
from service.db import retryable
from service.outage import RETRY_AFTER_SECONDS, OutageMonitor, describe, unavailable_reason

__all__ = [
    "PROBLEM_RESPONSES",
    "Problem",
    "ProblemBody",
    "ProblemResponse",
    "RequestIdMiddleware",
    "UnexpectedErrorMiddleware",
    "domain_response",
    "error_response",
    "install_problem_handlers",
    "outage_monitor",
    "problem_response",
]

log = logging.getLogger("taskhub.api")

_TITLES = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Content",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


class ProblemField(BaseModel):
    field: str = Field(description="Where: e.g. query.as_of, credentials.type.")
    message: str
    type: str | None = None


class ProblemBody(BaseModel):
    """The RFC 9457 body of every error answer (``application/problem+json``)."""

    type: str = Field(default="about:blank")
    title: str
    status: int
    detail: str = Field(description="What was wrong and what to do, for a person.")
    request_id: str | None = Field(default=None, description="Quote it when reporting a problem.")
    errors: list[ProblemField] | None = Field(default=None, description="Per field, on 400/422 for invalid input.")


_PROBLEM_WHEN = {
    400: "Malformed input (invalid JSON, a cursor this API did not issue, a bad Content-Length).",
    401: "Missing or invalid bearer token, or a webhook signature that does not verify.",
    403: "The token's scope does not allow this operation, or the source is disabled.",
    404: "No such route, or no such object in the caller's organization (ids out of range included).",
    405: "The path exists, but not with this method; ``Allow`` lists every method it has.",
    409: "The change conflicts with the current state.",
    413: "The body exceeds the size limit.",
    422: "A parameter or body field is invalid; ``errors`` names each field.",
    431: "Too many request headers, or one too large.",
    503: "The store is unavailable or busy; retry after ``Retry-After`` seconds.",
}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ProblemBody, "description": when, "content": {"application/problem+json": {}}}
    for status, when in _PROBLEM_WHEN.items()
}
"""Every error answer an operation can give, documented once and attached to every route
(``FastAPI(responses=...)`` in ``service.app``). Replaces FastAPI's default 422 schema, which
is not what ``install_problem_handlers`` answers."""


class Problem(Exception):
    """An expected error with its own status, raised by the API's own code (routes, dependencies,
    the webhook door) and rendered as problem+json. The domain raises ``service.errors`` instead
    (answered by ``domain_response``)."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_
        self.headers = headers
        self.extra = extra


# The status of each domain error class (``service.errors``), found along the class's MRO.
_DOMAIN_STATUS: dict[type[errors.DomainError], int] = {
    errors.NotFound: 404, errors.Conflict: 409, errors.Invalid: 422, errors.DomainError: 400,
}


class ProblemResponse(Response):
    media_type = "application/problem+json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem_response(status: int, detail: str, request_id: str | None = None, *, title: str | None = None,
                     headers: dict[str, str] | None = None, **extra: Any) -> ProblemResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title or _TITLES.get(status, "Error"),
                            "status": status, "detail": detail}
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


def domain_response(exc: errors.DomainError, request_id: str | None) -> ProblemResponse:
    """A domain error's answer: its class's status, its message as the detail and, when an
    ``Invalid`` names a field, that field under ``errors``."""
    status = next(_DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in _DOMAIN_STATUS)
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.Invalid) and exc.field is not None:
        entry = {"field": exc.field, "message": exc.reason}
        if exc.rule is not None:
            entry["type"] = exc.rule
        extra["errors"] = [entry]
    return problem_response(status, exc.message, request_id, **extra)


def _rid(request: Request) -> str | None:
    return request.scope.get("state", {}).get("request_id")


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)] or [str(p) for p in loc]
    return ".".join(parts)


def outage_monitor(state: Any) -> OutageMonitor:
    """The app's outage state (``create_app`` makes it; a bare app in a test gets one here)."""
    monitor = getattr(state, "db_outage", None)
    if monitor is None:
        monitor = state.db_outage = OutageMonitor()
    return monitor


def error_response(state: Any, exc: Exception, request_id: str | None) -> ProblemResponse:
    """The answer to an exception no handler expected: 503 with Retry-After when the store is
    down (counted, logged once per outage by the monitor), else 500 with its traceback logged
    here, the only place: nothing re-raises it to the server afterwards."""
    reason = unavailable_reason(exc)
    if reason is not None:
        outage_monitor(state).failed(exc)
        # Not "nothing was changed": a connection lost during COMMIT leaves that unknown. Retrying is
        # safe for what matters most, deliveries (deduplicated by identifier and body).
        return problem_response(503, f"{describe(reason)}; retry this request after "
                                f"{RETRY_AFTER_SECONDS} s", request_id,
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    log.error("unhandled error", exc_info=exc, extra={"request_id": request_id})
    return problem_response(500, "internal error; quote the request id when reporting it", request_id)


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (Starlette names only the first route's)."""
    methods: set[str] = set()
    path = request.scope["path"]
    for route in iter_route_contexts(request.app.router.routes):  # flattens included routers
        if route.path and route.methods and compile_path(route.path)[0].match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def _document_problems(app: FastAPI) -> None:
    """Error answers are ``application/problem+json``; FastAPI files every ``responses=`` model
    under the route's own media type (JSON), so move the problem schemas once the document is
    built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for status, response in operation.get("responses", {}).items():
                    if status.isdigit() and int(status) in _PROBLEM_WHEN:
                        content = response.get("content", {})
                        content.pop("application/json", None)
                        content["application/problem+json"] = {
                            "schema": {"$ref": "#/components/schemas/ProblemBody"}}
        for unused in ("HTTPValidationError", "ValidationError"):
            schema.get("components", {}).get("schemas", {}).pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(app: FastAPI) -> None:
    _document_problems(app)

    outage_monitor(app.state)
    # Unexpected exceptions are answered by this middleware (just outside the routes) rather than
    # by an ``exception_handler(Exception)``: Starlette re-raises what reaches that handler after
    # answering, and the server logged every 500's traceback a second time.
    app.add_middleware(UnexpectedErrorMiddleware)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc.status, exc.detail, _rid(request), title=exc.title, headers=exc.headers,
                                **exc.extra)

    @app.exception_handler(errors.DomainError)
    async def _domain(request: Request, exc: errors.DomainError) -> Response:
        return domain_response(exc, _rid(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route for {request.method} {request.url.path}"
        elif exc.status_code == 405:
            allow = _allowed_methods(request)
            headers = {**(headers or {}), "Allow": allow}
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allow}"
        return problem_response(exc.status_code, detail, _rid(request), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for e in exc.errors():
            errors.append({"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")})
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            # A path whose ids cannot exist (not a number, or outside 1..2^63-1: service.ids)
            # names no resource: 404, as an id that could exist but does not (whatever the body).
            return problem_response(404, f"no such resource: {summary}", _rid(request), errors=errors)
        status = 400 if any(e["type"] == "json_invalid" for e in errors) else 422
        return problem_response(status, f"invalid request: {summary}", _rid(request), errors=errors)

    # A handler for this class, not the catch-all's: Starlette re-raises what reaches the
    # catch-all after answering, and the server would log every deadlock as a crash.
    @app.exception_handler(sa.exc.DBAPIError)
    async def _store(request: Request, exc: sa.exc.DBAPIError) -> Response:
        if unavailable_reason(exc) is not None:
            return error_response(request.app.state, exc, _rid(request))
        if retryable(exc):  # a PostgreSQL deadlock with a concurrent writer: rolled back, nothing lost
            log.warning("write conflict, rolled back", extra={"request_id": _rid(request)})
            return problem_response(503, "the store was busy with a concurrent write to the same rows and "
                                    "rolled this request back; nothing was changed, retry it", _rid(request),
                                    headers={"Retry-After": "1"})
        raise exc  # to UnexpectedErrorMiddleware: a 500, logged once


class UnexpectedErrorMiddleware:
    """Pure ASGI: turns an exception from a route into ``error_response`` (503 or 500) and ends
    it there. An exception after the whole response was sent (a session's rollback failing in a
    dependency's teardown when the store has just gone away) is recorded or logged here and ends
    here too. One raised while a response is half sent cannot be answered: it goes on to the
    server, which logs it and drops the connection (once: nothing was logged here)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def send_tracking(message: Message) -> None:
            nonlocal started, finished
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as exc:
            rid = scope.get("state", {}).get("request_id")
            if finished:  # the client has its answer; only the log learns of this
                if unavailable_reason(exc) is not None:
                    outage_monitor(scope["app"].state).failed(exc, request=False)
                else:
                    log.error("error after the response was sent", exc_info=exc, extra={"request_id": rid})
                return
            if started:
                raise
            response = error_response(scope["app"].state, exc, rid)
            await response(scope, receive, send)


class RequestIdMiddleware:
    """Pure ASGI (cheap on the hot path): takes or makes X-Request-ID and echoes it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = None
        for k, v in scope["headers"]:
            if k == b"x-request-id":
                rid = v.decode("latin-1")[:100]
                break
        rid = rid or uuid.uuid4().hex
        rid_bytes = rid.encode("latin-1")
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                headers.append((b"x-request-id", rid_bytes))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)
