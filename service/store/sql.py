"""Dialect helpers shared by the store modules."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

T = TypeVar("T")

# SQLite caps bound parameters per statement (32766 on 3.32+); keep well under it.
CHUNK = 400


def insert_for(conn: Connection, table: Table) -> Any:
    """An INSERT that supports ``on_conflict_*`` on both stores."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def in_list(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``: one bound parameter, so the
    statement text stays the same for every page (an expanding IN renders a new one per length)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def uniq(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


_DRIVER: dict[tuple[str, int], tuple[Any, str, tuple[tuple[str, Any], ...], bool]] = {}


def executemany(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``stmt`` once per row through the DBAPI cursor's ``executemany``.

    The statement is compiled once per dialect (pass a statement built once — the compiled
    form is cached by its identity) and each row is bound by its column types' own bind processors, so values
    are stored exactly as ``conn.execute(stmt, rows)`` would store them (SQLite's datetime text,
    JSON through the engine's serializer) — without SQLAlchemy building a parameter dict per
    row through its generic path, which was about a sixth of a Jira backfill's CPU."""
    if not rows:
        return
    dialect = conn.dialect
    key = (dialect.name, id(stmt))
    found = _DRIVER.get(key)
    if found is None or found[0] is not stmt:
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or compiled.binds)
        binds = compiled.binds
        procs = tuple((n, binds[n].type.dialect_impl(dialect).bind_processor(dialect)) for n in names)
        found = _DRIVER[key] = (stmt, compiled.string, procs, bool(compiled.positiontup))  # holds stmt: its id stays
    _, sql, procs, positional = found
    if positional:
        params: list[Any] = [tuple(p(r[n]) if p else r[n] for n, p in procs) for r in rows]
    else:
        params = [{n: p(r[n]) if p else r[n] for n, p in procs} for r in rows]
    conn.exec_driver_sql(sql, params)

