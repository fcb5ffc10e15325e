"""Milestones and worklogs: guarded upserts and tombstones (tasks are in ``tasks.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
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
from service.tables import MilestoneChange, table, utcnow
from service.tables import Worklog as WorklogRow

__all__ = [
    "upsert_milestones",
    "delete_milestones",
    "set_milestone_baseline",
    "record_milestone_history",
    "upsert_worklogs",
    "delete_worklogs",
]

M = table(MilestoneRow)
MC = table(MilestoneChange)
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
    record_milestone_history(conn, org_id, source_id, list(rows), now)
    return stats


# The fields whose every value is kept (METRICS.md, Milestones), as ISO text.
HISTORY_FIELDS = ("due_date", "released", "completed_at")


def history_value(value: Any) -> str | None:
    """A milestone field's value as ``milestone_change`` keeps it: ISO text, ``true``/``false``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _aware(value).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"no history text for {type(value).__name__}")


def _aware(value: datetime) -> datetime:
    """SQLite gives stored instants back naive, in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Latest = dict[tuple[int, str], tuple[str | None, datetime]]


def latest_history(conn: Connection, milestone_ids: Sequence[int]) -> Latest:
    """The last recorded value of each (milestone, field) among ``milestone_ids``, and its time."""
    out: Latest = {}
    for part in chunks(list(milestone_ids)):
        last = (
            sa.select(sa.func.max(MC.c.id).label("id"))
            .where(in_list(conn, MC.c.milestone_id, part))
            .group_by(MC.c.milestone_id, MC.c.field)
            .subquery()
        )
        for mid, field, value, at in conn.execute(
            sa.select(MC.c.milestone_id, MC.c.field, MC.c.new_value, MC.c.at).join(last, MC.c.id == last.c.id)
        ):
            out[(mid, field)] = (value, _aware(at))
    return out


def record_milestone_history(
    conn: Connection, org_id: int, source_id: int, external_ids: Sequence[str], now: datetime
) -> int:
    """Append a ``milestone_change`` row for every history field of these milestones whose stored
    value differs from the last one recorded (``first_seen`` where none is). The value held at
    least since the vendor's last update of the milestone, and a change happened after the last
    recorded value was seen and by now: each row is dated by the vendor's update time (a Trello
    card's ``dateLastActivity``, a test's version ``updated_at``) when it falls in that interval,
    else now (Jira versions carry no update time). Returns the rows added."""
    stored: list[Any] = []
    for part in chunks(list(external_ids)):
        stored += conn.execute(
            sa.select(M.c.id, M.c.remote_updated_at, *[M.c[f] for f in HISTORY_FIELDS]).where(
                M.c.source_id == source_id, in_list(conn, M.c.external_id, part)
            )
        ).all()
    last = latest_history(conn, [r.id for r in stored])
    rows = []
    for r in stored:
        for f in HISTORY_FIELDS:
            value = history_value(r._mapping[f])
            prev = last.get((r.id, f))
            if prev is not None and prev[0] == value:
                continue
            when = now
            vendor = _aware(r.remote_updated_at) if r.remote_updated_at is not None else None
            if vendor is not None and (prev is None or prev[1] < vendor) and vendor <= now:
                when = vendor
            rows.append({
                "org_id": org_id, "milestone_id": r.id, "field": f, "at": when,
                "old_value": None if prev is None else prev[0], "new_value": value,
                "origin": "first_seen" if prev is None else "sync", "actor": None,
            })
    if rows:
        conn.execute(sa.insert(MC), rows)
    return len(rows)


def set_milestone_baseline(
    conn: Connection, org_id: int, milestone_id: int, baseline: date | None, actor: str
) -> dict[str, Any] | None:
    """Set a milestone's baseline due date (``baseline``), or reset it to the current due date
    (``None``), and record the change (origin ``pm``) if it is one. None if the organization has
    no such milestone; ValueError for a reset of a milestone without a due date. A later sync
    never moves a baseline (the upsert keeps a stored one)."""
    row = conn.execute(
        sa.select(M.c.id, M.c.due_date, M.c.baseline_due_date).where(M.c.id == milestone_id, M.c.org_id == org_id)
    ).first()
    if row is None:
        return None
    new = baseline if baseline is not None else row.due_date
    if new is None:
        raise ValueError("the milestone has no due date to reset the baseline to: give the baseline's date")
    changed = new != row.baseline_due_date
    if changed:  # setting the baseline it already has records nothing (``taskhub apply`` runs again)
        conn.execute(sa.update(M).where(M.c.id == milestone_id).values(baseline_due_date=new))
        conn.execute(sa.insert(MC).values(
            org_id=org_id, milestone_id=milestone_id, field="baseline", at=utcnow(),
            old_value=history_value(row.baseline_due_date), new_value=history_value(new), origin="pm",
            actor=actor[:200],
        ))
    return {"milestone_id": milestone_id, "baseline_due_date": new, "previous": row.baseline_due_date,
            "changed": changed,
            "reset": baseline is None}


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
            "carried_in": w.carried_in,
        }
    page = list(rows.values())
    mine = worklogs_by_key(conn, source_id, list(rows))
    with tracked(conn, [source_id], worklogs=mine, worklog_activity=True):
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
    with tracked(conn, [source_id], worklogs=worklogs_by_key(conn, source_id, exts), worklog_activity=True):
        for part in chunks(exts):
            res = conn.execute(sa.update(W).where(W.c.source_id == source_id, W.c.external_id.in_(part),
                                                  W.c.deleted_at.is_(None)).values(deleted_at=utcnow()))
            stats.deleted += res.rowcount or 0
    return stats


