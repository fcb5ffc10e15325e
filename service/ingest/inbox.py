"""The inbox: claim pending webhook events under a lease, apply, mark.

PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets any number of workers claim
disjoint batches; SQLite: one worker (``BEGIN IMMEDIATE`` serializes anyway).
Effects and the ``done`` mark commit in one transaction, and the mark only
succeeds while this worker still holds the lease — so an event is applied
exactly once even when a slow worker loses its lease to another.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import Change, Effect
from service.db import Database, retryable
from service.settings import Settings
from service.state_events.transitions import evaluate_effects
from service.store import ApplyStats, apply_effects
from service.store.tasks import change_rows, insert_changes
from service.sync.state import set_cursor
from service.tables import InboxEvent, Source, stored_id, table, utcnow

__all__ = [
    "ClaimedEvent",
    "HandlerContext",
    "Handler",
    "Outcome",
    "StateWrite",
    "claim",
    "process_batch",
    "retry_events",
    "backoff_seconds",
]

log = logging.getLogger("taskhub.inbox")
IE = table(InboxEvent)


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    org_id: int
    source_id: int
    kind: str
    dedupe_key: str
    body: bytes
    headers: dict[str, str]
    attempts: int
    received_at: datetime


@dataclass(frozen=True)
class StateWrite:
    """A ``sync_state`` row (source, stream) to set with the batch: e.g. a Trello board's
    context that a handler fetched, so the next event or sync reads it instead of asking again."""

    stream: str
    value: str


@dataclass
class Outcome:
    """What one event means, as data; ``_commit`` writes all of it with the event's mark.

    ``effects`` go through the store's ``apply_effects``; ``changes`` are history rows of tasks
    whose current state is already stored (nothing to upsert, the transition is still kept);
    ``state`` are sync-state rows to set.
    """

    status: Literal["done", "ignored", "failed"]
    reason: str | None = None
    effects: list[Effect] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    state: list[StateWrite] = field(default_factory=list)


@dataclass
class HandlerContext:
    db: Database
    settings: Settings
    source: Source


class Handler(Protocol):
    def __call__(self, ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
        """One outcome per event, in order. May do network I/O; must not write to the store."""


def backoff_seconds(attempts: int) -> float:
    base: float = min(3600.0, 2.0 ** min(attempts, 12))
    return base * random.uniform(0.75, 1.25)


def claim(db: Database, worker_id: str, *, batch: int, lease_seconds: float) -> list[ClaimedEvent]:
    now = utcnow()
    due = sa.or_(
        sa.and_(IE.c.status.in_(("pending", "failed")), IE.c.next_attempt_at <= now),
        sa.and_(IE.c.status == "processing", IE.c.lease_expires_at < now),
    )
    pick = sa.select(IE.c.id).where(due).order_by(IE.c.id).limit(batch)
    if db.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        sa.update(IE)
        .where(IE.c.id.in_(pick.scalar_subquery()))
        .values(status="processing", lease_owner=worker_id, attempts=IE.c.attempts + 1,
                lease_expires_at=now + timedelta(seconds=lease_seconds))
        .returning(IE.c.id, IE.c.org_id, IE.c.source_id, IE.c.kind, IE.c.dedupe_key, IE.c.body, IE.c.headers,
                   IE.c.attempts, IE.c.received_at)
    )
    with db.write() as conn:
        rows = conn.execute(stmt).all()
    events = [ClaimedEvent(r.id, r.org_id, r.source_id, r.kind, r.dedupe_key, bytes(r.body), r.headers or {},
                           r.attempts, r.received_at) for r in rows]
    events.sort(key=lambda e: e.id)
    return events


def _mark(conn: Connection, worker_id: str, event_ids: list[int], **values: Any) -> int:
    res = conn.execute(
        sa.update(IE)
        .where(IE.c.id.in_(event_ids), IE.c.lease_owner == worker_id, IE.c.status == "processing")
        .values(**values)
    )
    return res.rowcount or 0


class LeaseLost(Exception):
    pass


def _fail(db: Database, worker_id: str, events: Sequence[ClaimedEvent], error: str, max_attempts: int) -> None:
    now = utcnow()
    with db.write() as conn:
        for ev in events:
            parked = ev.attempts >= max_attempts
            _mark(conn, worker_id, [ev.id], status="parked" if parked else "failed", error=error[:4000],
                  lease_owner=None, lease_expires_at=None, processed_at=now if parked else None,
                  next_attempt_at=now + timedelta(seconds=backoff_seconds(ev.attempts)))
            log.warning("inbox.%s id=%s attempts=%s error=%s", "parked" if parked else "failed", ev.id,
                        ev.attempts, error[:200])


_WRITE_ATTEMPTS = 3


def _commit(db: Database, worker_id: str, source: Source, ok: list[tuple[ClaimedEvent, Outcome]]) -> ApplyStats:
    """Write what the outcomes carry and mark the events, in one transaction."""
    source_id = stored_id(source)
    with db.write() as conn:
        effects = [e for _, o in ok for e in o.effects]
        stats = apply_effects(conn, source.org_id, source_id, effects)
        insert_changes(conn, change_rows(source.org_id, source_id, [ch for _, o in ok for ch in o.changes]))
        evaluate_effects(conn, source.org_id, source_id, effects)  # milestone and budget transitions
        for _, o in ok:
            for w in o.state:
                set_cursor(conn, source_id, w.stream, w.value)
        now = utcnow()
        groups: dict[tuple[str, str | None], list[int]] = {}
        for ev, o in ok:
            groups.setdefault((o.status, o.reason), []).append(ev.id)
        for (status, reason), ids in groups.items():  # one UPDATE per outcome, not per event
            if _mark(conn, worker_id, ids, status=status, reason=reason, error=None, processed_at=now,
                     lease_owner=None, lease_expires_at=None) != len(ids):
                raise LeaseLost(f"lease on inbox events {ids[:5]}… expired before commit")
    return stats


def process_batch(db: Database, settings: Settings, worker_id: str, events: Sequence[ClaimedEvent],
                  handlers: dict[str, Handler], *, max_attempts: int) -> ApplyStats:
    """Run the handlers per source and commit effects with the marks, per source."""
    total = ApplyStats()
    by_source: dict[int, list[ClaimedEvent]] = {}
    for ev in events:
        by_source.setdefault(ev.source_id, []).append(ev)
    for source_id, evs in by_source.items():
        with db.session() as s:
            source = s.get(Source, source_id)
        if source is None:  # deleted while queued: cascade removed the rows already
            continue
        handler = handlers.get(evs[0].kind)
        if handler is None:
            _fail(db, worker_id, evs, f"no handler registered for kind {evs[0].kind!r}", max_attempts)
            continue
        try:
            outcomes = handler(HandlerContext(db=db, settings=settings, source=source), evs)
            if len(outcomes) != len(evs):
                raise RuntimeError(f"handler returned {len(outcomes)} outcomes for {len(evs)} events")
        except Exception as exc:  # noqa: BLE001 - any handler failure is recorded on the events
            _fail(db, worker_id, evs, f"{exc.__class__.__name__}: {exc}", max_attempts)
            continue
        failed = [(ev, o) for ev, o in zip(evs, outcomes, strict=True) if o.status == "failed"]
        ok = [(ev, o) for ev, o in zip(evs, outcomes, strict=True) if o.status != "failed"]
        try:
            for attempt in range(1, _WRITE_ATTEMPTS + 1):
                try:
                    stats = _commit(db, worker_id, source, ok)
                    break
                except Exception as exc:
                    if attempt == _WRITE_ATTEMPTS or not retryable(exc):
                        raise
                    log.info("inbox.retry_write source=%s attempt=%s %s", source_id, attempt, exc.__class__.__name__)
            total.add(stats)
        except LeaseLost as exc:
            log.warning("inbox.lease_lost %s; another worker will apply the batch", exc)
        except Exception as exc:  # noqa: BLE001
            _fail(db, worker_id, [ev for ev, _ in ok], f"{exc.__class__.__name__}: {exc}", max_attempts)
        for ev, o in failed:
            _fail(db, worker_id, [ev], o.reason or "handler failed", max_attempts)
    return total


def retry_events(db: Database, org_id: int | None, ids: Sequence[int] | None = None, *,
                 statuses: Sequence[str] = ("parked", "failed")) -> int:
    """Put parked/failed events (or the given ids) back in the queue now."""
    cond: list[sa.ColumnElement[bool]] = [IE.c.status.in_(tuple(statuses))]
    if org_id is not None:
        cond.append(IE.c.org_id == org_id)
    if ids:
        cond.append(IE.c.id.in_(list(ids)))
    with db.write() as conn:
        res = conn.execute(sa.update(IE).where(*cond).values(status="pending", attempts=0, next_attempt_at=utcnow(),
                                                             error=None, processed_at=None))
        return res.rowcount or 0
