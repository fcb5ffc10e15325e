"""Sync state rows: a cursor and a lease per (source, stream); sync run records."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from service.db import Database
from service.store.sql import insert_for, statement
from service.tables import Source, SyncRun, SyncState, table, utcnow

__all__ = [
    "LeaseHeld",
    "Lease",
    "RunRecorder",
    "get_cursor",
    "set_cursor",
    "acquire_lease",
    "all_cursors",
    "request_run",
    "pending_request",
    "clear_request",
    "mark_ran",
    "MODE_RANK",
    "stream_last_run",
    "REQUEST_STREAM",
    "CENSUS_STREAM",
]

# sync_state streams that are not cursors: a run someone asked for (its mode in ``cursor``) and
# the census's last successful run (``last_run_at``).
REQUEST_STREAM = "request"
CENSUS_STREAM = "census"
EXAMPLES = 20  # tombstoned ids a run's findings name, per reason

SS = table(SyncState)
SR = table(SyncRun)


class LeaseHeld(Exception):
    """Another worker is syncing this source right now."""


def _ensure_row(conn: Any, source_id: int, stream: str) -> None:
    conn.execute(insert_for(conn, SS).on_conflict_do_nothing(index_elements=["source_id", "stream"]),
                 {"source_id": source_id, "stream": stream, "updated_at": utcnow()})


def get_cursor(db: Database, source_id: int, stream: str) -> str | None:
    with db.read() as conn:
        return conn.execute(sa.select(SS.c.cursor).where(SS.c.source_id == source_id, SS.c.stream == stream)).scalar()


def all_cursors(db: Database, source_id: int) -> dict[str, str | None]:
    with db.read() as conn:
        return dict(conn.execute(sa.select(SS.c.stream, SS.c.cursor).where(SS.c.source_id == source_id)).all())


def set_cursor(conn: Any, source_id: int, stream: str, cursor: str | None) -> None:
    """Save a cursor inside the caller's transaction (the page's), so page and cursor commit
    together: one upsert per page (the stream's lease columns are left as they are)."""
    def build() -> Any:
        ins = insert_for(conn, SS)
        return ins.on_conflict_do_update(index_elements=["source_id", "stream"],
                                         set_={"cursor": ins.excluded.cursor, "updated_at": ins.excluded.updated_at})

    conn.execute(statement(conn, "set-cursor", build),
                 {"source_id": source_id, "stream": stream, "cursor": cursor, "updated_at": utcnow()})


@dataclass
class Lease:
    db: Database
    source_id: int
    owner: str
    ttl: float
    stream: str = "lease"
    _renewed: float = field(default=float("-inf"), init=False, repr=False)  # monotonic time of the last write

    def acquire(self) -> bool:
        self._renewed = time.monotonic()
        now = utcnow()
        with self.db.write() as conn:
            _ensure_row(conn, self.source_id, self.stream)
            res = conn.execute(
                sa.update(SS)
                .where(SS.c.source_id == self.source_id, SS.c.stream == self.stream,
                       sa.or_(SS.c.lease_owner.is_(None), SS.c.lease_expires_at < now, SS.c.lease_owner == self.owner))
                .values(lease_owner=self.owner, lease_expires_at=now + timedelta(seconds=self.ttl))
            )
            return bool(res.rowcount)

    def renew(self) -> None:
        """Extend the lease; raises ``LeaseHeld`` if another worker took it over.

        Called after every stored page; it writes only when a tenth of the lease (at most 5 s)
        has passed since the last extension — a write transaction per page was a tenth of a
        SQLite backfill's commits. The lease can only be taken over once it expired, i.e.
        after a gap longer than that, so the next call always checks."""
        if time.monotonic() - self._renewed < min(self.ttl / 10, 5.0):
            return
        self._renewed = time.monotonic()
        with self.db.write() as conn:
            res = conn.execute(
                sa.update(SS)
                .where(SS.c.source_id == self.source_id, SS.c.stream == self.stream, SS.c.lease_owner == self.owner)
                .values(lease_expires_at=utcnow() + timedelta(seconds=self.ttl))
            )
            if not res.rowcount:
                raise LeaseHeld(f"lost the sync lease on source {self.source_id}")

    def release(self, *, finished: bool = True) -> None:
        with self.db.write() as conn:
            values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
            if finished:
                values["last_run_at"] = utcnow()
            conn.execute(sa.update(SS).where(SS.c.source_id == self.source_id, SS.c.stream == self.stream,
                                             SS.c.lease_owner == self.owner).values(**values))


def acquire_lease(db: Database, source_id: int, owner: str, ttl: float = 300.0) -> Lease | None:
    lease = Lease(db, source_id, owner, ttl)
    return lease if lease.acquire() else None


@dataclass
class RunRecorder:
    """One sync_run row: counts accumulate in memory and are written at the end (and on flush)."""

    db: Database
    org_id: int
    source_id: int
    mode: str
    id: int | None = None
    api_calls: int = 0
    items_seen: int = 0
    items_changed: int = 0
    errors: int = 0
    started: datetime = field(default_factory=utcnow)
    # What the run found beyond counts: {"tombstoned": {reason: n}, "examples": {reason: [ids]}}.
    findings: dict[str, Any] | None = None

    def start(self) -> RunRecorder:
        with self.db.write() as conn:
            self.id = conn.execute(sa.insert(SR).values(org_id=self.org_id, source_id=self.source_id,
                                                        mode=self.mode, status="running",
                                                        started_at=self.started).returning(SR.c.id)).scalar_one()
        return self

    def tombstoned(self, reason: str, external_ids: list[str], kind: str = "task") -> None:
        """Note items this run tombstoned (a census's deletions and lost access), by reason."""
        if not external_ids:
            return
        f = self.findings if self.findings is not None else {"tombstoned": {}, "examples": {}}
        self.findings = f
        key = reason if kind == "task" else f"{kind}:{reason}"
        f["tombstoned"][key] = f["tombstoned"].get(key, 0) + len(external_ids)
        f["examples"][key] = (f["examples"].get(key, []) + sorted(external_ids))[:EXAMPLES]

    def finish(self, status: str, error: str | None = None) -> None:
        now = utcnow()
        with self.db.write() as conn:
            conn.execute(sa.update(SR).where(SR.c.id == self.id).values(
                status=status, finished_at=now, api_calls=self.api_calls, items_seen=self.items_seen,
                items_changed=self.items_changed, errors=self.errors, error=error, findings=self.findings,
                duration_ms=int((now - self.started).total_seconds() * 1000)))


MODE_RANK = {"incremental": 0, "census": 1, "full": 2}  # a pending request yields only to a stronger one


def request_run(conn: Any, source_id: int, mode: str) -> str:
    """Ask the worker to run ``mode`` on this source at its next check (within seconds; a source
    with a pending request is due, even while a run holds its lease). A pending request is replaced
    only by a stronger one (full > census > incremental): a routine poll request never cancels a
    census someone asked for. Returns the mode now pending."""
    q = sa.select(SS.c.cursor).where(SS.c.source_id == source_id, SS.c.stream == REQUEST_STREAM)
    pending = conn.execute(q.with_for_update()).scalar()
    if pending is None or MODE_RANK[mode] > MODE_RANK.get(pending, -1):
        set_cursor(conn, source_id, REQUEST_STREAM, mode)
        return mode
    return str(pending)


def pending_request(db: Database, source_id: int) -> str | None:
    """The mode someone asked for and no run has served yet (None: nothing asked)."""
    with db.read() as conn:
        return conn.execute(sa.select(SS.c.cursor).where(
            SS.c.source_id == source_id, SS.c.stream == REQUEST_STREAM)).scalar()


def clear_request(db: Database, source_id: int, mode: str) -> None:
    """The request for ``mode`` was served: clear it, unless a stronger one replaced it meanwhile."""
    with db.write() as conn:
        conn.execute(sa.update(SS).where(SS.c.source_id == source_id, SS.c.stream == REQUEST_STREAM,
                                         SS.c.cursor == mode).values(cursor=None, updated_at=utcnow()))


def mark_ran(db: Database, source_id: int, stream: str, at: datetime | None = None) -> None:
    """Record that ``stream``'s periodic run (the census) last ran at ``at`` (default now)."""
    with db.write() as conn:
        _ensure_row(conn, source_id, stream)
        conn.execute(sa.update(SS).where(SS.c.source_id == source_id, SS.c.stream == stream)
                     .values(last_run_at=at or utcnow(), updated_at=utcnow()))


def stream_last_run(db: Database, source_id: int, stream: str) -> datetime | None:
    with db.read() as conn:
        return conn.execute(sa.select(SS.c.last_run_at).where(
            SS.c.source_id == source_id, SS.c.stream == stream)).scalar()


def save_site_info(db: Database, source_id: int, site_info: dict[str, Any]) -> None:
    """Store what a sync learnt of the site (fields, statuses, boards). Only that column: the
    source's health is set by the runner as runs end, and a value read at the start of this run
    written back here would undo a change made meanwhile (and no health event would say so)."""
    S = table(Source)
    with db.write() as conn:
        conn.execute(sa.update(S).where(S.c.id == source_id).values(site_info=site_info))


class PlannerStats:
    """PostgreSQL: ANALYZE the tables a backfill is filling, at 1k, 2k, 4k... rows stored.

    Autovacuum lags behind a bulk load; with statistics from when the tables were empty,
    the planner answers each page's ``external_id = ANY(...)`` lookups by scanning every row
    of the source (only ``source_id`` as the index condition), which makes a large backfill
    quadratic. SQLite's planner uses the index without them."""

    TABLES = ("task", "change", "task_assignee", "task_milestone", "person_identity", "project", "milestone")
    FIRST = 1000

    def __init__(self, db: Database) -> None:
        self.db = db
        self.next = self.FIRST

    def stored(self, total: int) -> None:
        """Call with the rows stored so far in this run."""
        if total < self.next:
            return
        self.next = total * 2
        self.analyze()

    def analyze(self) -> None:
        if self.db.dialect != "postgresql":
            return
        with self.db.write() as conn:
            for table in self.TABLES:
                conn.exec_driver_sql(f"ANALYZE {table}")
