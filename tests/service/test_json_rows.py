"""``service.json_rows``: a small table of rows from ONE bound JSON text, on both stores; the
statement's text does not depend on the number of rows (so it is compiled once and cached)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from service.db import Database
from service.json_rows import json_rows
from service.tables import Task, table
from service.views.risk import _baselines

T = table(Task)

DIALECTS = (postgresql.psycopg.dialect(), sqlite.dialect())
AT = datetime(2026, 3, 29, 1, 30, 0, 250000, tzinfo=UTC)


def _sql(stmt: sa.Select, dialect: sa.Dialect) -> str:
    return str(stmt.compile(dialect=dialect))


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_the_risk_baselines_statement_is_the_same_for_1_and_500_rows(dialect: sa.Dialect) -> None:
    def text(n: int) -> str:
        rows = [(i, AT + timedelta(hours=i)) for i in range(1, n + 1)]
        cte = _baselines(SimpleNamespace(dialect=dialect.name), rows, "baselines")  # type: ignore[arg-type]
        return _sql(sa.select(cte.c.sid, cte.c.base_at), dialect)

    one, many = text(1), text(500)
    assert one == many
    assert "baselines" in one and "VALUES" not in one.upper()


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_the_helper_binds_one_parameter_whatever_the_rows(dialect: sa.Dialect) -> None:
    def compiled(n: int) -> sa.engine.Compiled:
        js = json.dumps([{"n": i, "label": f"x{i}"} for i in range(n)])
        rows = json_rows(dialect.name, "page", {"n": sa.Integer(), "label": sa.Text()}, name="r", value=js)
        return sa.select(rows.c.n, rows.c.label).compile(dialect=dialect)

    one, many = compiled(1), compiled(500)
    assert str(one) == str(many)
    assert one.params.keys() == many.params.keys()
    # the rows are in the one parameter; the others (SQLite's JSON paths) are the same
    assert {k: v for k, v in one.params.items() if k != "page"} == {k: v for k, v in many.params.items() if k != "page"}


def test_rows_of_a_table_read_its_row_type_on_postgresql() -> None:
    rows = json_rows("postgresql", "rows", {"id": T.c.id.type}, record=T)
    assert "jsonb_populate_recordset(NULL::task," in _sql(sa.select(rows.c.id), DIALECTS[0])


def test_the_rows_come_back_typed_on_each_store(db: Database) -> None:
    """Integers, text, a datetime as the store keeps it, a JSON null and a missing key as NULL."""
    stamp = AT.isoformat() if db.engine.dialect.name == "postgresql" else AT.strftime("%Y-%m-%d %H:%M:%S.%f")
    js = json.dumps([{"n": 2, "label": "é ✓", "at": stamp}, {"n": 1, "label": None}, {"n": 3}])
    rows = json_rows(db.engine.dialect.name, "page", {"n": sa.Integer(), "label": sa.Text(),
                                                      "at": T.c.completed_at.type}, name="r", value=js)
    with db.read() as conn:
        got = conn.execute(sa.select(rows.c.n, rows.c.label, rows.c.at).order_by(rows.c.n)).all()
    assert [tuple(r) for r in got] == [(1, None, None), (2, "é ✓", AT), (3, None, None)]


def test_the_risk_baselines_read_back_on_each_store(db: Database) -> None:
    """The instants read back as the same instants (a baseline at a non-UTC offset too)."""
    later = AT.astimezone(ZoneInfo("Asia/Kolkata")) + timedelta(days=1)
    cte = _baselines(SimpleNamespace(dialect=db.engine.dialect.name), [(7, AT), (9, later)],  # type: ignore[arg-type]
                     "baselines")
    with db.read() as conn:
        got = conn.execute(sa.select(cte.c.sid, cte.c.base_at).order_by(cte.c.sid)).all()
    assert [(sid, at) for sid, at in got] == [(7, AT), (9, later)]
