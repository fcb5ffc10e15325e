"""Request dependencies: the database, the session, the caller's organization and scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from service.api.problems import Problem
from service.db import Database
from service.security.auth import TokenInfo, lookup_token, scope_allows
from service.settings import Settings

__all__ = ["DbDep", "SessionDep", "SettingsDep", "Caller", "ReadCaller", "WriteCaller", "AdminCaller"]


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.session() as s:
        yield s


DbDep = Annotated[Database, Depends(get_db)]
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="taskhub"'}


def _caller(request: Request, db: DbDep) -> TokenInfo:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Problem(401, "missing bearer token: send 'Authorization: Bearer <token>'", headers=_CHALLENGE)
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "malformed Authorization header: expected 'Bearer <token>'", headers=_CHALLENGE)
    with db.session() as s:
        info = lookup_token(s, token.strip())
    if info is None:
        raise Problem(401, "invalid or revoked API token", headers=_CHALLENGE)
    request.state.caller = info
    return info


def _need(scope: str) -> Callable[[TokenInfo], TokenInfo]:
    def dep(info: Annotated[TokenInfo, Depends(_caller)]) -> TokenInfo:
        if not scope_allows(info.scope, scope):
            raise Problem(403, f"this token has scope '{info.scope}'; this operation needs '{scope}'")
        return info

    return dep


Caller = Annotated[TokenInfo, Depends(_caller)]
ReadCaller = Annotated[TokenInfo, Depends(_need("read"))]
WriteCaller = Annotated[TokenInfo, Depends(_need("write"))]
AdminCaller = Annotated[TokenInfo, Depends(_need("admin"))]
