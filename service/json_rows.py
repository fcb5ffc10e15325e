"""A small table of rows from ONE bound JSON text parameter.

A statement that takes a list of rows as one JSON array keeps the same SQL text whatever the
number of rows, so it is compiled once and cached (SQLAlchemy's compiled cache, the driver's
prepared statement); a VALUES list or one parameter per value renders a new statement for each
length (the risk view's baselines: ~75 ms of compiling per request at hundreds of projects).

Used by the store's bulk INSERT (``service.store.sql.bulk_insert``), the delivery worker's batch
of answers (``service.events.delivery``) and the risk view's baselines
(``service.views.risk``). It imports nothing of the service, so the store, the events and the
views may all import it (the store imports the events).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Table

__all__ = ["json_rows"]


def json_rows(dialect: str, param: str, columns: Mapping[str, Any], *, name: str | None = None,
              record: Table | None = None, value: str | None = None) -> Any:
    """The rows of the JSON text bound as ``param`` (an array of objects keyed by column name), as
    a FROM clause named ``name`` (else an anonymous one) with ``columns`` (name → SQLAlchemy
    type), each typed by it. ``value``: the JSON text, bound now (else given when the statement runs).

    PostgreSQL: ``jsonb_populate_recordset(NULL::record, :param)`` when the rows are rows of the
    table ``record`` (each value read by that table's column type in the database, as an INSERT of
    text would read it); else ``jsonb_to_recordset(:param) AS name(column type, ...)``. SQLite:
    ``json_each(:param)``, each column ``json_extract``-ed from its row object.
    An object without a key gives NULL for that column; so does a JSON null (also in a JSON column)."""
    cols = [sa.column(c, t) for c, t in columns.items()]
    text = sa.bindparam(param, value, type_=sa.Text)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        doc = sa.cast(text, JSONB)
        if record is not None:
            row_type: Any = sa.literal_column(f"NULL::{_table_name(record)}")
            return sa.func.jsonb_populate_recordset(row_type, doc).table_valued(*cols, name=name)
        return sa.func.jsonb_to_recordset(doc).table_valued(*cols).render_derived(name=name, with_types=True)
    each = sa.func.json_each(text).table_valued("value")
    return (sa.select(*(sa.type_coerce(sa.func.json_extract(each.c.value, f'$."{c.name}"'), c.type).label(c.name)
                        for c in cols))
            .select_from(each).subquery(name))


def _table_name(table: Table) -> str:
    """The table's name as PostgreSQL's row type of it is spelled (quoted where it must be)."""
    from sqlalchemy.dialects import postgresql

    return str(postgresql.dialect().identifier_preparer.format_table(table))
