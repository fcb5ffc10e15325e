"""A tiny route table for the ``/1`` API, independent of FastAPI.

The same table serves real HTTP requests (via ``api.py``) and the sub-requests of
``GET /1/batch``, so a batched ``/cards/{id}`` answers exactly what a direct one does.
Templates are written without the ``/1`` prefix, as Trello's batch URLs are.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.trello.errors import ApiError
from sandbox.trello.ids import ID_RE
from sandbox.trello.state import TrelloState

__all__ = ["Ctx", "Router", "ROUTES", "flag", "check_id", "int_param"]


@dataclass
class Ctx:
    """What a handler sees: the state, the caller, and the request parameters."""

    state: TrelloState
    method: str
    token: str
    member_id: str
    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    api_key: str = ""  # the caller's application: a webhook it creates is signed with its secret


Handler = Callable[..., Any]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str) -> Callable[[Handler], Handler]:
        regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$"

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, re.compile(regex), handler))
            return handler

        return register

    def get(self, template: str) -> Callable[[Handler], Handler]:
        return self.add("GET", template)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route for ``path`` (no ``/1`` prefix, trailing slash ignored), or None."""
        clean = path.rstrip("/") or "/"
        for route in self.routes:
            if route.method != method:
                continue
            m = route.pattern.match(clean)
            if m:
                return route, m.groupdict()
        return None

    def allowed_methods(self, path: str) -> list[str]:
        clean = path.rstrip("/") or "/"
        return sorted({r.method for r in self.routes if r.pattern.match(clean)})


ROUTES = Router()


def flag(params: dict[str, str], name: str, default: bool = False) -> bool:
    """A Trello boolean query parameter (``true``/``false``)."""
    value = params.get(name)
    if value is None:
        return default
    return value.lower() in ("true", "1", "all")


def check_id(value: str, what: str = "id") -> str:
    """Trello answers 400 ``invalid id`` for ids that are not 24 hex characters."""
    if not ID_RE.match(value):
        raise ApiError(400, f"invalid {what}")
    return value


def int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"invalid value for {name}") from None
    if not low <= value <= high:
        raise ApiError(400, f"invalid value for {name}")
    return value
