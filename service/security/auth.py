"""Organizations and API tokens.

Tokens are random (``th_`` + 40 url-safe chars), shown once, stored as SHA-256
hashes, and scoped ``read`` < ``write`` < ``admin``. A token may expire (``expires_at``)
and can be revoked; both take effect on the next request, since every request looks the
token up in the store (there is no in-process token cache), and revoking also deletes the
token's dashboard sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from service.tables import ApiToken, DashboardSession, Organization, stored_id, utcnow

__all__ = [
    "Scope",
    "SCOPES",
    "TokenInfo",
    "create_org",
    "create_token",
    "hash_token",
    "list_tokens",
    "lookup_token",
    "revoke_token",
    "scope_allows",
]

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
TOKEN_PREFIX = "th_"  # noqa: S105 - a public prefix, not a secret


@dataclass(frozen=True)
class TokenInfo:
    token_id: int
    org_id: int
    scope: Scope


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _stored_scope(value: str) -> Scope:
    """A token row's scope: text in the table, only ever one of ``SCOPES`` (``create_token``)."""
    if value not in SCOPES:
        raise ValueError(f"API token scope {value!r} is not one of {', '.join(SCOPES)}")
    return value


def scope_allows(have: str, need: str) -> bool:
    return SCOPES.index(have) >= SCOPES.index(need)


def create_org(session: Session, name: str, *, timezone: str = "UTC", currency: str = "USD") -> Organization:
    from zoneinfo import ZoneInfo

    ZoneInfo(timezone)  # raises on an unknown zone
    org = Organization(name=name, timezone=timezone, currency=currency.upper())
    session.add(org)
    session.commit()
    session.refresh(org)
    return org


MAX_EXPIRY_DAYS = 3650


def create_token(session: Session, org_id: int, scope: Scope, name: str = "", *,
                 expires_in_days: int | None = None) -> tuple[str, ApiToken]:
    """Create a token; returns the plain token (shown once) and its row.

    ``expires_in_days`` None: the token never expires (revoke it to end it)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"expiry must be between 1 and {MAX_EXPIRY_DAYS} days, not {expires_in_days}")
    if session.get(Organization, org_id) is None:
        raise LookupError(f"organization {org_id} does not exist")
    token = TOKEN_PREFIX + secrets.token_urlsafe(30)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    row = ApiToken(org_id=org_id, name=name, prefix=token[:10], token_hash=hash_token(token), scope=scope,
                   expires_at=expires)
    session.add(row)
    session.commit()
    session.refresh(row)
    return token, row


def lookup_token(session: Session, token: str) -> TokenInfo | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    now = utcnow()
    row = session.exec(
        select(ApiToken).where(
            ApiToken.token_hash == hash_token(token),
            col(ApiToken.revoked_at).is_(None),
            sa.or_(col(ApiToken.expires_at).is_(None), col(ApiToken.expires_at) > now),
        )
    ).first()
    if row is None:
        return None
    # Touch last_used_at at most once a minute to keep reads cheap.
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        session.execute(sa.update(ApiToken).where(col(ApiToken.id) == row.id).values(last_used_at=now))
        session.commit()
    return TokenInfo(token_id=stored_id(row), org_id=row.org_id, scope=_stored_scope(row.scope))


def list_tokens(session: Session, org_id: int) -> list[ApiToken]:
    """The organization's tokens, oldest first (revoked and expired ones included)."""
    return list(session.exec(select(ApiToken).where(ApiToken.org_id == org_id).order_by(col(ApiToken.id))))


def revoke_token(session: Session, token_id: int, *, org_id: int | None) -> ApiToken:
    """Revoke a token (idempotent: the first revocation time stays) and end its dashboard
    sessions. ``org_id`` None: any organization (the operator's CLI). Raises ``LookupError``
    for an unknown id or another organization's token (the same answer, so ids do not leak)."""
    row = session.get(ApiToken, token_id)
    if row is None or (org_id is not None and row.org_id != org_id):
        raise LookupError(f"no API token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    session.execute(sa.delete(DashboardSession).where(col(DashboardSession.token_id) == token_id))
    session.commit()
    session.refresh(row)
    return row
