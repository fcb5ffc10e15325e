"""Organizations, API tokens and dashboard sessions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from service.tables.base import ID, MONEY, _fk, utcnow


class Organization(SQLModel, table=True):
    __tablename__ = "organization"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    timezone: str = Field(default="UTC", max_length=64)
    currency: str = Field(default="USD", max_length=3)
    default_hourly_rate: Decimal | None = Field(default=None, sa_type=MONEY)
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    name: str = Field(default="", max_length=200)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    scope: str = Field(max_length=10)  # read | write | admin
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # NULL: never (migration 0013)


class DashboardSession(SQLModel, table=True):
    """A dashboard sign-in (migration 0013). The cookie is sealed and carries a random secret;
    the row is keyed by its SHA-256, so signing out deletes the row and the cookie, even if
    kept, matches nothing. Every page checks it with one primary-key lookup joined to its
    token (revoked or expired tokens end their sessions too)."""

    __tablename__ = "dashboard_session"
    id: str = Field(primary_key=True, max_length=64)
    token_id: int = _fk("api_token.id")
    org_id: int = _fk("organization.id", index=False)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)
