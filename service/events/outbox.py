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


# Built once: emit runs in every change's transaction (hundreds a second), and building and
# caching a statement per call cost more client CPU than running it.
_SUBSCRIBERS = (sa.select(EP.c.id, EP.c.event_types)
                .where(EP.c.org_id == sa.bindparam("org_id", type_=EP.c.org_id.type), EP.c.enabled.is_(True))
                .order_by(EP.c.id))


def subscribed_endpoints(conn: sa.Connection, org_id: int, type: str) -> list[int]:
    """Ids of the organization's enabled endpoints whose event types cover ``type``."""
    rows = conn.execute(_SUBSCRIBERS, {"org_id": org_id}).all()
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


_EVENT_COLUMNS = ("org_id", "type", "version", "msg_id", "subject", "occurred_at", "payload", "created_at")


def _event_row() -> Any:
    return sa.insert(EV).values({c: sa.bindparam(c, type_=EV.c[c].type) for c in _EVENT_COLUMNS})


def _deliveries(event_id: Any, source: Any = None) -> Any:
    """One pending delivery per endpoint of ``:endpoint_ids`` (all due ``:now``), one statement."""
    now = sa.bindparam("now", type_=DL.c.next_attempt_at.type)
    org = sa.bindparam("org_id", type_=DL.c.org_id.type)
    return sa.insert(DL).from_select(
        ["org_id", "event_id", "endpoint_id", "status", "attempts", "next_attempt_at", "created_at"],
        sa.select(org, event_id, EP.c.id, sa.literal("pending"), sa.literal(0), now, now)
        .select_from(source.join(EP, sa.true()) if source is not None else EP)
        .where(EP.c.id.in_(sa.bindparam("endpoint_ids", expanding=True))))


# SQLite: the event, then its deliveries. PostgreSQL: one statement, the two INSERTs in a WITH:
# one round trip fewer in the change's transaction.
_INSERT_EVENT = _event_row().returning(EV.c.id)
_INSERT_DELIVERIES = _deliveries(sa.bindparam("event_id", type_=DL.c.event_id.type))
_event = _event_row().returning(EV.c.id).cte("event")
_INSERT_BOTH = sa.select(_event.c.id).add_cte(_deliveries(_event.c.id, _event).cte("deliveries"))


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
    event = {"org_id": org_id, "type": event_type.name, "version": event_type.version, "msg_id": new_msg_id(),
             "subject": subject, "occurred_at": when, "payload": payload, "created_at": now}
    targets = {"endpoint_ids": list(endpoint_ids), "now": now}
    if conn.dialect.name == "postgresql":
        event_id: int = conn.execute(_INSERT_BOTH, {**event, **targets}).scalar_one()
        return event_id
    event_id = conn.execute(_INSERT_EVENT, event).scalar_one()
    conn.execute(_INSERT_DELIVERIES, {"org_id": org_id, "event_id": event_id, **targets})
    return event_id
