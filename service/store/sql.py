"""Dialect helpers shared by the store modules."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel.sql.sqltypes import UTCDateTime

from service.db import JSON_OPTIONS, json_dumps
from service.json_rows import json_rows

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

    PostgreSQL: ``INSERT ... SELECT ... FROM jsonb_populate_recordset(NULL::table, :rows)``
    (``service.json_rows``), the page as one JSON array of row objects: one statement, one round
    trip and one parameter that orjson writes at C speed (psycopg's pipelined executemany spent
    ~25 µs of client CPU per row on protocol messages; one array per column, ~16 µs per task row
    dumping elements in Python).
    The server reads each value with its column type's own input function, as for any text.
    SQLite: one bound row, run by the cursor's executemany (in-process, no round trips to save)."""
    ins = insert_for(conn, table)
    if conn.dialect.name != "postgresql":
        return ins.values({c: sa.bindparam(c, type_=table.c[c].type) for c in columns})
    from sqlalchemy.dialects.postgresql import JSONB

    rows = json_rows("postgresql", "rows", {c: table.c[c].type for c in columns}, record=table)

    def value(c: str) -> Any:
        if isinstance(table.c[c].type.dialect_impl(conn.dialect), JSONB):
            # A JSON null comes out as SQL NULL: SQLAlchemy's JSON type stores None as JSON null.
            return sa.func.coalesce(rows.c[c], sa.literal_column("'null'::jsonb")).label(c)
        return rows.c[c]

    return ins.from_select(list(columns), sa.select(*(value(c) for c in columns)).where(sa.true()))


_PREPARED: dict[tuple[str, str, int], tuple[Any, tuple[Any, ...]]] = {}


def _prepared(kind: str, conn: Connection, stmt: Any, build: Callable[[], tuple[Any, ...]]) -> tuple[Any, ...]:
    """What ``build`` derives from ``stmt`` for this path and dialect (its SQL, its binders),
    made once per statement: cached by the statement's identity, the statement held with it so
    that no other statement can take its id."""
    key = (kind, conn.dialect.name, id(stmt))
    found = _PREPARED.get(key)
    if found is None or found[0] is not stmt:
        found = _PREPARED[key] = (stmt, build())
    return found[1]


def executemany(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` (dicts with the same keys) with a ``bulk_insert`` statement built once.

    PostgreSQL: one execution, the page as one JSON text (``_pg_rows``). SQLite: once per row
    through the DBAPI cursor's ``executemany``, over a statement compiled once (cached by its
    identity). Either way every value keeps its column type's rules, so rows are stored exactly
    as ``conn.execute(stmt, rows)`` would store them (UTC datetimes, SQLite's datetime text,
    JSON as the engine's serializer writes it) — without SQLAlchemy building parameters row by
    row through its generic path, which was about a sixth of a Jira backfill's CPU."""
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql":  # a bulk_insert: the page as one JSON text
        _pg_rows(conn, stmt, rows)
        return
    def build() -> tuple[Any, ...]:
        compiled = stmt.compile(dialect=dialect)
        names = tuple(compiled.positiontup or compiled.binds)
        procs = [_sqlite_processor(compiled.binds[n].type, dialect) for n in names]
        return compiled.string, _row_binder(names, procs, positional=bool(compiled.positiontup))

    sql, row = _prepared("executemany", conn, stmt, build)
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
    return env["row"]


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


# PostgreSQL refuses a jsonb document over 256 MB; a census writes a whole Trello board (up to
# 70,000 cards with their raw JSON) as one page, so pages are cut well below that.
_MAX_PAGE_BYTES = 64 * 1024 * 1024


def _pg_rows(conn: Connection, stmt: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` with a ``bulk_insert`` statement: the page as one JSON text, on the
    transaction's own connection. Each value keeps its column type's rules (``_pg_processor``);
    JSON columns' values go inside the page as the JSON type's serializer writes them, or are
    refused as it refuses them."""
    from psycopg.types.json import Jsonb

    def build() -> tuple[Any, ...]:
        names = [c.name for c in stmt.table.c if c.name in set(rows[0])]
        binder = _row_binder(names, [_pg_processor(stmt.table.c[n].type, conn.dialect) for n in names],
                             positional=False)
        return stmt.compile(dialect=conn.dialect).string, frozenset(_inserted(stmt)), binder

    sql, columns, row = _prepared("json-page", conn, stmt, build)
    if rows[0].keys() != columns:  # jsonb_populate_recordset would take a missing one as NULL
        raise KeyError(f"bulk rows have columns {sorted(rows[0])}, the statement writes {sorted(columns)}")
    try:  # the options of the JSON type's serializer: what it hands to json.dumps comes back here
        page = orjson.dumps(list(map(row, rows)), option=JSON_OPTIONS)
    except TypeError:  # ... and is written as that serializer writes it (or refused as it refuses it)
        json_cols = [c.name for c in stmt.table.c if isinstance(c.type, sa.JSON) and c.name in columns]
        page = orjson.dumps([{**r, **{c: orjson.Fragment(json_dumps(r[c])) for c in json_cols}}
                             for r in map(row, rows)])
    if len(page) > _MAX_PAGE_BYTES and len(rows) > 1:
        half = len(rows) // 2
        _pg_rows(conn, stmt, rows[:half])
        _pg_rows(conn, stmt, rows[half:])
        return
    with driver_errors(conn, sql), _driver_cursor(conn) as cur:
        cur.execute(sql, {"rows": Jsonb(page, dumps=_as_is)})  # orjson's bytes, not decoded and re-encoded


def _as_is(page: bytes) -> bytes:
    return page


def _inserted(stmt: Any) -> list[str]:
    """The columns a ``bulk_insert`` statement writes (its SELECT's, labelled by column)."""
    return [c.name for c in stmt.select.selected_columns]


def _pg_processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    """A value as it goes into the page, where it is read by its column type's input function:
    JSON as it is; a datetime converted to UTC (refused without an offset, or out of range, as
    ``UTCDateTime`` refuses it) as ISO 8601 text — one call per value, where the type's own
    processor chain cost four; a date as ISO text; a number exact (a ``Decimal`` as its text,
    NaN and infinities as PostgreSQL spells them: JSON has no such numbers); anything else
    through its type's processor. Integer columns take ints (the models' types)."""
    if isinstance(type_, sa.JSON):
        return None
    proc = type_.dialect_impl(dialect).bind_processor(dialect)
    kind = getattr(type_, "impl", type_)  # UTCDateTime decorates DateTime
    if isinstance(kind, sa.DateTime):
        if proc is None or any(datetime.fromisoformat(_pg_timestamp(v) or "") != proc(v) for v in _PROBE_TIMES):
            return None if proc is None else lambda v: _iso(proc(v))
        return _pg_timestamp
    if isinstance(kind, sa.Date):
        return _iso if proc is None else lambda v: _iso(proc(v))
    if isinstance(kind, sa.Float | sa.Numeric) and not isinstance(kind, sa.Integer):
        return _pg_number if proc is None else lambda v: _pg_number(proc(v))
    return proc


def _pg_timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise ValueError("Datetime values must have timezone information")
        value = value.astimezone(UTC)  # OverflowError out of range, as UTCDateTime's own
    return value.isoformat()


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


_NOT_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _pg_number(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else _NOT_FINITE[str(value)]
    if isinstance(value, Decimal):
        return str(value)
    return value


def _driver_cursor(conn: Connection) -> Any:
    """A cursor of the transaction's own driver connection (psycopg's), for ``driver_errors``."""
    driver = conn.connection.driver_connection
    if driver is None:  # a pool proxy with its driver connection gone (SQLAlchemy types it Optional)
        raise sa.exc.ResourceClosedError("this connection's driver connection is closed")
    return driver.cursor()


@contextmanager
def driver_errors(conn: Connection, sql: str, params: Any = None) -> Iterator[None]:
    """Raise a driver's error as SQLAlchemy raises it (``DBAPIError`` with ``.orig``), for a
    statement run on the driver's cursor: callers tell a deadlock, a lost connection or bad data
    apart the same way whichever path ran it (``db.retryable``, the API's 503)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sql, params, exc, dbapi.Error, connection_invalidated=lost) from exc


def run(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Execute ``stmt`` (built once, by ``statement``) with ``params``; its rows as the driver
    gives them, so use it where they are ids or text (no result type processing).

    PostgreSQL: compiled once and run on the transaction's own driver cursor, the parameters in
    the binary format. A sync page runs a dozen such statements (rollup folds, locks) and
    SQLAlchemy's per-execution path was ~75 µs of a fold's ~175 µs of client CPU; the text
    format also quotes each element of a key array through a regular expression. SQLite:
    ``conn.execute`` (its expanding ``IN`` is rendered per length)."""
    if conn.dialect.name != "postgresql":
        result = conn.execute(stmt, params)
        return [tuple(r) for r in result] if result.returns_rows else []
    def build() -> tuple[Any, ...]:
        compiled = stmt.compile(dialect=conn.dialect)
        procs = {name: p for name, b in compiled.binds.items()
                 if (p := b.type._cached_bind_processor(conn.dialect)) is not None}
        return re.sub(r"%\((\w+)\)s", r"%(\1)b", compiled.string), compiled, procs

    sql, compiled, procs = _prepared("run", conn, stmt, build)
    values = compiled.construct_params(params)
    for name, proc in procs.items():
        values[name] = proc(values[name])
    with driver_errors(conn, sql, values), _driver_cursor(conn) as cur:
        cur.execute(sql, values)
        return cur.fetchall() if cur.description is not None else []
