"""Worklog costs for the budget and workload views: hours × effective-dated rates.

A worklog is costed at its author's rate in effect at the worklog's local start (person
rates are effective-dated from local midnight), else the task's project hourly_rate, else
the organization's default; hours with no rate at all are counted apart (unrated).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.views.selection import Selection, alive, org_is, task_conditions
from service.views.sqlkit import PR, RATE, TM, Row, T, W, as_day, key_or_null, num, sum_if
from service.views.sqltime import day_bucket, local_midnight, stored_ts, ts_literal

__all__ = ["worklog_from", "worklog_days", "direct_cost_days", "week_seconds"]


def _rate_periods(conn: Connection, sel: Selection) -> Any:
    """Each person rate as a UTC interval ``[from_utc, until_utc)``: it takes effect at local
    midnight of ``effective_from`` and lasts until the next one does. The organization's few
    rates are read here once, so no worklog needs a time zone conversion."""
    rows = conn.execute(
        sa.select(RATE.c.person_id, RATE.c.effective_from, RATE.c.hourly_rate)
        .where(RATE.c.org_id == sel.org_id)
        .order_by(RATE.c.person_id, RATE.c.effective_from)
    ).all()
    if not rows:
        return None
    tz = sel.tz
    periods = []
    for i, (pid, frm, rate) in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == pid else None
        periods.append(
            {
                "person_id": pid,
                "from_utc": stored_ts(local_midnight(as_day(frm), tz), sel.dialect),
                "until_utc": stored_ts(local_midnight(as_day(nxt[1]), tz), sel.dialect) if nxt else None,
                "hourly_rate": float(rate),
            }
        )
    if sel.dialect == "postgresql":
        # One row per person: the period starts and their rates as arrays. A worklog finds its
        # rate by an equality hash join on the person and ``width_bucket`` over the starts (0,
        # before the first: no rate, which indexes to NULL) — a range join would test every
        # period of the person for every worklog.
        people: dict[int, dict[str, Any]] = {}
        for p in periods:
            row = people.setdefault(p["person_id"], {"person_id": p["person_id"], "starts": [], "rates": []})
            row["starts"].append(p["from_utc"])
            row["rates"].append(p["hourly_rate"])
        data = sa.bindparam("rate_periods", json.dumps(list(people.values())), type_=sa.String)
        body: Any = sa.select(
            *(sa.literal_column(f"r.{c}").label(c) for c in ("person_id", "starts", "rates"))
        ).select_from(
            sa.text(
                "jsonb_to_recordset(CAST(:rate_periods AS jsonb)) AS r(person_id integer, "
                "starts timestamptz[], rates float8[])"
            ).bindparams(data)
        )
        return body.cte("rp")
    # SQLite builds no index on a CTE and would scan it for every worklog: an indexed TEMP table
    # instead, created inside this read transaction (temp tables live outside the main file) and
    # gone with it when the connection is returned (rolled back).
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS view_rate_period (person_id INTEGER, from_utc TEXT, "
        "until_utc TEXT, "
        "hourly_rate REAL)"
    )
    conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS temp.ix_view_rate_period ON view_rate_period (person_id)")
    conn.exec_driver_sql("DELETE FROM temp.view_rate_period")
    conn.exec_driver_sql(
        "INSERT INTO temp.view_rate_period VALUES (?, ?, ?, ?)",
        [(p["person_id"], p["from_utc"], p["until_utc"], p["hourly_rate"]) for p in periods],
    )
    return _RATE_TABLE


_RATE_TABLE = sa.table(
    "view_rate_period",
    sa.column("person_id", sa.Integer),
    sa.column("from_utc", sa.String),
    sa.column("until_utc", sa.String),
    sa.column("hourly_rate", sa.Float),
    schema="temp",
)


def worklog_from(
    conn: Connection, sel: Selection, by: str | None, *, costed: bool = True
) -> tuple[Any, Any, Any, list[Any]]:
    """``(from clause, group key, cost expression, conditions)`` for the worklogs of the selection
    at ``as_of``: started by then, not deleted by then, on a task of the selection alive then.
    The ``assignee`` filter means the worklog's author here. ``costed=False``: hours only, no
    rate joins (the cost expression is then ``None``)."""
    from_ = W.join(T, sa.and_(T.c.source_id == W.c.source_id, T.c.external_id == W.c.task_external_id))
    rp = _rate_periods(conn, sel) if costed else None
    if costed:
        from_ = from_.outerjoin(PR, PR.c.id == T.c.project_id)
    default = sa.literal(sel.default_rate, sa.Numeric(18, 4)) if sel.default_rate is not None else sa.null()
    if not costed:
        rate = None
    elif rp is not None and sel.dialect == "postgresql":
        from_ = from_.outerjoin(rp, rp.c.person_id == W.c.person_id)
        person_rate = sa.literal_column(
            "rp.rates[width_bucket(worklog.started_at, rp.starts)]", sa.Float
        )
        rate = sa.func.coalesce(person_rate, sa.cast(PR.c.hourly_rate, sa.Float), sa.cast(default, sa.Float))
    elif rp is not None:
        from_ = from_.outerjoin(
            rp,
            sa.and_(
                rp.c.person_id == W.c.person_id,
                W.c.started_at >= rp.c.from_utc,
                sa.or_(rp.c.until_utc.is_(None), W.c.started_at < rp.c.until_utc),
            ),
        )
        rate = sa.func.coalesce(rp.c.hourly_rate, PR.c.hourly_rate, default)
    else:
        rate = sa.func.coalesce(PR.c.hourly_rate, default)
    at = ts_literal(sel.as_of)
    started: Any = W.c.started_at
    if sel.dialect == "sqlite" and not sel.history:
        # As of now nearly every worklog matches "started by as_of": a unary + keeps SQLite off the
        # (org_id, started_at) index, whose row-by-row lookups are far slower than a table scan.
        started = sa.literal_column("+worklog.started_at", W.c.started_at.type)
    cond = [
        org_is(sel, W),
        started <= at,
        sa.or_(W.c.deleted_at.is_(None), W.c.deleted_at > at),
        *task_conditions(sel, assignee=False),
        sa.or_(T.c.deleted_at.is_(None), T.c.deleted_at > at),
    ]
    if sel.params.assignee is not None:
        cond.append(W.c.person_id == sel.params.assignee)
    key: Any = None
    if by == "project":
        key = T.c.project_id
    elif by == "source":
        key = W.c.source_id
    elif by == "person":
        key = W.c.person_id
    elif by == "milestone":
        from_ = from_.outerjoin(TM, TM.c.task_id == T.c.id)
        key = TM.c.milestone_id
    # Float arithmetic: PostgreSQL numeric multiplication per row costs more than the whole join.
    return from_, key, (W.c.seconds * sa.cast(rate, sa.Float) if rate is not None else None), cond


def worklog_days(
    conn: Connection, sel: Selection, by: str | None = None
) -> tuple[dict[Any, Row], dict[date | None, Row]]:
    """One pass over the worklogs: ``(per group, per local day)`` seconds, labour cost and unrated
    seconds; the per-group rows also carry the trailing-4-week labour and this week's seconds.

    Grouped by (group, day) in SQL and folded here: one join of the worklogs with their tasks,
    rates and projects serves both the group figures and the daily cost series."""
    from_, key, money, cond = worklog_from(conn, sel, by)
    wday, to_date = day_bucket(W.c.started_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    if key is not None and sel.dialect == "postgresql":
        return _pg_key_and_days(conn, sel, from_, key, wday, money, cond)
    keys = [key, wday] if key is not None else [wday]
    q = (
        sa.select(
            key_or_null(key).label("g"),
            wday.label("d"),
            sa.func.sum(W.c.seconds).label("seconds"),
            (sa.func.sum(money) / 3600.0).label("labour"),
            sum_if(money.is_(None), W.c.seconds).label("unrated_seconds"),
        )
        .select_from(from_)
        .where(*cond)
        .group_by(*keys)
    )
    win, week = sel.window_start_date, sel.week_start.astimezone(sel.tz).date()
    zero = {"seconds": 0.0, "labour": 0.0, "unrated_seconds": 0.0}
    per_key: dict[Any, Row] = {}
    per_day: dict[date | None, Row] = {}
    for r in conn.execute(q).all():
        day = to_date(r.d)
        seconds, labour, unrated = num(r.seconds), num(r.labour), num(r.unrated_seconds)
        d = per_day.setdefault(day, dict(zero))
        g = per_key.setdefault(r.g, {**zero, "labour_window": 0.0, "seconds_week": 0.0})
        for row in (d, g):
            row["seconds"] += seconds
            row["labour"] += labour
            row["unrated_seconds"] += unrated
        if day is not None and day >= win:
            g["labour_window"] += labour
        if day is not None and day >= week:
            g["seconds_week"] += seconds
    return per_key, per_day


def _pg_key_and_days(
    conn: Connection, sel: Selection, from_: Any, key: Any, wday: Any, money: Any, cond: list[Any]
) -> tuple[dict[Any, Row], dict[date | None, Row]]:
    """PostgreSQL: both groupings from one pass with GROUPING SETS (few rows back)."""
    win, week = ts_literal(sel.window_start), ts_literal(sel.week_start)
    q = (
        sa.select(
            sa.func.grouping(key).label("by_day"),
            key.label("g"),
            wday.label("d"),
            sa.func.sum(W.c.seconds).label("seconds"),
            (sa.func.sum(money) / 3600.0).label("labour"),
            sum_if(money.is_(None), W.c.seconds).label("unrated_seconds"),
            (sum_if(W.c.started_at >= win, money) / 3600.0).label("labour_window"),
            sum_if(W.c.started_at >= week, W.c.seconds).label("seconds_week"),
        )
        .select_from(from_)
        .where(*cond)
        .group_by(sa.func.grouping_sets(sa.tuple_(key), sa.tuple_(wday)))
    )
    per_key: dict[Any, Row] = {}
    per_day: dict[date | None, Row] = {}
    for r in conn.execute(q).all():
        row = {"seconds": num(r.seconds), "labour": num(r.labour), "unrated_seconds": num(r.unrated_seconds)}
        if r.by_day:
            per_day[r.d] = row
        else:
            per_key[r.g] = {**row, "labour_window": num(r.labour_window), "seconds_week": num(r.seconds_week)}
    return per_key, per_day


def direct_cost_days(conn: Connection, sel: Selection) -> dict[date | None, float]:
    """Direct costs (the tasks' cost field) per local creation day (``None``: no creation time)."""
    cday, to_date = day_bucket(T.c.remote_created_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    q = (
        sa.select(cday.label("d"), sa.func.sum(T.c.cost).label("v"))
        .where(*task_conditions(sel), *alive(sel), T.c.cost.is_not(None))
        .group_by(cday)
    )
    out: dict[date | None, float] = defaultdict(float)
    for d, v in conn.execute(q).all():
        out[to_date(d)] += num(v)
    return dict(out)


def week_seconds(conn: Connection, sel: Selection) -> float:
    """Worklog seconds of the selection started in as_of's ISO week, up to as_of."""
    from_, _, _, cond = worklog_from(conn, sel, None, costed=False)
    q = (
        sa.select(sa.func.sum(W.c.seconds))
        .select_from(from_)
        .where(*cond, W.c.started_at >= ts_literal(sel.week_start))
    )
    return num(conn.execute(q).scalar())
