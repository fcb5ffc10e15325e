"""The transactional outbox: ``emit`` records an event in the caller's transaction.

Why in the caller's transaction: an event is then recorded if and only if the change that causes
it is committed ("nothing lost, nothing invented"); a rolled-back change emits nothing, by
construction, with no two-phase step. The worker delivers afterwards (``service.events.delivery``).

Decision: an event is recorded only when at least one enabled endpoint of the organization is
subscribed to its type (``emit`` returns None otherwise). Organizations without automations then
pay one indexed SELECT per change and store nothing; the cost is that an endpoint added later sees
no history from before it existed (redelivery covers what was recorded for an endpoint).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from service.events import catalog
from service.tables import Event, EventDelivery, WebhookEndpoint, table, utcnow

EV = table(Event)
DL = table(EventDelivery)
EP = table(WebhookEndpoint)


def new_msg_id() -> str:
    """The ``webhook-id`` of a new event: unique, opaque, the same on every attempt of it."""
    return "evt_" + uuid.uuid4().hex


def timestamp(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, the form Standard Webhooks' examples use."""
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def subscribed_endpoints(conn: sa.Connection, org_id: int, type: str) -> list[int]:
    """Ids of the organization's enabled endpoints whose event types cover ``type``."""
    rows = conn.execute(
        sa.select(EP.c.id, EP.c.event_types).where(EP.c.org_id == org_id, EP.c.enabled.is_(True))
        .order_by(EP.c.id)
    ).all()
    return [r.id for r in rows if any(catalog.matches(p, type) for p in (r.event_types or []))]


def emit(
    conn: sa.Connection,
    org_id: int,
    type: str,
    data: dict[str, Any],
    *,
    occurred_at: datetime | None = None,
    subject: str | None = None,
) -> int | None:
    """Record the event ``type`` with ``data`` for the organization, in the transaction of
    ``conn``, and one pending delivery per subscribed endpoint; the event's id, or None when no
    endpoint is subscribed (nothing is recorded then).

    ``data`` must fit the type's model in ``service.events.catalog`` (ValueError otherwise; an
    unknown type is a KeyError): both are mistakes of the caller, not of the user."""
    event_type = catalog.get(type)
    clean = catalog.validate_data(type, data)
    endpoints = subscribed_endpoints(conn, org_id, type)
    if not endpoints:
        return None
    return record(conn, org_id, event_type, clean, endpoints, occurred_at=occurred_at, subject=subject)


def record(
    conn: sa.Connection,
    org_id: int,
    event_type: catalog.EventType,
    data: dict[str, Any],
    endpoint_ids: Sequence[int],
    *,
    occurred_at: datetime | None = None,
    subject: str | None = None,
) -> int:
    """Insert the event row and one pending delivery per endpoint (``emit``; a test event)."""
    now = utcnow()
    when = occurred_at or now
    payload = {
        "type": event_type.name,
        "version": event_type.version,
        "timestamp": timestamp(when),
        "data": data,
    }
    event_id: int = conn.execute(
        sa.insert(EV).values(
            org_id=org_id, type=event_type.name, version=event_type.version, msg_id=new_msg_id(),
            subject=subject, occurred_at=when, payload=payload, created_at=now,
        ).returning(EV.c.id)
    ).scalar_one()
    conn.execute(sa.insert(DL), [
        {"org_id": org_id, "event_id": event_id, "endpoint_id": ep, "status": "pending", "attempts": 0,
         "next_attempt_at": now, "created_at": now}
        for ep in endpoint_ids
    ])
    return event_id
