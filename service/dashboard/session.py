"""The dashboard's sign-in session: an API token exchanged for a signed cookie.

The cookie holds ``{token_id, org_id, exp}`` sealed with the service's Fernet
vault (AES-128-CBC + HMAC-SHA256, ``service/crypto.py``), so it can be neither
read nor forged without ``TASKHUB_SECRET_KEY``; ``exp`` bounds its life and every
request re-checks that the token is still there and not revoked, so revoking a
token signs its browser sessions out too. The plain token is never stored.

Cookie attributes: HttpOnly, SameSite=Lax, Path=/, Secure on https.
https://developer.mozilla.org/docs/Web/HTTP/Headers/Set-Cookie
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from service.crypto import ConfigError, Vault, get_vault
from service.dashboard.data import table
from service.db import Database
from service.settings import Settings
from service.tables import ApiToken

__all__ = [
    "COOKIE_NAME",
    "SESSION_SECONDS",
    "DashSession",
    "seal",
    "unseal",
    "current_session",
    "set_session_cookie",
    "clear_session_cookie",
]

COOKIE_NAME = "taskhub_session"
SESSION_SECONDS = 8 * 3600
_VERSION = 1


@dataclass(frozen=True)
class DashSession:
    token_id: int
    org_id: int
    scope: str
    expires_at: float


def seal(
    vault: Vault,
    token_id: int,
    org_id: int,
    *,
    now: float | None = None,
    ttl: int = SESSION_SECONDS,
) -> str:
    """The cookie value for a signed-in token."""
    exp = int((now if now is not None else time.time()) + ttl)
    return vault.encrypt(
        json.dumps(
            {"v": _VERSION, "tid": token_id, "org": org_id, "exp": exp}, separators=(",", ":")
        )
    )


def unseal(vault: Vault, value: str, *, now: float | None = None) -> tuple[int, int, float] | None:
    """``(token_id, org_id, exp)`` from a cookie value, or ``None`` when it is forged,
    tampered with, from another key, malformed or expired."""
    if not value or len(value) > 1000:
        return None
    try:
        data = json.loads(vault.decrypt_str(value))
        tid, org, exp = int(data["tid"]), int(data["org"]), float(data["exp"])
        if data.get("v") != _VERSION:
            return None
    except (ConfigError, ValueError, KeyError, TypeError):
        return None
    if exp <= (now if now is not None else time.time()):
        return None
    return tid, org, exp


def current_session(request: Request) -> DashSession | None:
    """The signed-in session of this request, re-checked against the token table."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    settings: Settings = request.app.state.settings
    parsed = unseal(get_vault(settings), raw)
    if parsed is None:
        return None
    tid, org, exp = parsed
    db: Database = request.app.state.db
    A = table(ApiToken)
    with db.read() as conn:
        row = conn.execute(
            sa.select(A.c.org_id, A.c.scope).where(
                A.c.id == tid, A.c.org_id == org, A.c.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        return None
    return DashSession(token_id=tid, org_id=row.org_id, scope=row.scope, expires_at=exp)


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    base = settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def set_session_cookie(response: Response, request: Request, token_id: int, org_id: int) -> None:
    value = seal(get_vault(request.app.state.settings), token_id, org_id)
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=_secure(request)
    )
