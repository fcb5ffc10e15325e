"""Organizations and API tokens.

Tokens are random (``th_`` + 40 url-safe chars), shown once, stored as SHA-256
hashes, and scoped ``read`` < ``write`` < ``admin``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, select

from service.tables import ApiToken, Organization, utcnow

__all__ = [
    "Scope",
    "SCOPES",
    "TokenInfo",
    "create_org",
    "create_token",
    "hash_token",
    "lookup_token",
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


def scope_allows(have: str, need: str) -> bool:
    return SCOPES.index(have) >= SCOPES.index(need)  # type: ignore[arg-type]


def create_org(session: Session, name: str, *, timezone: str = "UTC", currency: str = "USD") -> Organization:
    from zoneinfo import ZoneInfo

    ZoneInfo(timezone)  # raises on an unknown zone
    org = Organization(name=name, timezone=timezone, currency=currency.upper())
    session.add(org)
    session.commit()
    session.refresh(org)
    return org


def create_token(session: Session, org_id: int, scope: Scope, name: str = "") -> tuple[str, ApiToken]:
    """Create a token; returns the plain token (shown once) and its row."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if session.get(Organization, org_id) is None:
        raise LookupError(f"organization {org_id} does not exist")
    token = TOKEN_PREFIX + secrets.token_urlsafe(30)
    row = ApiToken(org_id=org_id, name=name, prefix=token[:10], token_hash=hash_token(token), scope=scope)
    session.add(row)
    session.commit()
    session.refresh(row)
    return token, row


def lookup_token(session: Session, token: str) -> TokenInfo | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
    ).first()
    if row is None:
        return None
    # Touch last_used_at at most once a minute to keep reads cheap.
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
        session.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))  # type: ignore[arg-type]
        session.commit()
    return TokenInfo(token_id=row.id, org_id=row.org_id, scope=row.scope)  # type: ignore[arg-type]
