"""Response helpers shared by the sandbox routes: Jira's error body, JSON, render context."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import HTTPException, Request
from fastapi.responses import Response

from sandbox.jira.serialize import Ctx
from sandbox.jira.state import JiraState

__all__ = [
    "JiraHTTPError",
    "jira_json",
    "jira_error",
    "state_of",
    "ctx_for",
    "int_param",
    "ISSUE_NOT_FOUND",
]

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


class JiraHTTPError(HTTPException):
    """Raised by routes; rendered as ``{"errorMessages": [...], "errors": {...}}``."""

    def __init__(self, status: int, *messages: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=list(messages))
        self.messages = list(messages)
        self.errors = errors or {}


def jira_json(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        content=orjson.dumps(obj),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def jira_error(
    status: int,
    *messages: str,
    errors: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Jira's error body: ``{"errorMessages": [...], "errors": {}}``."""
    return jira_json({"errorMessages": list(messages), "errors": errors or {}}, status, headers)


def state_of(request: Request) -> JiraState:
    return request.app.state.jira


def ctx_for(request: Request, v: str) -> Ctx:
    """Render context for REST version ``v`` ("2", "3" or "latest" = 2)."""
    state = state_of(request)
    api = "2" if v == "latest" else v
    if api not in ("2", "3"):
        raise JiraHTTPError(404, "null for uri: " + str(request.url))
    if api == "3" and not state.config.is_cloud:
        # Data Center/Server has no REST v3 (VENDOR_FACTS A1/A11).
        raise JiraHTTPError(404, "null for uri: " + str(request.url))
    return Ctx(state, api, state.base_url)


def int_param(value: Any, name: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise JiraHTTPError(
            400, f"The '{name}' parameter must be a number, got '{value}'."
        ) from None
