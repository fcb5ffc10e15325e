"""Source events: its health's transitions, and the summary of a quiet (backfill) sync.

Health (``source.status``: ok | failing | degraded, kept by ``service.sync.runner``) changes
only through ``set_health``, which reads the stored status under the row's lock and emits in
the transaction that writes the new one, only when it differs:

- ``source.failing``: ok → failing (the first failed run);
- ``source.degraded``: → degraded (three failed runs of one kind in a row);
- ``source.recovered``: failing or degraded → ok (``data.previous_status`` says which).

A sync run that reads a source from scratch is quiet (``quiet_run``): mode ``backfill`` or
``full``, or the source's first sync (no successful run before). Its task writes emit no
``task.*`` event (``service.events.task_events``); ``source.synced`` carries the counts instead,
committed with the run's outcome on the source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.db import Database
from service.events.outbox import emit
from service.events.task_events import quiet_source
from service.store.rollups import lock_sources
from service.tables import Source, SyncRun, table

__all__ = ["HEALTH_EVENTS", "QUIET_MODES", "emit_synced", "is_quiet", "quiet_run", "set_health"]

S = table(Source)
SR = table(SyncRun)

HEALTH_EVENTS = {"ok": "source.recovered", "failing": "source.failing", "degraded": "source.degraded"}
QUIET_MODES = ("backfill", "full")


def set_health(conn: Connection, source_id: int, status: str, reason: str | None, *,
               only_from: tuple[str, ...] | None = None) -> None:
    """Set the source's health (only when it is one of ``only_from``, if given) and emit the
    transition's event when the status changes."""
    # The source's write lock as every writer takes it (its organization's row shared first, then
    # the source's FOR NO KEY UPDATE): a FOR UPDATE of the source first, then the evaluation's
    # lock_sources asking for the organization's row, deadlocked with an organization-wide writer
    # (a rate change) holding that row and waiting for the source; and it stalled webhook receipt
    # (the inbox's foreign-key checks wait for FOR UPDATE, not for FOR NO KEY UPDATE).
    lock_sources(conn, [source_id])
    row = conn.execute(sa.select(S.c.org_id, S.c.status).where(S.c.id == source_id)).first()
    if row is None or (only_from is not None and row.status not in only_from):
        return
    conn.execute(sa.update(S).where(S.c.id == source_id).values(status=status, status_reason=reason))
    if row.status != status:
        emit(conn, row.org_id, HEALTH_EVENTS[status], {
            "source_id": source_id, "status": status, "previous_status": row.status, "reason": reason,
            "links": {"source": f"/api/v1/sources/{source_id}"},
        }, subject=f"source:{source_id}")


def is_quiet(db: Database, source_id: int, mode: str) -> bool:
    """Whether a run of ``mode`` reads the source from scratch (see the module docstring)."""
    if mode in QUIET_MODES:
        return True
    with db.read() as conn:
        ran = conn.execute(sa.select(SR.c.id).where(SR.c.source_id == source_id, SR.c.status == "ok").limit(1))
        return ran.first() is None


@contextmanager
def quiet_run(db: Database, source_id: int, mode: str) -> Iterator[Counter[str] | None]:
    """Around a sync run: quiet when ``is_quiet`` (yields the counter of the task writes it
    silenced), else yields None and changes nothing."""
    if not is_quiet(db, source_id, mode):
        yield None
        return
    with quiet_source(source_id) as counts:
        yield counts


def emit_synced(conn: Connection, org_id: int, source_id: int, run_id: int | None, mode: str, items_seen: int,
                items_changed: int, counts: Counter[str]) -> None:
    """The one event of a quiet run, with what it stored."""
    emit(conn, org_id, "source.synced", {
        "source_id": source_id, "mode": mode, "items_seen": items_seen, "items_changed": items_changed,
        "sync_run_id": run_id,
        "tasks": {k: counts.get(k, 0) for k in ("created", "updated", "deleted")},
        "links": {"source": f"/api/v1/sources/{source_id}", "sync_runs": f"/api/v1/sync-runs?source_id={source_id}"},
    }, subject=f"source:{source_id}")
