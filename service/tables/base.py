"""What every table module shares: column types, key and JSON columns, ``table()``, ``stored_id()``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field, SQLModel

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
MONEY = sa.Numeric(18, 4)
# Every key and every column holding one: 64-bit on PostgreSQL (the tables that grow without
# bound pass 2^31 rows in a long-lived deployment, and one range for every id lets the API bound
# all id parameters alike: ``service.ids``; migration 0012), SQLite's INTEGER rowid as before.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a SQLModel table class, typed: SQLModel sets ``__table__`` on the class
    at run time but declares no such attribute, so ``Model.__table__`` is an error for mypy."""
    t = getattr(model, "__table__", None)
    if not isinstance(t, sa.Table):
        raise TypeError(f"{model.__name__} is not a SQLModel table class")
    return t


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: _Row) -> int:
    """The id of a row known to be stored (loaded from the database, or added and flushed).

    The models declare ``id: int | None`` because a new, unsaved object has none yet; code that
    works on a stored row narrows it here once instead of at every use."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it is not stored")
    return row.id


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONType, nullable=nullable))


def _fk(target: str, *, index: bool = True, nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return Field(
        default=None,
        sa_column=Column(ID, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )
