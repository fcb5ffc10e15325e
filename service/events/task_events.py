"""``task.created``, ``task.updated``, ``task.deleted``: emitted by the store's task writes.

Every task write goes through ``service.store.tasks`` (the inbox's ``_commit`` and every sync
page alike), and only there are the stored version and the written one both known, under the
source's lock: so this is the one place that decides which task event a write is, in the
write's own transaction (a rolled-back write leaves no event).

- ``task.created``: a task stored for the first time, or brought back from a tombstone.
- ``task.updated``: a stored task whose common-model fields changed; ``data.changed`` has
  each changed field, ``{"old": …, "new": …}``. A re-applied version that changes
  nothing emits nothing.
- ``task.deleted``: a live task tombstoned (a tombstone for a task never seen is not one).

Backfills are quiet (``quiet_source``): a sync run that reads a source from scratch (mode
``backfill`` or ``full``, or the source's first sync) emits no per-task events; the store
counts what it would have emitted and the runner sends one ``source.synced`` with the counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from service.events import catalog
from service.events.outbox import record, subscribed_endpoints

__all__ = ["TASK_COLUMNS", "emit_task_deletes", "emit_task_patches", "emit_task_writes", "quiet_source",
           "task_changes"]

# Stored column -> the event's field name: the common model's fields a subscriber sees change.
_FIELDS = {
    "key": "key", "url": "url", "title": "title", "type": "type", "status": "status",
    "status_category": "status_category", "priority": "priority", "assignees": "assignees",
    "labels": "labels", "milestone_refs": "milestones", "parent_external_id": "parent", "sprint": "sprint",
    "project_id": "project_id", "started_at": "started_at", "completed_at": "completed_at",
    "due_date": "due_date", "start_date": "start_date", "estimate_points": "estimate_points",
    "estimate_seconds": "estimate_seconds", "remaining_seconds": "remaining_seconds",
    "spent_seconds": "spent_seconds", "cost": "cost", "is_milestone": "is_milestone", "archived": "archived",
}
TASK_COLUMNS = tuple(_FIELDS)  # what the store reads of the stored version to compare

_quiet: ContextVar[dict[int, Counter[str]] | None] = ContextVar("taskhub_quiet_sources", default=None)


@contextmanager
def quiet_source(source_id: int) -> Iterator[Counter[str]]:
    """Within the block, task writes of this source emit no event; the counter yielded counts
    them instead (``created``, ``updated``, ``deleted``) for the run's ``source.synced``."""
    counts: Counter[str] = Counter()
    outer = _quiet.get() or {}
    token = _quiet.set({**outer, source_id: counts})
    try:
        yield counts
    finally:
        _quiet.reset(token)


def _plain(column: str, value: Any) -> Any:
    """A stored value as the event carries it, equal for equal values whichever store or driver
    read it (SQLite gives instants back naive, in UTC)."""
    if value is None:
        return None
    if column == "assignees":
        return sorted(a["external_id"] for a in value)
    if column == "milestone_refs":
        return sorted(m["external_id"] for m in value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def task_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The common-model fields that differ between two versions of a task: ``{field: {old, new}}``
    (only the columns ``new`` has)."""
    out = {}
    for column, name in _FIELDS.items():
        if column not in new:
            continue
        before, after = _plain(column, old.get(column)), _plain(column, new[column])
        if before != after:
            out[name] = {"old": before, "new": after}
    return out


def _data(task_id: int, source_id: int, row: Mapping[str, Any]) -> dict[str, Any]:
    return {"task_id": task_id, "source_id": source_id, "external_id": row["external_id"],
            "project_id": row.get("project_id"),
            "links": {"task": f"/api/v1/tasks/{task_id}"}}


class _Batch:
    """One write's events: who listens is asked once per type and write (a page of 1,000 tasks
    costs one SELECT, not 1,000, with endpoints or without), and each event recorded for them."""

    def __init__(self, conn: Connection, org_id: int, source_id: int) -> None:
        self.conn, self.org_id, self.source_id = conn, org_id, source_id
        self.counts = (_quiet.get() or {}).get(source_id)
        self.heard: dict[str, list[int]] = {}

    def _listeners(self, name: str) -> list[int]:
        if name not in self.heard:
            self.heard[name] = subscribed_endpoints(self.conn, self.org_id, name)
        return self.heard[name]

    def wants(self, kind: str) -> bool:
        """Whether a ``task.<kind>`` is counted (a quiet run) or heard: asked before an event's data
        is built, so a sync in an organization without endpoints compares no rows."""
        return self.counts is not None or bool(self._listeners(f"task.{kind}"))

    def emit(self, kind: str, task_id: int, data: dict[str, Any]) -> None:
        if self.counts is not None:
            self.counts[kind] += 1
            return
        name = f"task.{kind}"
        if endpoints := self._listeners(name):  # ``emit`` without asking again per event
            record(self.conn, self.org_id, catalog.get(name), catalog.validate_data(name, data), endpoints,
                   subject=f"task:{task_id}")


def emit_task_writes(conn: Connection, org_id: int, source_id: int, prev: Mapping[str, Any],
                     rows: Mapping[str, Mapping[str, Any]], task_ids: Mapping[str, int]) -> None:
    """The events of an upsert: ``prev`` the stored versions read before it (rows with the
    ``TASK_COLUMNS`` and ``deleted_at``), ``rows`` the versions written, ``task_ids`` those the
    guard let through."""
    batch = _Batch(conn, org_id, source_id)
    for ext, task_id in task_ids.items():
        row, old = rows[ext], prev.get(ext)
        if old is None or old.deleted_at is not None:
            if batch.wants("created"):
                batch.emit("created", task_id, _data(task_id, source_id, row))
        elif batch.wants("updated") and (changes := task_changes(old._mapping, row)):
            batch.emit("updated", task_id,
                       {**_data(task_id, source_id, {**old._mapping, **row}), "changed": changes})


def emit_task_patches(conn: Connection, org_id: int, source_id: int,
                      applied: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
    """The events of partial updates the guard let through, in order: each ``(old, values)`` the
    stored row before (with ``id``, ``external_id``, ``project_id`` and the patched columns) and
    what the patch set."""
    batch = _Batch(conn, org_id, source_id)
    for old, values in applied:
        if batch.wants("updated") and (changes := task_changes(old, values)):
            batch.emit("updated", old["id"], {**_data(old["id"], source_id, old), "changed": changes})


def emit_task_deletes(conn: Connection, org_id: int, source_id: int, alive: Mapping[str, Any],
                      tombstoned: set[str]) -> None:
    """The events of tombstones: ``alive`` the tasks alive before (rows with ``id``,
    ``external_id``, ``project_id``), ``tombstoned`` the external ids the write tombstoned."""
    batch = _Batch(conn, org_id, source_id)
    for ext in sorted(tombstoned & set(alive)):
        row = alive[ext]._mapping
        batch.emit("deleted", row["id"], _data(row["id"], source_id, row))
