"""Milestones and worklogs: guarded upserts and tombstones (tasks are in ``tasks.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import MilestoneDelete, MilestoneUpsert, WorklogDelete, WorklogUpsert
from service.store.common import ApplyStats, _guard, guarded_upsert, upsert_projects
from service.store.people import resolve_people
from service.store.rollups import (
    local_day,
    lock_sources,
    org_zone,
    pair_worklogs,
    price_worklogs,
    tracked,
    worklogs_by_key,
)
from service.store.sql import chunks, executemany, in_list, insert_for
from service.tables import Milestone as MilestoneRow
from service.tables import Worklog as WorklogRow
from service.tables import table, utcnow

__all__ = ["upsert_milestones", "delete_milestones", "upsert_worklogs", "delete_worklogs"]

M = table(MilestoneRow)
W = table(WorklogRow)


# --- milestones ------------------------------------------------------------------------


def upsert_milestones(conn: Connection, org_id: int, source_id: int, items: Sequence[MilestoneUpsert]) -> ApplyStats:
    stats = ApplyStats(seen=len(items))
    if not items:
        return stats
    lock_sources(conn, [source_id])
    project_ids = upsert_projects(
        conn, org_id, source_id,
        ((i.milestone.project_external_id, None, None) for i in items if i.milestone.project_external_id),
    )
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for it in items:
        m = it.milestone
        rows[m.external_id] = {
            "org_id": org_id, "source_id": source_id, "external_id": m.external_id,
            "project_id": project_ids.get(m.project_external_id or ""), "name": m.name,
            "description": m.description, "start_date": m.start_date, "due_date": m.due_date,
            "baseline_due_date": m.baseline_due_date or m.due_date, "released": m.released,
            "completed_at": m.completed_at, "archived": m.archived, "remote_updated_at": m.updated_at,
            "raw": it.raw, "deleted_at": None, "deleted_reason": None, "synced_at": now,
        }
    ins = insert_for(conn, M)
    cols = {k: ins.excluded[k] for k in next(iter(rows.values())) if k not in ("org_id", "source_id", "external_id")}
    # The baseline is the first due date ever seen; the project link is never lost.
    cols["baseline_due_date"] = sa.func.coalesce(M.c.baseline_due_date, ins.excluded.due_date)
    cols["project_id"] = sa.func.coalesce(ins.excluded.project_id, M.c.project_id)
    stmt = ins.on_conflict_do_update(index_elements=["source_id", "external_id"], set_=cols,
                                     where=_guard(M, ins.excluded))
    for part in chunks(list(rows.values()), 200):
        conn.execute(stmt, list(part))
    stats.changed = _written(conn, M, source_id, rows)
    return stats


def delete_milestones(conn: Connection, source_id: int, items: Sequence[MilestoneDelete]) -> ApplyStats:
    stats = ApplyStats(seen=len(items))
    ids = [i.external_id for i in items]
    for part in chunks(ids):
        res = conn.execute(sa.update(M).where(M.c.source_id == source_id, M.c.external_id.in_(part))
                           .values(deleted_at=utcnow(), deleted_reason="deleted"))
        stats.deleted += res.rowcount or 0
    return stats


# --- worklogs --------------------------------------------------------------------------


def upsert_worklogs(conn: Connection, org_id: int, source_id: int, items: Sequence[WorklogUpsert],
                    *, keep_raw: bool = False) -> ApplyStats:
    stats = ApplyStats(seen=len(items))
    complete = [i for i in items if i.complete]
    if not complete:
        return stats
    lock_sources(conn, [source_id])  # before the people: every writer takes its source's lock first
    person_ids = resolve_people(conn, org_id, (i.worklog.author for i in complete if i.worklog.author))
    zone = org_zone(conn, org_id)
    now = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for it in complete:
        w = it.worklog
        rows[w.external_id] = {
            "org_id": org_id, "source_id": source_id, "external_id": w.external_id,
            "task_external_id": w.task_external_id,
            "person_id": person_ids.get((w.author.tool, w.author.external_id)) if w.author else None,
            "started_at": w.started_at, "started_day": local_day(w.started_at, zone), "seconds": w.seconds,
            "remote_updated_at": w.updated_at, "deleted_at": None, "raw": None, "synced_at": now,
        }
    page = list(rows.values())
    mine = worklogs_by_key(conn, source_id, list(rows))
    with tracked(conn, [source_id], worklogs=mine):
        executemany(conn, guarded_upsert(conn, W, tuple(page[0])), page)
        pair_worklogs(conn, mine)  # its task's id, project and tombstone
        price_worklogs(conn, mine)  # its author's rate that day
    stats.changed = _written(conn, W, source_id, rows)
    stats.stale = len(rows) - stats.changed
    return stats


def _written(
    conn: Connection, table: sa.Table, source_id: int, rows: dict[str, dict[str, Any]]
) -> int:
    """How many ``rows`` the guarded upsert wrote: those now stored with their version.

    (An executemany's ``rowcount`` is -1 on psycopg, so it cannot be summed.)
    """
    n = 0
    for part in chunks(list(rows)):
        for ext, stored_at in conn.execute(
            sa.select(table.c.external_id, table.c.remote_updated_at).where(
                table.c.source_id == source_id, in_list(conn, table.c.external_id, part)
            )
        ):
            n += stored_at == rows[ext]["remote_updated_at"]
    return n


def delete_worklogs(conn: Connection, source_id: int, items: Sequence[WorklogDelete]) -> ApplyStats:
    stats = ApplyStats(seen=len(items))
    if not items:
        return stats
    exts = sorted({i.external_id for i in items})
    with tracked(conn, [source_id], worklogs=worklogs_by_key(conn, source_id, exts)):
        for part in chunks(exts):
            res = conn.execute(sa.update(W).where(W.c.source_id == source_id, W.c.external_id.in_(part),
                                                  W.c.deleted_at.is_(None)).values(deleted_at=utcnow()))
            stats.deleted += res.rowcount or 0
    return stats


