"""Pieces every store module shares: apply statistics, the monotonic guard, projects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.rollups import lock_sources
from service.store.sql import bulk_insert, chunks, in_list, insert_for, statement
from service.tables import Project as ProjectRow
from service.tables import table

__all__ = ["ApplyStats", "upsert_projects"]

PR = table(ProjectRow)


@dataclass
class ApplyStats:
    seen: int = 0
    changed: int = 0
    stale: int = 0
    deleted: int = 0
    ignored: int = 0
    ignored_reasons: list[str] = field(default_factory=list)

    def add(self, other: ApplyStats) -> None:
        self.seen += other.seen
        self.changed += other.changed
        self.stale += other.stale
        self.deleted += other.deleted
        self.ignored += other.ignored
        self.ignored_reasons.extend(other.ignored_reasons)


def _newer_or_equal(incoming: datetime | None, stored: datetime | None) -> bool:
    if stored is None or incoming is None:
        return True
    return incoming >= stored


def _guard(table: sa.Table, excluded: Any) -> Any:
    return sa.or_(
        table.c.remote_updated_at.is_(None),
        excluded.remote_updated_at.is_(None),
        excluded.remote_updated_at >= table.c.remote_updated_at,
    )


def guarded_upsert(conn: Connection, table: sa.Table, columns: tuple[str, ...]) -> Any:
    """The bulk upsert of ``columns`` into ``table`` on (source_id, external_id), updating a
    stored row only under the monotonic guard; for ``executemany``, built once per dialect,
    table and column set."""

    def build() -> Any:
        ins = bulk_insert(conn, table, columns)
        update = {k: ins.excluded[k] for k in columns if k not in ("org_id", "source_id", "external_id")}
        return ins.on_conflict_do_update(
            index_elements=["source_id", "external_id"], set_=update, where=_guard(table, ins.excluded)
        )

    return statement(conn, f"upsert:{table.name}:" + ",".join(columns), build)


# --- projects --------------------------------------------------------------------------


def _project_upserts(conn: Connection) -> tuple[Any, Any]:
    ins = insert_for(conn, PR)
    # A real name (a Trello board's) always wins; a key only replaces a placeholder name
    # (the external id), so a version fetch that knows just the project id renames nothing.
    explicit = ins.on_conflict_do_update(
        index_elements=["source_id", "external_id"],
        set_={"key": sa.func.coalesce(ins.excluded.key, PR.c.key), "name": ins.excluded.name},
    )
    implicit = ins.on_conflict_do_update(
        index_elements=["source_id", "external_id"],
        set_={"key": sa.func.coalesce(ins.excluded.key, PR.c.key),
              "name": sa.case((PR.c.name == PR.c.external_id, ins.excluded.name), else_=PR.c.name)},
    )
    return explicit, implicit


def upsert_projects(
    conn: Connection, org_id: int, source_id: int, projects: Iterable[tuple[str, str | None, str | None]]
) -> dict[str, int]:
    """Ensure ``(external_id, key, name)`` projects exist; return ``{external_id: id}``.

    Sync only fills key and name; the PM-side fields (budget, dates, rate) are never touched.
    """
    rows: dict[str, dict[str, Any]] = {}
    named: set[str] = set()
    for ext, key, name in projects:
        if not ext:
            continue
        r = rows.setdefault(ext, {"org_id": org_id, "source_id": source_id, "external_id": ext,
                                  "key": key, "name": key or ext})
        if key:
            r["key"] = key
            if ext not in named:
                r["name"] = key
        if name:
            r["name"] = name
            named.add(ext)
    if not rows:
        return {}
    lock_sources(conn, [source_id])  # a writer's first write: the source's lock comes first
    stored = _stored_projects(conn, source_id, list(rows))

    def settled(ext: str, r: dict[str, Any]) -> bool:  # what the upserts below would leave as it is
        if ext not in stored:
            return False
        _, key, name = stored[ext]
        if r["key"] is not None and r["key"] != key:  # the upserts keep a stored key only for None
            return False
        return r["name"] == name if ext in named else (name != ext or r["name"] == name)

    # Most pages name projects already stored as they are: one read, and no write.
    ordered = [(e, r) for e, r in sorted(rows.items()) if not settled(e, r)]
    if ordered:
        explicit, implicit = statement(conn, "project_upserts", lambda: _project_upserts(conn))
        # In key order: concurrent writers of a source then lock its project rows in the same order
        # (a page's order would let two of them deadlock).
        for stmt, group in ((explicit, [r for e, r in ordered if e in named]),
                            (implicit, [r for e, r in ordered if e not in named])):
            for part in chunks(group):
                conn.execute(stmt, list(part))
        stored.update(_stored_projects(conn, source_id, [e for e, _ in ordered]))
    return {ext: stored[ext][0] for ext in rows}


def _stored_projects(conn: Connection, source_id: int, ext_ids: list[str]) -> dict[str, tuple[int, str | None, str]]:
    """``{external_id: (id, key, name)}`` of a source's stored projects among ``ext_ids``."""
    out = {}
    for part in chunks(ext_ids):
        for pid, ext, key, name in conn.execute(
            sa.select(PR.c.id, PR.c.external_id, PR.c.key, PR.c.name)
            .where(PR.c.source_id == source_id, in_list(conn, PR.c.external_id, part))
        ):
            out[ext] = (pid, key, name)
    return out
