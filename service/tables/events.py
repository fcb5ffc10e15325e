"""Signed events out (issue 22): subscriber endpoints, the transactional outbox, and deliveries.

An ``Event`` row is written in the same transaction as the change that causes it
(``service.events.outbox.emit``), together with one ``EventDelivery`` row per subscribed endpoint;
the worker sends the deliveries (``service.events.delivery``). A rolled-back change leaves neither.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.tables.base import ID, _fk, _json, utcnow


class WebhookEndpoint(SQLModel, table=True):
    """A URL of an organization that receives the event types it subscribed to."""

    __tablename__ = "webhook_endpoint"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    url: str = Field(max_length=2000)
    # Exact types ("task.created"), a family ("milestone.*") or everything ("*").
    event_types: Any = _json(nullable=False)
    description: str | None = Field(default=None, sa_type=sa.Text)
    enabled: bool = True
    # The signing secret ("whsec_..."), encrypted with the vault; on rotation the replaced one
    # keeps signing too until ``secret_prev_until`` (both signatures in ``webhook-signature``).
    secret_enc: str = Field(sa_type=sa.Text)
    secret_prev_enc: str | None = Field(default=None, sa_type=sa.Text)
    secret_prev_until: datetime | None = None
    # Health, like a source's: ok | failing | disabled; why, and since when it has been failing.
    health: str = Field(default="ok", max_length=12)
    health_reason: str | None = Field(default=None, sa_type=sa.Text)
    failing_since: datetime | None = None
    last_success_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """One recorded event: the exact payload every endpoint receives, and its message id."""

    __tablename__ = "outbox_event"
    __table_args__ = (
        sa.UniqueConstraint("msg_id", name="uq_outbox_event_msg_id"),
        sa.Index("ix_outbox_event_org_time", "org_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    type: str = Field(max_length=60)
    version: int = 1
    # ``webhook-id``: the same on every attempt and redelivery, so receivers can deduplicate.
    msg_id: str = Field(max_length=40)
    # What the event is about (e.g. "task:42"), for filtering the log; not sent.
    subject: str | None = Field(default=None, max_length=200)
    occurred_at: datetime
    payload: Any = _json(nullable=False)  # {type, timestamp, data}
    created_at: datetime = Field(default_factory=utcnow)


class EventDelivery(SQLModel, table=True):
    """One event to one endpoint: its state, attempts and the last answer (the delivery log)."""

    __tablename__ = "event_delivery"
    __table_args__ = (
        sa.Index("ix_event_delivery_claim", "status", "next_attempt_at"),
        # Each endpoint's next due rows, read in order up to its share (service.events.delivery.claim):
        # those an admin asked for first, then the rest, each a range of this index.
        sa.Index("ix_event_delivery_due", "endpoint_id", "status", "requested", "next_attempt_at"),
        sa.Index("ix_event_delivery_endpoint", "endpoint_id", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    event_id: int = _fk("outbox_event.id")
    endpoint_id: int = _fk("webhook_endpoint.id", index=False)
    # pending | processing | delivered | failed
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    # An admin asked for it (a test event, a redelivery): claimed before the endpoint's other due
    # rows, on each attempt until it is delivered or failed (service.events.delivery).
    requested: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false()))
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    last_attempt_at: datetime | None = None
    response_code: int | None = None
    latency_ms: int | None = None
    response_body: str | None = Field(default=None, sa_type=sa.Text)  # first 1 KB
    error: str | None = Field(default=None, sa_type=sa.Text)
    delivered_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
