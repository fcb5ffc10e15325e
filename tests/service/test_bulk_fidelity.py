"""The PostgreSQL bulk path (``executemany`` over ``bulk_insert``: the page as one JSON text)
stores what a plain ``conn.execute(insert(table), rows)`` stores, or refuses what it refuses —
value by value, over every kind of column the bulk-written tables have (issue 17's review).
Integer columns take ints (the models' types): a float or Decimal there is refused, where a
plain insert would round it."""
from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service.store.sql import bulk_insert, executemany
from service.tables import Task, Worklog
from tests.service.factories import make_org, make_source

T = Task.__table__
W = Worklog.__table__
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _base(org, src, ext):
    return {"org_id": org, "source_id": src, "external_id": ext, "title": "t", "type": "task",
            "status_category": "todo", "is_milestone": False, "archived": False, "synced_at": NOW,
            "raw": {"a": 1}, "labels": [], "assignees": [], "milestone_refs": []}


def _write(db, table, row, bulk):
    """Stored values of the row (external_id), or the exception's class name."""
    cols = tuple(row)
    with db.engine.connect() as c:
        try:
            with c.begin():
                if bulk:
                    executemany(c, bulk_insert(c, table, cols), [row])
                else:
                    c.execute(sa.insert(table), [row])
                kept = (table.c[k] for k in cols if k not in ("org_id", "source_id", "external_id"))
                got = c.execute(sa.select(*kept)
                                .where(table.c.external_id == row["external_id"])).one()
                raise _Undo(tuple(got))
        except _Undo as u:
            return u.args[0]
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__


class _Undo(Exception):
    pass


def _norm(v):
    if isinstance(v, tuple):
        return tuple(_norm(x) for x in v)
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return v


CASES = {
    "nan_points": {"estimate_points": float("nan")},
    "inf_points": {"estimate_points": float("inf")},
    "neg_zero_points": {"estimate_points": -0.0},
    "year1_utc": {"remote_created_at": datetime(1, 1, 1, tzinfo=UTC)},
    "year1_plus1": {"remote_created_at": datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))},
    "y9999_minus1": {"remote_created_at": datetime(9999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1)))},
    "lmt_offset": {"remote_created_at": datetime(1850, 1, 1, 12, tzinfo=ZoneInfo("Asia/Kolkata"))},
    "usec_offset": {"remote_created_at": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1, microseconds=7)))},
    "odd_offset_usec": {"remote_created_at": datetime(2026, 1, 1, 1, 2, 3, 456789,
                                                     tzinfo=timezone(timedelta(hours=-3, minutes=-30)))},
    "date_year1": {"due_date": date(1, 1, 1)},
    "big_int": {"estimate_seconds": 2**62},
    "too_big_int": {"estimate_seconds": 2**63},
    "float_in_bigint": {"estimate_seconds": 3600.0},
    "float_in_int": {"checklist_total": 3.0},
    "decimal_in_bigint": {"estimate_seconds": Decimal("3600.0")},
    "decimal_exp_bigint": {"estimate_seconds": Decimal("1E+3")},
    "decimal_cost": {"cost": Decimal("12.34567")},
    "decimal_cost_exp": {"cost": Decimal("1E+3")},
    "float_cost": {"cost": 0.1},
    "int_cost": {"cost": 7},
    "bool_in_bool": {"archived": True},
    "str_quotes": {"title": 'a"b\\c\'d\n\t é 😀 \u2028'},
    "str_nul": {"title": "a\x00b"},
    "raw_none": {"raw": None},
    "raw_nested": {"raw": {"a": [1, {"b": None}, 2.5, True], "c": {"d": "e"}}},
    "raw_nonstr_keys": {"raw": {1: "x", None: "y", 2.5: "z"}},
    "raw_bigint": {"raw": {"n": 2**70}},
    "raw_jsonlike_str": {"raw": '{"a": 1}'},
    "raw_decimal": {"raw": {"n": Decimal("1.5")}},
    "raw_nan": {"raw": {"n": float("nan")}},
    "raw_datetime": {"raw": {"at": NOW}},
    "raw_str_nul": {"raw": {"s": "a\x00b"}},
    "labels_tuple": {"labels": ("a", "b")},
    "raw_scalar": {"raw": 5},
}


REFUSED_NOT_ROUNDED = {"float_in_bigint", "float_in_int", "decimal_in_bigint", "decimal_exp_bigint"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bulk_equals_plain(pg_db, case):
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    extra = CASES[case]
    plain = _write(pg_db, T, {**_base(org, src, "p"), **extra}, bulk=False)
    bulk = _write(pg_db, T, {**_base(org, src, "b"), **extra}, bulk=True)
    if case in REFUSED_NOT_ROUNDED:
        assert bulk in ("DataError", "TypeError") and not isinstance(plain, str)
    elif isinstance(plain, str):  # refused: refused too (the exception class may differ)
        assert isinstance(bulk, str), bulk
    else:
        assert _norm(bulk) == _norm(plain)


def test_worklog_float_rate(pg_db):
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    for rate in (0.1, 1e-320, 1.7976931348623157e308, 123456789.123456789, float("nan")):
        row = {"org_id": org, "source_id": src, "external_id": f"w{rate}", "task_external_id": "t",
               "started_at": NOW, "seconds": 60, "synced_at": NOW, "author_rate": rate,
               "started_day": date(2026, 1, 1), "raw": None, "carried_in": False}
        plain = _write(pg_db, W, {**row, "external_id": "p"}, bulk=False)
        bulk = _write(pg_db, W, {**row, "external_id": "b"}, bulk=True)
        assert _norm(bulk) == _norm(plain), rate


def test_a_page_over_the_size_limit_is_written_in_parts(pg_db, monkeypatch):
    """PostgreSQL refuses a jsonb document over 256 MB (a census writes a whole board as one
    page): pages are cut by their serialized size. Shown with a small limit."""
    import service.store.sql as sql_mod

    monkeypatch.setattr(sql_mod, "_MAX_PAGE_BYTES", 2_000)
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    rows = [{**_base(org, src, f"big{i}"), "raw": {"desc": "x" * 500}} for i in range(11)]
    with pg_db.engine.begin() as c:
        executemany(c, bulk_insert(c, T, tuple(rows[0])), rows)
    with pg_db.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).where(T.c.external_id.like("big%"))).scalar() == 11


def test_a_row_missing_a_column_is_refused_not_written_as_null(pg_db):
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    row = _base(org, src, "m1")
    stmt_cols = (*row, "due_date")
    with pytest.raises(KeyError, match="due_date"):
        with pg_db.engine.begin() as c:
            executemany(c, bulk_insert(c, T, stmt_cols), [row])
