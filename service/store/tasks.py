"""Upserts of synced data with the monotonic guard, tombstones and change history.

The guard: a row's ``remote_updated_at`` only moves forward. An incoming version
older than the stored one is dropped; an equal one is applied again and changes
nothing (idempotent). The guard is checked twice: in Python, to compute change
rows from the previous state, and in the ``ON CONFLICT ... DO UPDATE ... WHERE``
so a concurrent writer can never be overwritten by an older version.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import (
    Change,
    DeletedReason,
    Effect,
    Ignored,
    LinkDelete,
    LinkRef,
    LinkUpsert,
    MilestoneDelete,
    MilestoneUpsert,
    StatusCategory,
    TaskDelete,
    TaskPatch,
    TaskUpsert,
    WorklogDelete,
    WorklogUpsert,
)
from service.events.task_events import TASK_COLUMNS, emit_task_deletes, emit_task_patches, emit_task_writes
from service.store.common import ApplyStats, _newer_or_equal, guarded_upsert, upsert_projects
from service.store.links import delete_links, link_times, replace_links, upsert_links
from service.store.people import resolve_people
from service.store.records import delete_milestones, delete_worklogs, upsert_milestones, upsert_worklogs
from service.store.rollups import (
    keep_activity,
    lock_sources,
    pair_worklogs,
    touched_tasks,
    tracked,
    with_worklogs,
    worklogs_of_tasks,
)
from service.store.sql import bulk_insert, chunks, executemany, in_list, insert_for, statement, uniq
from service.tables import (
    Change as ChangeRow,
)
from service.tables import (
    Milestone as MilestoneRow,
)
from service.tables import (
    Project as ProjectRow,
)
from service.tables import (
    Task as TaskRow,
)
from service.tables import (
    TaskAssignee,
    TaskMilestone,
    table,
    utcnow,
)
from service.tables import (
    Worklog as WorklogRow,
)

__all__ = [
    "ApplyStats",
    "apply_effects",
    "apply_task_deletes",
    "apply_task_patches",
    "delete_milestones",
    "delete_worklogs",
    "upsert_milestones",
    "upsert_projects",
    "upsert_tasks",
    "upsert_worklogs",
]

T = table(TaskRow)
PR = table(ProjectRow)
M = table(MilestoneRow)
W = table(WorklogRow)
C = table(ChangeRow)
TA = table(TaskAssignee)
TM = table(TaskMilestone)

# Columns a partial update (TaskPatch) may set.
_PATCHABLE = {
    "title", "status", "status_category", "archived", "due_date", "start_date", "priority", "labels",
    "flagged", "affected_versions",
}


# --- tasks -----------------------------------------------------------------------------


def _existing(
    conn: Connection, table: sa.Table, source_id: int, ext_ids: Sequence[str], cols: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    columns = [table.c.external_id, *(table.c[c] for c in cols)]
    for part in chunks(list(ext_ids)):
        for row in conn.execute(
            sa.select(*columns).where(table.c.source_id == source_id, in_list(conn, table.c.external_id, part))
        ):
            out[row.external_id] = row
    return out


def _assignee_key(assignees: list[dict[str, Any]] | None) -> str:
    return ",".join(sorted(a["external_id"] for a in assignees or []))


def _observed_changes(prev: Any, new: dict[str, Any], explicit_fields: set[str], at: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(field_: str, old: Any, val: Any, **extra: Any) -> None:
        if field_ in explicit_fields:
            return
        out.append({"field": field_, "from_value": None if old is None else str(old),
                    "to_value": None if val is None else str(val), "changed_at": at,
                    "external_id": f"obs:{field_}:{at.isoformat()}", "origin": "observed",
                    "from_category": None, "to_category": None, "from_id": None, "to_id": None, **extra})

    if prev.status != new["status"] or prev.status_category != new["status_category"]:
        add("status", prev.status, new["status"], from_category=prev.status_category,
            to_category=new["status_category"])
    if _assignee_key(prev.assignees) != _assignee_key(new["assignees"]):
        add("assignee", _assignee_key(prev.assignees) or None, _assignee_key(new["assignees"]) or None)
    if prev.due_date != new["due_date"]:
        add("due_date", prev.due_date, new["due_date"])
    # One row per unit, named as Jira's changelog names them: ``points``, and ``estimate`` in
    # seconds (one row for both read "5" as points or seconds by the task's unit at read time).
    if prev.estimate_points != new["estimate_points"]:
        add("points", prev.estimate_points, new["estimate_points"])
    if prev.estimate_seconds != new["estimate_seconds"]:
        add("estimate", prev.estimate_seconds, new["estimate_seconds"])
    if bool(prev.flagged) != bool(new["flagged"]):  # a Trello label or Jira's Flagged, no entry for it
        add("flagged", _flag(prev.flagged), _flag(new["flagged"]))
    return out


def _flag(value: Any) -> str:
    return "true" if value else "false"


_TOOL_ID_MAX = 50  # change.from_id / to_id


def _tool_id(value: str | None) -> str | None:
    """A value's id as stored: one longer than the column (no status id is) is not kept, and
    the row is categorized by its name instead."""
    return value if value is None or len(value) <= _TOOL_ID_MAX else None


def change_rows(org_id: int, source_id: int, changes: Iterable[Change]) -> list[dict[str, Any]]:
    rows = []
    for ch in changes:
        rows.append({
            "org_id": org_id, "source_id": source_id, "task_external_id": ch.task_external_id,
            "external_id": ch.external_id or f"{ch.field}:{ch.changed_at.isoformat()}",
            "field": ch.field, "from_value": ch.from_value, "to_value": ch.to_value,
            "from_category": ch.from_category.value if ch.from_category else None,
            "to_category": ch.to_category.value if ch.to_category else None,
            "from_id": _tool_id(ch.from_id), "to_id": _tool_id(ch.to_id),
            "changed_at": ch.changed_at, "origin": "changelog",
        })
    return rows


CHANGE_COLUMNS = ("org_id", "source_id", "task_external_id", "external_id", "field", "from_value", "to_value",
                   "from_category", "to_category", "from_id", "to_id", "changed_at", "origin")


def insert_changes(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    ins = statement(conn, "changes", lambda: bulk_insert(conn, C, CHANGE_COLUMNS).on_conflict_do_nothing(
        index_elements=["source_id", "task_external_id", "external_id"]))
    seen: set[tuple[str, str]] = set()
    unique = []
    for r in rows:
        k = (r["task_external_id"], r["external_id"])
        if k not in seen:
            seen.add(k)
            unique.append(r)
    executemany(conn, ins, unique)  # change_rows and _observed_changes give every column
    activity_moved(conn, unique)


def activity_moved(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Recompute the latest activity of the stored tasks these change rows may move: those whose
    kept value is unset or earlier than one of the rows. Change rows are only ever added (a row
    stored already keeps its time), so a task none of whose rows here is later than its kept
    value keeps it: a sync re-sending a task's whole changelog recomputes nothing. A task not
    stored yet takes its value in its own write (``tracked``: the tasks whose value is unset)."""
    latest: dict[int, dict[str, datetime]] = defaultdict(dict)
    for r in rows:
        at, mine = _utc(r["changed_at"]), latest[r["source_id"]]
        ext = r["task_external_id"]
        if ext not in mine or at > mine[ext]:
            mine[ext] = at
    for source_id, by_ext in sorted(latest.items()):
        kept = _existing(conn, T, source_id, sorted(by_ext), ["last_activity_at"])
        moved = sorted(e for e, row in kept.items()
                       if row.last_activity_at is None or _utc(row.last_activity_at) < by_ext[e])
        if moved:
            keep_activity(conn, touched_tasks(conn, source_id, moved))


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def upsert_tasks(
    conn: Connection, org_id: int, source_id: int, upserts: Sequence[TaskUpsert], *, keep_raw: bool = True
) -> ApplyStats:
    stats = ApplyStats(seen=len(upserts))
    # Newest version per task within the batch. The changelog entries of every version are kept,
    # whichever version wins: each is a change that happened (two webhooks of one issue in a
    # batch, or one arriving after a newer version, carry different entries); stored once by id.
    latest: dict[str, TaskUpsert] = {}
    history: dict[str, list[Change]] = {}
    for u in upserts:
        cur = latest.get(u.task.external_id)
        if cur is None or _newer_or_equal(u.task.updated_at, cur.task.updated_at):
            latest[u.task.external_id] = u
        if u.changes:
            history.setdefault(u.task.external_id, []).extend(u.changes)
    if not latest:
        return stats
    # In key order: concurrent writers of a source (a sync page, a webhook batch) then lock the
    # task rows they share in the same order and wait for each other instead of deadlocking.
    latest = dict(sorted(latest.items()))
    ext_ids = list(latest)
    lock_sources(conn, [source_id])  # first: what is read below stays what is stored until commit
    project_ids = upsert_projects(
        conn, org_id, source_id,
        ((u.task.project_external_id, u.task.project_key, None) for u in latest.values()
         if u.task.project_external_id),
    )
    person_ids = resolve_people(conn, org_id, (a for u in latest.values() for a in u.task.assignees))
    prev = _existing(conn, T, source_id, ext_ids, list(dict.fromkeys([
        "id", "remote_updated_at", "status", "status_category", "assignees", "due_date",
        "estimate_points", "estimate_seconds", "started_at", "completed_at", "project_id", "deleted_at",
        "flagged", *TASK_COLUMNS,  # the task events compare them
    ])))
    rows: list[dict[str, Any]] = []
    pending_changes: list[dict[str, Any]] = []
    stale_changes: list[dict[str, Any]] = []  # of tasks stored in a newer version
    accepted: list[TaskUpsert] = []
    now = utcnow()
    for ext, u in latest.items():
        t = u.task
        old = prev.get(ext)
        if old is not None and not _newer_or_equal(t.updated_at, old.remote_updated_at):
            stats.stale += 1
            stale_changes.extend(change_rows(org_id, source_id, history.get(ext, ())))
            continue
        accepted.append(u)
        assignees = [a.model_dump(mode="json", exclude_none=True) for a in t.assignees]
        started_at, completed_at = t.started_at, t.completed_at
        at = t.updated_at or now
        if t.status_category == StatusCategory.done and completed_at is None:
            completed_at = old.completed_at if old is not None and old.completed_at else at
        if old is not None and old.started_at and (started_at is None or old.started_at < started_at):
            started_at = old.started_at  # a webhook knows only its own changelog: keep the earliest
        if t.status_category != StatusCategory.todo and started_at is None:
            started_at = at
        row = {
            "org_id": org_id, "source_id": source_id, "external_id": ext,
            "project_id": project_ids.get(t.project_external_id or ""),
            "key": t.key, "url": t.url, "title": t.title, "type": t.type.value, "status": t.status,
            "status_category": t.status_category.value, "priority": t.priority, "assignees": assignees,
            "labels": t.labels, "milestone_refs": [m.model_dump(mode="json") for m in t.milestones],
            "parent_external_id": t.parent, "sprint": t.sprint, "remote_created_at": t.created_at,
            "remote_updated_at": t.updated_at, "started_at": started_at, "completed_at": completed_at,
            "due_date": t.due_date, "start_date": t.start_date, "estimate_points": t.estimate_points,
            "estimate_seconds": t.estimate_seconds, "remaining_seconds": t.remaining_seconds,
            "spent_seconds": t.spent_seconds, "cost": t.cost, "checklist_total": t.checklist_total,
            "checklist_done": t.checklist_done, "is_milestone": t.is_milestone, "archived": t.archived,
            "flagged": t.flagged, "affected_versions": t.affected_versions,
            "deleted_at": None, "deleted_reason": None,
            "raw": u.raw if keep_raw else None, "synced_at": now,
        }
        rows.append(row)
        explicit = {c.field for c in u.changes}
        pending_changes.extend(change_rows(org_id, source_id, history.get(ext, ())))
        if old is not None and old.remote_updated_at != t.updated_at:
            for ch in _observed_changes(old, row, explicit, at):
                pending_changes.append({"org_id": org_id, "source_id": source_id, "task_external_id": ext, **ch})
    if not rows:
        insert_changes(conn, stale_changes)
        return stats
    # The worklogs whose copy of their task moves: those of new tasks (they may have arrived
    # first), of tasks moved to another project and of tombstoned tasks brought back — of the
    # tasks that have worklogs at all (none, in a backfill: the worklogs come after the issues).
    written = [r["external_id"] for r in rows]
    repair = with_worklogs(conn, source_id, [
        r["external_id"] for r in rows if (old := prev.get(r["external_id"])) is None
        or old.project_id != r["project_id"] or old.deleted_at is not None])
    with tracked(conn, [source_id], tasks=touched_tasks(conn, source_id, written),
                 worklogs=worklogs_of_tasks(conn, source_id, repair) if repair else None, new_tasks=not prev):
        # One bulk write without RETURNING (PostgreSQL: one statement over a JSON page; SQLite:
        # the cursor's executemany), then read back which rows carry our version: those the guard
        # let through.
        executemany(conn, guarded_upsert(conn, T, tuple(rows[0])), rows)
        task_ids: dict[str, int] = {}
        for part in chunks(written):
            for tid, ext, stored_at in conn.execute(
                sa.select(T.c.id, T.c.external_id, T.c.remote_updated_at).where(
                    T.c.source_id == source_id, in_list(conn, T.c.external_id, part)
                )
            ):
                if stored_at == latest[ext].task.updated_at:
                    task_ids[ext] = tid
        # Re-applying the stored version is idempotent and not a change.
        stats.changed = sum(1 for ext in task_ids
                            if ext not in prev or prev[ext].remote_updated_at != latest[ext].task.updated_at)
        stats.stale += len(rows) - len(task_ids)
        insert_changes(conn, [r for r in pending_changes if r["task_external_id"] in task_ids] + stale_changes)
        _replace_links(conn, source_id, task_ids, accepted, person_ids, org_id, existed=set(prev))
        held = {u.task.external_id: u.task.links for u in accepted
                if u.task.links is not None and u.task.external_id in task_ids}
        if held:
            replace_links(conn, org_id, source_id, held,
                          link_times(c for ext in held for c in history.get(ext, ())),
                          existed=any(ext in prev for ext in held))
        emit_task_writes(conn, org_id, source_id, prev, {r["external_id"]: r for r in rows}, task_ids)
        if repair:
            pair_worklogs(conn, worklogs_of_tasks(conn, source_id, repair))
    return stats


def _replace_links(
    conn: Connection, source_id: int, task_ids: dict[str, int], accepted: list[TaskUpsert],
    person_ids: dict[tuple[str, str], int], org_id: int, existed: set[str],
) -> None:
    """Make the stored tasks' assignee and milestone links those of their accepted versions,
    writing only the differences (a re-sync mostly changes no link). Only
    tasks that existed before can have links to drop (a backfill reads none); the inserts
    tolerate a link a concurrent writer already made."""
    ids = [tid for ext, tid in task_ids.items() if ext in existed]
    pairs = uniq(
        (task_ids[u.task.external_id], person_ids[(a.tool, a.external_id)])
        for u in accepted if u.task.external_id in task_ids
        for a in u.task.assignees if (a.tool, a.external_id) in person_ids
    )
    _write_links(conn, TA, "person_id", ids, pairs)
    refs = {m.external_id: m.name for u in accepted if u.task.external_id in task_ids for m in u.task.milestones}
    mids = _ids(conn, M, source_id, list(refs)) if refs else {}
    if missing := sorted((e, n) for e, n in refs.items() if e not in mids):
        # A milestone referenced before its own record arrived: a placeholder the real one fills.
        ins = insert_for(conn, M).on_conflict_do_nothing(index_elements=["source_id", "external_id"])
        for part in chunks(missing):  # key order, as the tasks: no deadlock between writers
            conn.execute(ins, [{"org_id": org_id, "source_id": source_id, "external_id": e, "name": n or e,
                                "released": False, "archived": False, "synced_at": utcnow()} for e, n in part])
        mids.update(_ids(conn, M, source_id, [e for e, _ in missing]))
    mpairs = uniq(
        (task_ids[u.task.external_id], mids[m.external_id])
        for u in accepted if u.task.external_id in task_ids
        for m in u.task.milestones if m.external_id in mids
    )
    _write_links(conn, TM, "milestone_id", ids, mpairs)


def _write_links(conn: Connection, table: sa.Table, other: str, existing: list[int], pairs: list[tuple[int, int]]
                 ) -> None:
    """Make the link rows ``(task_id, other)`` of the tasks ``existing`` (stored before) and of
    ``pairs``' tasks exactly ``pairs``: delete the stored links not in it, insert the others."""
    have: set[tuple[int, int]] = set()
    for part in chunks(existing):
        have.update((t, o) for t, o in conn.execute(
            sa.select(table.c.task_id, table.c[other]).where(in_list(conn, table.c.task_id, part))
        ).all())
    want = set(pairs)
    gone = sorted(have - want)
    for gone_part in chunks(gone):
        conn.execute(sa.delete(table).where(sa.tuple_(table.c.task_id, table.c[other]).in_(list(gone_part))))
    add = [p for p in pairs if p not in have]
    if add:
        link = statement(conn, table.name,
                         lambda: bulk_insert(conn, table, ("task_id", other)).on_conflict_do_nothing())
        executemany(conn, link, [{"task_id": t, other: o} for t, o in add])


def _ids(conn: Connection, table: sa.Table, source_id: int, ext_ids: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in chunks(ext_ids):
        for i, e in conn.execute(
            sa.select(table.c.id, table.c.external_id)
            .where(table.c.source_id == source_id, in_list(conn, table.c.external_id, part))
        ):
            out[e] = i
    return out


def apply_task_deletes(conn: Connection, org_id: int, source_id: int, deletes: Sequence[TaskDelete]) -> ApplyStats:
    """Tombstone tasks. A delete for a task never seen leaves a tombstone, so a late
    ``created`` event cannot bring it back."""
    stats = ApplyStats(seen=len(deletes))
    if not deletes:
        return stats
    exts = sorted({d.external_id for d in deletes})
    with tracked(conn, [source_id], tasks=touched_tasks(conn, source_id, exts),
                 worklogs=worklogs_of_tasks(conn, source_id, exts)):
        before = _existing(conn, T, source_id, exts, ["id", "project_id", "deleted_at", "remote_updated_at"])
        _tombstone(conn, org_id, source_id, [_dated_by_move(d, before.get(d.external_id)) for d in deletes], stats)
        # How a task left, where the event tells it (a Trello card moved to a board not mirrored).
        insert_changes(conn, change_rows(org_id, source_id, [c for d in deletes for c in d.changes]))
        pair_worklogs(conn, worklogs_of_tasks(conn, source_id, exts))
        after = _existing(conn, T, source_id, [e for e, r in before.items() if r.deleted_at is None], ["deleted_at"])
        emit_task_deletes(conn, org_id, source_id, {e: r for e, r in before.items() if r.deleted_at is None},
                          {e for e, r in after.items() if r.deleted_at is not None})
    return stats


def _dated_by_move(d: TaskDelete, row: Any) -> TaskDelete:
    """An out-of-scope tombstone dated by the move it carries (a Trello card re-fetched on a board
    the source does not mirror: ``sync.trello_boards.merge_refetched``) is checked against the
    version stored: one older than it means the card moved again after the move seen (between the
    actions read and the re-fetch, or through another board's pass), so it takes this write's time,
    as it did before moves dated it; else the stale-delete guard would skip it until the next poll."""
    if d.reason is not DeletedReason.out_of_scope or not d.changes or d.at is None or row is None:
        return d
    stored = row.remote_updated_at
    if stored is None or _utc(stored) <= _utc(d.at):
        return d
    return d.model_copy(update={"at": utcnow()})


def _tombstone(conn: Connection, org_id: int, source_id: int, deletes: Sequence[TaskDelete], stats: ApplyStats
               ) -> None:
    now = utcnow()
    for d in deletes:
        # Never after we learn of it (a tool's clock ahead of ours): a tombstone is stamped no later
        # than its sync, which the views' "current state" shortcut and the task rollups rely on.
        at = min(d.at or now, now)
        res = conn.execute(
            sa.update(T)
            .where(T.c.source_id == source_id, T.c.external_id == d.external_id,
                   sa.or_(T.c.remote_updated_at.is_(None), T.c.remote_updated_at <= at))
            .values(deleted_at=at, deleted_reason=d.reason.value, remote_updated_at=at, synced_at=now)
        )
        if res.rowcount:
            stats.deleted += 1
            continue
        ins = insert_for(conn, T).on_conflict_do_nothing(index_elements=["source_id", "external_id"])
        res = conn.execute(ins, {
            "org_id": org_id, "source_id": source_id, "external_id": d.external_id, "title": "",
            "type": "task", "status_category": "todo", "deleted_at": at, "deleted_reason": d.reason.value,
            "remote_updated_at": at, "synced_at": now, "is_milestone": False, "archived": False, "flagged": False,
        })
        if res.rowcount:
            stats.deleted += 1
        else:
            stats.stale += 1


def apply_task_patches(conn: Connection, org_id: int, source_id: int, patches: Sequence[TaskPatch]) -> ApplyStats:
    """Apply what a partial event tells, under the same guard. Unknown tasks are left to the
    re-fetch that follows (a patch never creates a task)."""
    stats = ApplyStats(seen=len(patches))
    if not patches:
        return stats
    with tracked(conn, [source_id], tasks=touched_tasks(conn, source_id, sorted({p.external_id for p in patches}))):
        _patch(conn, org_id, source_id, patches, stats)
    return stats


def _patch(conn: Connection, org_id: int, source_id: int, patches: Sequence[TaskPatch], stats: ApplyStats) -> None:
    now = utcnow()
    stored = {e: dict(r._mapping) for e, r in _existing(
        conn, T, source_id, sorted({p.external_id for p in patches}), ["id", "project_id", *sorted(_PATCHABLE)]
    ).items()}  # what the task events compare with
    applied: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for p in patches:
        values = {k: v for k, v in p.fields.items() if k in _PATCHABLE}
        if "status_category" in values and isinstance(values["status_category"], StatusCategory):
            values["status_category"] = values["status_category"].value
        links = p.fields.get("links")
        if not values and links is None:
            continue
        at = p.updated_at or now
        res = conn.execute(
            sa.update(T)
            .where(T.c.source_id == source_id, T.c.external_id == p.external_id, T.c.deleted_at.is_(None),
                   sa.or_(T.c.remote_updated_at.is_(None), T.c.remote_updated_at <= at))
            .values(**values, remote_updated_at=at, synced_at=now)
        )
        if res.rowcount:
            stats.changed += 1
            insert_changes(conn, change_rows(org_id, source_id, p.changes))
            if links is not None:
                replace_links(conn, org_id, source_id, {p.external_id: [
                    link if isinstance(link, LinkRef) else LinkRef.model_validate(link) for link in links
                ]}, link_times(p.changes))
            applied.append((dict(stored[p.external_id]), values))
            stored[p.external_id].update(values)
        else:
            stats.stale += 1
    emit_task_patches(conn, org_id, source_id, applied)


# --- everything at once ----------------------------------------------------------------


def apply_effects(conn: Connection, org_id: int, source_id: int, effects: Iterable[Effect]) -> ApplyStats:
    """Apply a mixed list of effects in dependency order, in the caller's transaction."""
    lock_sources(conn, [source_id])  # the source's writers take turns (service.store.rollups)
    groups: dict[type, list[Any]] = {}
    for e in effects:
        groups.setdefault(type(e), []).append(e)
    stats = ApplyStats()
    stats.add(upsert_milestones(conn, org_id, source_id, groups.get(MilestoneUpsert, [])))
    stats.add(upsert_tasks(conn, org_id, source_id, groups.get(TaskUpsert, [])))
    stats.add(apply_task_patches(conn, org_id, source_id, groups.get(TaskPatch, [])))
    stats.add(apply_task_deletes(conn, org_id, source_id, groups.get(TaskDelete, [])))
    stats.add(upsert_worklogs(conn, org_id, source_id, groups.get(WorklogUpsert, [])))
    stats.add(delete_worklogs(conn, source_id, groups.get(WorklogDelete, [])))
    stats.add(delete_milestones(conn, source_id, groups.get(MilestoneDelete, [])))
    stats.add(upsert_links(conn, org_id, source_id, groups.get(LinkUpsert, [])))
    stats.add(delete_links(conn, source_id, groups.get(LinkDelete, [])))
    for ign in groups.get(Ignored, []):
        stats.ignored += 1
        stats.ignored_reasons.append(ign.reason)
    return stats

