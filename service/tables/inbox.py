"""Webhook events received and not yet applied."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.tables.base import ID, _fk, _json, utcnow


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox_event"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "dedupe_key", name="uq_inbox_dedupe"),
        sa.Index("ix_inbox_claim", "status", "next_attempt_at"),
        # Replay guard (migration 0013): a byte-identical body already received for the source
        # is a duplicate whatever its (unsigned) delivery identifier says.
        # Led by the body's own event time so inserts stay at the index's end (service.ingest.receive.REPLAY);
        # partial: only deliveries whose dedupe key is an unsigned header carry a digest.
        sa.Index("uq_inbox_body", "source_id", "body_ts", "body_digest", unique=True,
                 sqlite_where=sa.text("body_digest IS NOT NULL"),
                 postgresql_where=sa.text("body_digest IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    kind: str = Field(max_length=10)
    dedupe_key: str = Field(max_length=200)
    received_at: datetime = Field(default_factory=utcnow)
    headers: Any = _json()
    body: bytes = Field(sa_type=sa.LargeBinary)
    # The body's event time (ms; 0: none) and the first 64 bits of its SHA-256
    # (``service.ingest.receive.REPLAY``, ``body_digest``). NULL digest: no guard needed (the dedupe key
    # is from the signed body), received before 0013, or a digest collision (the bytes differ).
    body_ts: int | None = Field(default=None, sa_type=sa.BigInteger)
    body_digest: int | None = Field(default=None, sa_type=sa.BigInteger)
    # pending | processing | done | ignored | failed | parked
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    reason: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    processed_at: datetime | None = None
