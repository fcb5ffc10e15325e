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
