"""Stored task history rewritten: the status ids and categories of change rows, and the
started and completed times of their tasks.

Two writers need it (``service.sync.jira_history``): a source's status catalogue changed, so
its stored status changes are re-categorized without asking the tool again; and a source
synced before status ids were kept has its histories read again whole. Both write through
these functions, inside the caller's transaction, after ``rollups.lock_sources``; the tasks' times go
through ``set_work_dates`` under ``tracked`` like every task write, so the rollups (done
counts, completion days) follow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import Change, StatusCategory
from service.store.rollups import touched_tasks, tracked
from service.store.sql import bulk_insert, chunks, executemany, in_list, statement
from service.store.tasks import CHANGE_COLUMNS, activity_moved
from service.tables import Change as ChangeRow
from service.tables import Project as ProjectRow
from service.tables import Task as TaskRow
from service.tables import table

__all__ = [
    "StoredHistory",
    "recategorize_rows",
    "rewrite_changes",
    "set_work_dates",
    "settle_work_dates",
    "status_change_page",
    "stored_histories",
]

C = table(ChangeRow)
T = table(TaskRow)
P = table(ProjectRow)


def status_change_page(conn: Connection, source_id: int, *, after: int, limit: int) -> list[dict[str, Any]]:
    """The next ``limit`` status changes read from the tool's changelogs (``origin`` changelog;
    observed changes carry the category the task itself had) with ``id > after``, in id order,
    each with its task's project's external id: the rows ``recategorize_changes`` takes."""
    project = (
        sa.select(P.c.external_id)
        .select_from(T.join(P, P.c.id == T.c.project_id))
        .where(T.c.source_id == C.c.source_id, T.c.external_id == C.c.task_external_id)
        .scalar_subquery()
    )
    rows = conn.execute(
        sa.select(C.c.id, C.c.task_external_id, C.c.field, C.c.from_value, C.c.to_value, C.c.from_id,
                  C.c.to_id, C.c.from_category, C.c.to_category, project.label("project_external_id"))
        .where(C.c.source_id == source_id, C.c.field == "status", C.c.origin == "changelog", C.c.id > after)
        .order_by(C.c.id)
        .limit(limit)
    ).all()
    return [dict(r._mapping) for r in rows]


def recategorize_rows(conn: Connection, updates: Iterable[tuple[int, str | None, str | None]]) -> int:
    """Set ``(change id, from category, to category)`` on stored change rows; returns how many."""
    params = [{"cid": cid, "fc": fc, "tc": tc} for cid, fc, tc in updates]
    if params:
        stmt = statement(conn, "change-recategorize", lambda: sa.update(C).where(C.c.id == sa.bindparam("cid"))
                         .values(from_category=sa.bindparam("fc"), to_category=sa.bindparam("tc")))
        conn.execute(stmt, params)
    return len(params)


def rewrite_changes(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Store change rows (``change_rows``' form) read again from the tool: those not stored yet
    are inserted; a stored one (same task and external id) takes the row's status ids and
    categories, the only part a re-read can correct (the values and time are the tool's)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in rows:
        k = (r["task_external_id"], r["external_id"])
        if k not in seen:
            seen.add(k)
            unique.append(r)
    if not unique:
        return

    def build() -> Any:
        ins = bulk_insert(conn, C, CHANGE_COLUMNS)
        new = ins.excluded
        kept = ("from_id", "to_id", "from_category", "to_category")
        return ins.on_conflict_do_update(
            index_elements=["source_id", "task_external_id", "external_id"],
            set_={k: new[k] for k in kept},
            where=sa.or_(*(C.c[k].is_distinct_from(new[k]) for k in kept)),
        )

    executemany(conn, statement(conn, "changes-rewrite", build), unique)
    activity_moved(conn, unique)


@dataclass
class StoredHistory:
    """A stored task and its status changes from the tool's changelogs, oldest first."""

    category: StatusCategory
    fields: dict[str, Any]  # the stored raw issue's ``fields`` ({} without raw)
    started_at: datetime | None
    completed_at: datetime | None
    remote_updated_at: datetime | None
    changes: list[Change] = field(default_factory=list)


def stored_histories(conn: Connection, source_id: int, external_ids: Sequence[str]) -> dict[str, StoredHistory]:
    """The alive tasks of a source among ``external_ids`` with their status changes."""
    out: dict[str, StoredHistory] = {}
    for part in chunks(list(external_ids)):
        for r in conn.execute(
            sa.select(T.c.external_id, T.c.status_category, T.c.raw, T.c.started_at, T.c.completed_at,
                      T.c.remote_updated_at)
            .where(T.c.source_id == source_id, in_list(conn, T.c.external_id, part), T.c.deleted_at.is_(None))
        ):
            raw_fields = r.raw.get("fields") if isinstance(r.raw, dict) else None
            out[r.external_id] = StoredHistory(
                StatusCategory(r.status_category), raw_fields if isinstance(raw_fields, dict) else {},
                r.started_at, r.completed_at, r.remote_updated_at)
        for c in conn.execute(
            sa.select(C.c.task_external_id, C.c.external_id, C.c.from_value, C.c.to_value, C.c.from_category,
                      C.c.to_category, C.c.from_id, C.c.to_id, C.c.changed_at)
            .where(C.c.source_id == source_id, in_list(conn, C.c.task_external_id, part),
                   C.c.field == "status", C.c.origin == "changelog")
            .order_by(C.c.changed_at, C.c.id)
        ):
            task = out.get(c.task_external_id)
            if task is not None:
                task.changes.append(Change(
                    task_external_id=c.task_external_id, external_id=c.external_id, field="status",
                    from_value=c.from_value, to_value=c.to_value, from_category=_category(c.from_category),
                    to_category=_category(c.to_category), from_id=c.from_id, to_id=c.to_id,
                    changed_at=c.changed_at))
    return out


def _category(value: str | None) -> StatusCategory | None:
    try:
        return StatusCategory(value) if value else None
    except ValueError:
        return None


def settle_work_dates(
    task: StoredHistory, started: datetime | None, completed: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """What a task stores, given the times its whole stored history gives: ``upsert_tasks``'
    fallbacks (a task past to-do without a known start keeps the one it has, else its last
    update; a done one likewise for its completion) without its "keep the earliest start",
    which is there because a webhook knows only its own changelog: here the history is whole,
    so a start read from a transition categorized wrongly before moves."""
    at = task.remote_updated_at
    if task.category is not StatusCategory.todo and started is None:
        started = task.started_at or at
    if task.category is StatusCategory.done and completed is None:
        completed = task.completed_at or at
    return started, completed


def set_work_dates(conn: Connection, source_id: int,
                   dates: Mapping[str, tuple[datetime | None, datetime | None]]) -> int:
    """Set ``{external id: (started_at, completed_at)}`` on tasks of a source, keeping the
    rollups (``tracked``); returns how many were given."""
    if not dates:
        return 0
    exts = sorted(dates)
    stmt = statement(conn, "task-work-dates", lambda: sa.update(T).where(
        T.c.source_id == sa.bindparam("sid"), T.c.external_id == sa.bindparam("ext"),
    ).values(started_at=sa.bindparam("started"), completed_at=sa.bindparam("completed")))
    with tracked(conn, [source_id], tasks=touched_tasks(conn, source_id, exts)):
        conn.execute(stmt, [{"sid": source_id, "ext": e, "started": dates[e][0], "completed": dates[e][1]}
                            for e in exts])
    return len(exts)
