"""Dialect helpers shared by the store modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import UTCDateTime

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


def in_param(conn: Connection, column: Any, name: str) -> Any:
    """``column IN :name``, the values given when the statement runs (a statement built once
    with ``statement``): on PostgreSQL ``column = ANY(:name)``, one array parameter; on SQLite
    an expanding parameter."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(name, type_=ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def uniq(items: Iterable[T]) -> list[T]:
    return list(dict.fromkeys(items))


_STATEMENTS: dict[tuple[str, str], Any] = {}


def statement(conn: Connection, name: str, build: Callable[[], Any]) -> Any:
    """A statement built once per dialect and ``name`` (the store's hot statements: building
    one costs more than executing it on a small page; ``executemany`` also compiles once)."""
    key = (conn.dialect.name, name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = build()
    return stmt


def bulk_insert(conn: Connection, table: Table, columns: Sequence[str]) -> Any:
    """An INSERT of many rows for ``executemany`` (add ``on_conflict_*`` to it, build it once).

    PostgreSQL: ``INSERT ... SELECT * FROM unnest(:col1, :col2, ...)``, one array parameter per
    column, so a page of rows is one statement and one round trip (psycopg's pipelined
    executemany spent ~25 µs of client CPU per row on protocol messages). SQLite: one bound
    row, run by the cursor's executemany (in-process, no round trips to save)."""
    ins = insert_for(conn, table)
    if conn.dialect.name != "postgresql":
        return ins.values({c: sa.bindparam(c, type_=table.c[c].type) for c in columns})
    from sqlalchemy.dialects.postgresql import ARRAY, JSONB

    def array(c: str) -> Any:
        t = table.c[c].type
        if isinstance(t.dialect_impl(conn.dialect), JSONB):  # jsonb[] from the serialized texts
            return sa.cast(sa.bindparam(c, type_=ARRAY(sa.Text)), ARRAY(JSONB))
        return sa.bindparam(c, type_=ARRAY(t))

    rows = sa.func.unnest(*(array(c) for c in columns)).table_valued(*columns).render_derived()
    return ins.from_select(list(columns), sa.select(*(rows.c[c] for c in columns)))


_DRIVER: dict[tuple[str, int], tuple[Any, str, Callable[[dict[str, Any]], Any]]] = {}


def executemany(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys) with a ``bulk_insert`` statement built once.

    PostgreSQL: one execution, the columns as arrays. SQLite: once per row through the DBAPI
    cursor's ``executemany``, over a statement compiled once (cached by its identity). Either
    way every value goes through its column type's own bind processor, so rows are stored
    exactly as ``conn.execute(stmt, rows)`` would store them (UTC datetimes, SQLite's datetime
    text, JSON through the engine's serializer) — without SQLAlchemy building parameters row by
    row through its generic path, which was about a sixth of a Jira backfill's CPU."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql":  # a bulk_insert: one array per column
        _pg_unnest(conn, stmt, rows)
        return
    key = (dialect.name, id(stmt))
    found = _DRIVER.get(key)
    if found is None or found[0] is not stmt:
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or compiled.binds)
        binds = compiled.binds
        procs = [_sqlite_processor(binds[n].type, dialect) for n in names]
        row = _row_binder(names, procs, positional=bool(compiled.positiontup))
        found = _DRIVER[key] = (stmt, compiled.string, row)  # holds stmt: its id stays
    _, sql, row = found
    conn.exec_driver_sql(sql, list(map(row, rows)))


def _row_binder(names: Sequence[str], procs: Sequence[Any], *, positional: bool) -> Callable[[dict[str, Any]], Any]:
    """``row -> parameters`` as one generated function (a tuple or dict display over the
    row's keys, each value through its processor): one call per row, where a generator over
    the columns resumed 40 times per task row."""
    env: dict[str, Any] = {}
    items = []
    for i, (n, p) in enumerate(zip(names, procs, strict=True)):
        value = f"r[{n!r}]"
        if p is not None:
            env[f"p{i}"] = p
            value = f"p{i}({value})"
        items.append(value if positional else f"{n!r}: {value}")
    body = f"({', '.join(items)},)" if positional else "{" + ", ".join(items) + "}"
    exec(f"def row(r):\n    return {body}\n", env)  # noqa: S102 - our own column names, repr-quoted
    return env["row"]  # type: ignore[no-any-return]


_PROBE_TIMES = (
    datetime(2026, 3, 29, 1, 30, 0, tzinfo=UTC), datetime(1, 1, 1, tzinfo=UTC),
    datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
)
_PROBE_JSON: tuple[Any, ...] = (None, {"a": [1, 2.5, "é", None, True]}, [], "x")


def _sqlite_processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """The bind processor of ``type_``, or a faster equivalent where one exists: an aware
    datetime as SQLite's DATETIME text through ``isoformat`` (SQLAlchemy fills a format
    string from a dict per value), JSON straight through the engine's serializer. Each fast
    one is used only if it gives the same output as SQLAlchemy's on probe values."""
    generic = type_.dialect_impl(dialect).bind_processor(dialect)
    fast: Callable[[Any], Any] | None = None
    probes: tuple[Any, ...] = ()
    if isinstance(type_, UTCDateTime):
        fast, probes = _sqlite_utc_text, _PROBE_TIMES
    elif isinstance(type_, sa.JSON) and not type_.none_as_null and dialect._json_serializer is not None:
        fast, probes = dialect._json_serializer, _PROBE_JSON
    if fast is None or generic is None or any(fast(v) != generic(v) for v in probes):
        return generic
    return fast


def _sqlite_utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:  # most values are UTC already (parsed "+0000", utcnow())
        if value.utcoffset() is None:
            raise ValueError("Datetime values must have timezone information")
        value = value.astimezone(UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without its offset (isoformat pads the year to four digits)
    return value.isoformat(" ", "microseconds")[:26]


_PG_SQL: dict[int, tuple[Any, str, dict[str, Any]]] = {}


def _pg_unnest(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Bind the column arrays in psycopg's binary format (``%b``), on the transaction's own
    connection: the text format quotes every array element through a regular expression (a
    page's raw JSON is megabytes of it); the binary one copies bytes."""
    from service.db import json_dumps

    found = _PG_SQL.get(id(stmt))
    if found is None or found[0] is not stmt:
        sql = re.sub(r"%\((\w+)\)s", r"%(\1)b", stmt.compile(dialect=conn.dialect).string)
        procs: dict[str, Any] = {}
        for col in stmt.table.c:
            if isinstance(col.type, sa.JSON):
                # As the JSON type binds them (None too: JSON null, as SQLAlchemy stores it).
                procs[col.name] = json_dumps
            elif isinstance(col.type, (sa.Float, sa.Numeric)):
                # psycopg dumps a list of one Python type only: 3 beside 2.5 (or a Decimal)
                # would be refused, so numbers go as floats (cast to the column's type in SQL).
                procs[col.name] = _as_float
            else:  # e.g. UTCDateTime: refuses naive datetimes, converts to UTC
                procs[col.name] = col.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        found = _PG_SQL[id(stmt)] = (stmt, sql, procs)
    _, sql, procs = found
    params: dict[str, list[Any]] = {}
    for c in rows[0]:
        proc = procs[c]
        params[c] = [proc(r[c]) for r in rows] if proc else [r[c] for r in rows]
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(sql, params)


def _as_float(value: Any) -> float | None:
    return None if value is None else float(value)

