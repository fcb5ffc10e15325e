"""The dashboard's sign-in session: an API token exchanged for a server-side session.

Signing in stores a ``dashboard_session`` row keyed by the SHA-256 of a random secret and
sends that secret in a cookie sealed with the service's Fernet vault (AES-128-CBC +
HMAC-SHA256, ``service/security/crypto.py``) together with its expiry. The seal means a cookie can be
neither read nor forged without ``TASKHUB_SECRET_KEY``, and an expired one is refused without
touching the store; the row is what makes signing out real: ``/logout`` deletes it, so the
cookie, even if kept (a copied header, a shared machine), opens nothing afterwards.

Why a table rather than a per-token "not before" stamp: a session of its own is what sign-out
must end (one browser, not every browser of that token), and a primary-key lookup joined to
the token row is the same single indexed query each page already paid to re-check the token.
That join also ends the session the moment its token is revoked or expires. The plain token
is never stored, and a read of the table gives no usable session (only hashes of the secrets).

Cookie attributes: HttpOnly, SameSite=Lax, Path=/, Secure on https.
https://developer.mozilla.org/docs/Web/HTTP/Headers/Set-Cookie

Forms that change data (the People page's Accept / Reject) carry ``csrf_token``: an HMAC of the
session's secret, which only this server and the browser's sealed HttpOnly cookie hold, so a
page of another site can neither read nor compute it (SameSite=Lax and the Origin check are the
other two locks). No state of its own: it lives and ends with the session.
https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from service.dashboard.data import table
from service.db import Database
from service.security.crypto import ConfigError, Vault, get_vault
from service.settings import Settings
from service.tables import ApiToken, DashboardSession

__all__ = [
    "COOKIE_NAME",
    "SESSION_SECONDS",
    "DashSession",
    "seal",
    "unseal",
    "open_session",
    "end_session",
    "current_session",
    "set_session_cookie",
    "clear_session_cookie",
    "csrf_token",
    "csrf_ok",
]

COOKIE_NAME = "taskhub_session"
SESSION_SECONDS = 8 * 3600
_VERSION = 2  # 1 was the stateless {token_id, org_id, exp} cookie: refused, sign in again
A = table(ApiToken)
DS = table(DashboardSession)


@dataclass(frozen=True)
class DashSession:
    token_id: int
    org_id: int
    scope: str
    expires_at: float


def _session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def seal(vault: Vault, secret: str, *, now: float | None = None, ttl: int = SESSION_SECONDS,
         exp: float | None = None) -> str:
    """The cookie value for a session secret, expiring at ``exp`` (default ``now + ttl``)."""
    exp = int(exp if exp is not None else (now if now is not None else time.time()) + ttl)
    return vault.encrypt(json.dumps({"v": _VERSION, "sid": secret, "exp": exp}, separators=(",", ":")))


def unseal(vault: Vault, value: str, *, now: float | None = None) -> tuple[str, float] | None:
    """``(secret, exp)`` from a cookie value, or ``None`` when it is forged, tampered with,
    from another key, malformed, of the old format or expired."""
    if not value or len(value) > 1000:
        return None
    try:
        data = json.loads(vault.decrypt_str(value))
        if data.get("v") != _VERSION:
            return None
        sid, exp = data["sid"], float(data["exp"])
    except (ConfigError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(sid, str) or exp <= (now if now is not None else time.time()):
        return None
    return sid, exp


def open_session(db: Database, token_id: int, org_id: int, *, now: float | None = None,
                 ttl: int = SESSION_SECONDS) -> tuple[str, float]:
    """Store a new session for a checked token; returns its secret (for the cookie) and expiry.

    Sessions past their expiry are deleted here too (an index range), so the table holds
    about one row per signed-in browser without a sweeper."""
    start = now if now is not None else time.time()
    exp = int(start + ttl)
    secret = secrets.token_urlsafe(32)
    at = datetime.fromtimestamp(start, UTC)
    with db.write() as conn:
        conn.execute(sa.delete(DS).where(DS.c.expires_at < at))
        conn.execute(sa.insert(DS).values(id=_session_id(secret), token_id=token_id, org_id=org_id,
                                          created_at=at, expires_at=datetime.fromtimestamp(exp, UTC)))
    return secret, exp


def end_session(request: Request) -> None:
    """Sign-out: delete this request's session row (nothing to do without a valid cookie)."""
    parsed = _cookie(request)
    if parsed is None:
        return
    db: Database = request.app.state.db
    with db.write() as conn:
        conn.execute(sa.delete(DS).where(DS.c.id == _session_id(parsed[0])))


def _cookie(request: Request) -> tuple[str, float] | None:
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    settings: Settings = request.app.state.settings
    return unseal(get_vault(settings), raw)


def current_session(request: Request) -> DashSession | None:
    """The signed-in session of this request: its row, still unexpired, of a token that is
    neither revoked nor expired — one primary-key lookup joined to the token."""
    parsed = _cookie(request)
    if parsed is None:
        return None
    secret, exp = parsed
    now = datetime.now(UTC)
    db: Database = request.app.state.db
    with db.read() as conn:
        row = conn.execute(
            sa.select(DS.c.token_id, DS.c.org_id, A.c.scope)
            .join(A, A.c.id == DS.c.token_id)
            .where(
                DS.c.id == _session_id(secret),
                DS.c.expires_at > now,
                A.c.revoked_at.is_(None),
                sa.or_(A.c.expires_at.is_(None), A.c.expires_at > now),
            )
        ).first()
    if row is None:
        return None
    return DashSession(token_id=row.token_id, org_id=row.org_id, scope=row.scope, expires_at=exp)


def csrf_token(request: Request) -> str | None:
    """The token this session's forms carry (``None`` without a valid cookie)."""
    parsed = _cookie(request)
    if parsed is None:
        return None
    return hmac.new(parsed[0].encode(), b"taskhub dashboard form", hashlib.sha256).hexdigest()


def csrf_ok(request: Request, sent: str | None) -> bool:
    """Whether a posted form carries this session's token (compared in constant time)."""
    want = csrf_token(request)
    return want is not None and sent is not None and hmac.compare_digest(want, sent)


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    base = settings.public_base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def set_session_cookie(response: Response, request: Request, secret: str, exp: float) -> None:
    """Send the sealed cookie of a session made by ``open_session``."""
    value = seal(get_vault(request.app.state.settings), secret, exp=exp)
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
