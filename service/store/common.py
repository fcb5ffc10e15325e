"""Pieces every store module shares: apply statistics, the monotonic guard, projects, trigger DDL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.store.sql import bulk_insert, chunks, insert_for, statement
from service.tables import Project as ProjectRow

__all__ = ["ApplyStats", "upsert_projects", "run_ddl", "drop_triggers", "pg_signed_rows", "pg_statement_triggers"]

PR = ProjectRow.__table__


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
    explicit, implicit = statement(conn, "project_upserts", lambda: _project_upserts(conn))
    # In key order: concurrent writers of a source then lock its project rows in the same order
    # (a page's order would let two of them deadlock).
    ordered = sorted(rows.items())
    for stmt, group in ((explicit, [r for e, r in ordered if e in named]),
                        (implicit, [r for e, r in ordered if e not in named])):
        for part in chunks(group):
            conn.execute(stmt, list(part))
    out: dict[str, int] = {}
    for part in chunks(list(rows)):
        for pid, ext in conn.execute(
            sa.select(PR.c.id, PR.c.external_id).where(PR.c.source_id == source_id, PR.c.external_id.in_(part))
        ):
            out[ext] = pid
    return out


def run_ddl(conn: Connection, sqlite: Iterable[str], postgresql: Iterable[str]) -> None:
    """Run the statements written for this connection's store (trigger modules' ``install``)."""
    for ddl in postgresql if conn.dialect.name == "postgresql" else sqlite:
        conn.exec_driver_sql(ddl)


def pg_lock_key(expr: str) -> str:
    """An id as the second key of a two-key PostgreSQL advisory lock (``int4``): the ids are
    ``bigint`` since migration 0012 and ``pg_advisory_xact_lock(int, bigint)`` does not exist.
    Taken modulo 2^31, so every id below it keeps its old key; two ids 2^31 apart share a lock,
    which only serializes their writers a little more."""
    return f"mod({expr}, 2147483648)::int"


def drop_triggers(
    conn: Connection, sqlite: Iterable[str], postgresql: Iterable[tuple[str, str]], functions: Iterable[str]
) -> None:
    """Drop a trigger module's triggers: SQLite's by name; PostgreSQL's ``(name, table)`` and then
    their functions (trigger modules' ``uninstall``)."""
    if conn.dialect.name == "postgresql":
        for name, table in postgresql:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for fn in functions:
            conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {fn}()")
        return
    for name in sqlite:
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def pg_signed_rows(event: str, columns: tuple[str, ...], pick: Callable[[str, str, str], str]) -> str:
    """PostgreSQL statement triggers over transition tables (the rollups'): the statement's
    rows, signed. ``pick(alias, sign, source)`` selects, from ``source`` as ``alias``, the rows
    with their sign (SQL text); an INSERT gives its new rows (+1), a DELETE its old ones (-1),
    an UPDATE the old (-1) and new (+1) versions of just the rows where one of ``columns``
    changed — only those columns (and ``id``) are then available.

    The versions are paired by grouping, not by a join: a version of a row that occurs once
    among the old and new rows is one that changed (GROUP BY treats NULLs as equal, as IS
    DISTINCT FROM). A join of the two transition tables can be planned as a nested loop —
    always so inside a trigger function that runs with hash and merge joins off, which sets them
    for the triggers its writes fire — and is then quadratic in the statement's rows."""
    if event == "INSERT":
        return pick("n", "1", "new_rows n")
    if event == "DELETE":
        return pick("o", "-1", "old_rows o")
    cols = ", ".join(("id", *columns))
    versions = (
        f"SELECT {cols}, CASE WHEN max(side) = 1 THEN 1 ELSE -1 END AS sign FROM "
        f"(SELECT 0 AS side, {cols} FROM old_rows UNION ALL SELECT 1, {cols} FROM new_rows) x "
        f"GROUP BY {cols} HAVING count(*) = 1"
    )
    return pick("v", "v.sign", f"({versions}) v")


def pg_statement_triggers(name: str, table: str, function: Callable[[str], str]) -> list[str]:
    """The DDL of a rollup's three PostgreSQL statement triggers on ``table`` (``{name}_insert``
    …), each with its transition tables, and their functions: ``function(event)`` creates
    ``taskhub_{name}_{event}()``."""
    out = []
    for event, ref in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    ):
        out.append(function(event))
        out.append(
            f"CREATE TRIGGER {name}_{event.lower()} AFTER {event} ON {table} REFERENCING {ref} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION taskhub_{name}_{event.lower()}()"
        )
    return out
