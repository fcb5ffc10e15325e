"""Issue links (``task_link``): each side's rows, replaced from a task's full list, added or
tombstoned by link events (issue 23).

A task version that carries its links (``Task.links`` not None: a Jira issue with
``issuelinks``) is the whole truth for the rows that task holds: a listed link not stored is
inserted (``created_at`` = the time of the changelog's "Link" entry naming the other issue and
the phrase, else now), a stored one is updated where it differs (and revived when it was
tombstoned), a stored one no longer listed is tombstoned (``deleted_at`` = now). A version
without links (``None``) leaves the rows alone. Rows are written only where they differ, so a
re-sync that changes no link writes nothing; a source without any link row reads nothing.

Link events (Jira ``issuelink_created`` / ``issuelink_deleted``) name the two issues by id
only: the other side's key and status category are filled from the stored task when known.
A deleted task's rows stay: views join them on the task, whose tombstone hides them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings.model import Change, LinkDelete, LinkRef, LinkUpsert
from service.store.common import ApplyStats
from service.store.sql import bulk_insert, chunks, executemany, in_list, statement
from service.tables import Task as TaskRow
from service.tables import TaskLink, table, utcnow

__all__ = ["LINK_COLUMNS", "link_times", "replace_links", "upsert_links", "delete_links"]

L = table(TaskLink)
T = table(TaskRow)

LINK_COLUMNS = (
    "org_id", "source_id", "task_external_id", "external_id", "link_type", "direction", "phrase", "role",
    "other_external_id", "other_key", "other_status_category", "created_at", "deleted_at", "synced_at",
)
# What a stored row is compared on (what the tool says of the link).
_SAID = ("link_type", "direction", "phrase", "role", "other_external_id", "other_key", "other_status_category")


def link_times(changes: Iterable[Change]) -> dict[str, list[tuple[datetime, str]]]:
    """The changelog's links made, per task: ``{task: [(time, "This issue is blocked by ABC-1")]}``
    keyed by ``(task, other key)`` through ``to_id``; oldest first."""
    out: dict[str, list[tuple[datetime, str]]] = {}
    for ch in changes:
        if ch.field == "link" and ch.to_id:
            out.setdefault(f"{ch.task_external_id}\x00{ch.to_id}", []).append((ch.changed_at, ch.to_value or ""))
    return out


def _made_at(made: Mapping[str, list[tuple[datetime, str]]], task: str, link: LinkRef) -> datetime | None:
    """When the changelog says the link was made: its latest "Link" entry naming the other
    issue (and the link's phrase, when the entry's text is known)."""
    if not link.other_key:
        return None
    found = made.get(f"{task}\x00{link.other_key}")
    if not found:
        return None
    phrase = (link.phrase or "").casefold()
    fitting = [t for t, text in found if not phrase or not text or phrase in text.casefold()]
    return max(fitting) if fitting else None


def _row(org_id: int, source_id: int, task: str, link: LinkRef, created: datetime, now: datetime
         ) -> dict[str, Any]:
    return {
        "org_id": org_id, "source_id": source_id, "task_external_id": task, "external_id": link.external_id,
        "link_type": link.link_type, "direction": link.direction, "phrase": link.phrase, "role": link.role,
        "other_external_id": link.other_external_id, "other_key": link.other_key,
        "other_status_category": link.other_status_category.value if link.other_status_category else None,
        "created_at": created, "deleted_at": None, "synced_at": now,
    }


def _any_rows(conn: Connection, source_id: int) -> bool:
    return conn.execute(sa.select(L.c.id).where(L.c.source_id == source_id).limit(1)).first() is not None


def _stored(conn: Connection, source_id: int, tasks: Sequence[str]) -> dict[tuple[str, str], Any]:
    out: dict[tuple[str, str], Any] = {}
    cols = [L.c.id, L.c.task_external_id, L.c.external_id, L.c.created_at, L.c.deleted_at, *(L.c[c] for c in _SAID)]
    for part in chunks(list(tasks)):
        for r in conn.execute(sa.select(*cols).where(L.c.source_id == source_id,
                                                     in_list(conn, L.c.task_external_id, part))):
            out[(r.task_external_id, r.external_id)] = r
    return out


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        ins = statement(conn, "task_link", lambda: bulk_insert(conn, L, LINK_COLUMNS).on_conflict_do_nothing(
            index_elements=["source_id", "task_external_id", "external_id"]))
        executemany(conn, ins, rows)


def _update(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        cols = [c for c in rows[0] if c != "row_id"]
        stmt = sa.update(L).where(L.c.id == sa.bindparam("row_id")).values(
            {c: sa.bindparam(c, type_=L.c[c].type) for c in cols})
        conn.execute(stmt, rows)


def _tombstone(conn: Connection, ids: list[int], at: datetime) -> None:
    for part in chunks(sorted(ids)):
        conn.execute(sa.update(L).where(in_list(conn, L.c.id, part)).values(deleted_at=at, synced_at=at))


def replace_links(
    conn: Connection, org_id: int, source_id: int, held: Mapping[str, list[LinkRef]],
    made: Mapping[str, list[tuple[datetime, str]]] | None = None, *, existed: bool = True,
) -> None:
    """Make the rows the tasks ``held`` hold their listed links (see the module docstring).
    ``made``: ``link_times`` of their changes. ``existed=False``: none of the tasks was stored
    before (a backfill page), so none holds a row yet: nothing is read."""
    if not held:
        return
    made = made or {}
    now = utcnow()
    listed = any(held.values())
    stored = _stored(conn, source_id, sorted(held)) if existed and (listed or _any_rows(conn, source_id)) else {}
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for task, links in held.items():
        for link in links:
            key = (task, link.external_id)
            if key in seen:
                continue
            seen.add(key)
            at = _made_at(made, task, link)
            row = _row(org_id, source_id, task, link, min(at, now) if at else now, now)
            old = stored.get(key)
            if old is None:
                inserts.append(row)
                continue
            change = {c: row[c] for c in _SAID if getattr(old, c) != row[c]}
            if old.deleted_at is not None:
                change["deleted_at"] = None
                if at is None:
                    change["created_at"] = now  # made again: "blocked since" starts now
            if at is not None and old.created_at != row["created_at"] and (
                    old.deleted_at is not None or row["created_at"] < old.created_at):
                change["created_at"] = row["created_at"]
            if change:
                updates.append({"row_id": old.id, **change, "synced_at": now})
    gone = [r.id for k, r in stored.items() if k not in seen and r.deleted_at is None]
    _insert(conn, inserts)
    for group in _same_keys(updates):
        _update(conn, group)
    _tombstone(conn, gone, now)


def _same_keys(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Updates grouped by the columns they set (one executemany per shape)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(sorted(r)), []).append(r)
    return list(groups.values())


def _tasks_known(conn: Connection, source_id: int, ids: Sequence[str]) -> dict[str, tuple[str | None, str | None]]:
    """``{task external id: (key, status category)}`` of the stored, live tasks among ``ids``."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for part in chunks(sorted(set(ids))):
        for ext, key, cat in conn.execute(sa.select(T.c.external_id, T.c.key, T.c.status_category).where(
                T.c.source_id == source_id, T.c.deleted_at.is_(None), in_list(conn, T.c.external_id, part))):
            out[ext] = (key, cat)
    return out


def upsert_links(conn: Connection, org_id: int, source_id: int, items: Sequence[LinkUpsert]) -> ApplyStats:
    """Add the link sides an event announced (a side already stored is revived and completed; its
    ``created_at`` stays unless it was tombstoned). The other issue's key and status category
    come from its stored task when the event does not give them."""
    stats = ApplyStats(seen=len(items))
    if not items:
        return stats
    now = utcnow()
    known = _tasks_known(conn, source_id, [u.link.other_external_id for u in items])
    stored = _stored(conn, source_id, sorted({u.task_external_id for u in items}))
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    added: set[tuple[str, str]] = set()
    for u in items:
        link = u.link
        key, cat = known.get(link.other_external_id, (None, None))
        row = _row(org_id, source_id, u.task_external_id, link, min(u.at or now, now), now)
        row["other_key"] = link.other_key or key
        row["other_status_category"] = row["other_status_category"] or cat
        k = (u.task_external_id, link.external_id)
        if k in added:  # twice in one batch
            continue
        added.add(k)
        old = stored.get(k)
        if old is None:
            inserts.append(row)
            stats.changed += 1
            continue
        change = {c: row[c] for c in ("link_type", "direction", "phrase", "role", "other_external_id")
                  if getattr(old, c) != row[c]}
        change.update({c: row[c] for c in ("other_key", "other_status_category") if getattr(old, c) is None and row[c]})
        if old.deleted_at is not None:
            change.update(deleted_at=None, created_at=row["created_at"])
        if change:
            updates.append({"row_id": old.id, **change, "synced_at": now})
            stats.changed += 1
    _insert(conn, inserts)
    for group in _same_keys(updates):
        _update(conn, group)
    return stats


def delete_links(conn: Connection, source_id: int, items: Sequence[LinkDelete]) -> ApplyStats:
    """Tombstone both sides' rows of each link id (a link not stored: nothing to do)."""
    stats = ApplyStats(seen=len(items))
    now = utcnow()
    for d in items:
        at = min(d.at or now, now)
        res = conn.execute(sa.update(L).where(L.c.source_id == source_id, L.c.external_id == d.external_id,
                                              L.c.deleted_at.is_(None)).values(deleted_at=at, synced_at=now))
        if res.rowcount:
            stats.deleted += 1
    return stats
