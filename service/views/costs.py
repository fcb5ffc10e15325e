"""Worklog costs for the budget and workload views: hours × effective-dated rates.

A worklog is costed at its author's rate in effect at the worklog's local start (person
rates are effective-dated from local midnight), else the task's project hourly_rate, else
the organization's default; hours with no rate at all are counted apart (unrated).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.views.selection import Selection, alive, org_is, task_conditions
from service.views.sqlkit import PR, RATE, TM, Row, T, W, as_day, key_or_null, num, parallel_plans, sum_if
from service.views.sqltime import day_bucket, local_midnight, stored_ts, ts_literal

__all__ = ["worklog_from", "worklog_days", "direct_costs", "week_seconds"]


_RATE_COLUMNS = 6


def _rate_periods(conn: Connection, sel: Selection) -> Any:
    """Each person rate with the UTC instant it takes effect (local midnight of
    ``effective_from``); it lasts until the person's next one does. The organization's few
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
    for pid, frm, rate in rows:
        periods.append(
            {
                "person_id": pid,
                "from_utc": stored_ts(local_midnight(as_day(frm), tz), sel.dialect),
                "hourly_rate": float(rate),
            }
        )
    if sel.dialect == "postgresql":
        # One row per person: its period starts and rates. A worklog finds its rate by an equality
        # hash join on the person, then the last start at or before it — a range join would test
        # every period of the person for every worklog. Up to _RATE_COLUMNS periods per person
        # (the usual case) they are columns and a CASE picks one; reading them from arrays with
        # ``width_bucket`` cost ~14 ms more per 200k worklogs.
        people: dict[int, dict[str, Any]] = {}
        for p in periods:
            row = people.setdefault(p["person_id"], {"person_id": p["person_id"], "starts": [], "rates": []})
            row["starts"].append(p["from_utc"])
            row["rates"].append(p["hourly_rate"])
        most = max(len(r["starts"]) for r in people.values())
        cols: list[tuple[str, str]]
        if most <= _RATE_COLUMNS:
            for r in people.values():
                for i, (start, rate) in enumerate(zip(r.pop("starts"), r.pop("rates"), strict=True), 1):
                    r[f"s{i}"], r[f"r{i}"] = start, rate
            cols = [("person_id", "integer")]
            cols += [c for i in range(1, most + 1) for c in ((f"s{i}", "timestamptz"), (f"r{i}", "float8"))]
        else:
            cols = [("person_id", "integer"), ("starts", "timestamptz[]"), ("rates", "float8[]")]
        data = sa.bindparam("rate_periods", json.dumps(list(people.values())), type_=sa.String)
        body: Any = sa.select(*(sa.literal_column(f"r.{c}").label(c) for c, _ in cols)).select_from(
            sa.text(
                "jsonb_to_recordset(CAST(:rate_periods AS jsonb)) AS r("
                + ", ".join(f"{c} {t}" for c, t in cols)
                + ")"
            ).bindparams(data)
        )
        return body.cte("rp")
    # SQLite builds no index on a CTE and would scan it for every worklog: an indexed TEMP table
    # instead, created inside this read transaction (temp tables live outside the main file) and
    # gone with it when the connection is returned (rolled back). Keyed by (person, start), so a
    # worklog's rate is one index seek: the last start at or before it.
    conn.exec_driver_sql(
        "CREATE TEMP TABLE IF NOT EXISTS view_rate_start (person_id INTEGER NOT NULL, "
        "from_utc TEXT NOT NULL, hourly_rate REAL NOT NULL, PRIMARY KEY (person_id, from_utc)) WITHOUT ROWID"
    )
    conn.exec_driver_sql("DELETE FROM temp.view_rate_start")
    conn.exec_driver_sql(
        "INSERT INTO temp.view_rate_start VALUES (?, ?, ?)",
        [(p["person_id"], p["from_utc"], p["hourly_rate"]) for p in periods],
    )
    return _RATE_TABLE


_RATE_TABLE = sa.table(
    "view_rate_start",
    sa.column("person_id", sa.Integer),
    sa.column("from_utc", sa.String),
    sa.column("hourly_rate", sa.Float),
    schema="temp",
)


def _project_rate() -> Any:
    return sa.select(PR.c.hourly_rate).where(PR.c.id == W.c.task_project_id).scalar_subquery()


def worklog_from(
    conn: Connection, sel: Selection, by: str | None, *, costed: bool = True, since: datetime | None = None
) -> tuple[Any, Any, Any, list[Any]]:
    """``(from clause, group key, cost expression, conditions)`` for the worklogs of the selection
    at ``as_of``: started by then (and from ``since``, when given), not deleted by then, on a task
    of the selection alive then. The ``assignee`` filter means the worklog's author here.
    ``costed=False``: hours only, no rate joins (the cost expression is then ``None``)."""
    # The worklog row carries its task's id, project and tombstone (kept by triggers): no task join.
    from_: Any = W
    rp = _rate_periods(conn, sel) if costed else None
    if costed and sel.dialect == "postgresql":
        from_ = from_.outerjoin(PR, PR.c.id == W.c.task_project_id)
    default = sa.literal(sel.default_rate, sa.Numeric(18, 4)) if sel.default_rate is not None else sa.null()
    rate: Any = None
    if costed and sel.dialect == "postgresql":
        rates: list[Any] = [sa.cast(PR.c.hourly_rate, sa.Float), sa.cast(default, sa.Float)]
        if rp is not None:
            from_ = from_.outerjoin(rp, rp.c.person_id == W.c.person_id)
            if "starts" in rp.c:  # width_bucket: 0 before the first start, which indexes to NULL
                person_rate: Any = sa.literal_column("rp.rates[width_bucket(worklog.started_at, rp.starts)]", sa.Float)
            else:  # the latest start at or before the worklog (a NULL start, past the person's last, never is)
                n = (len(rp.c) - 1) // 2
                person_rate = sa.case(
                    *((W.c.started_at >= rp.c[f"s{i}"], rp.c[f"r{i}"]) for i in range(n, 0, -1)), else_=sa.null()
                )
            rates.insert(0, person_rate)
        rate = sa.func.coalesce(*rates)
    elif costed:
        # SQLite: scalar subqueries, which COALESCE evaluates only when needed — the project's
        # rate is looked up only for worklogs without a person rate (joining the project for
        # every worklog cost more than the rate itself), the person's is one index seek.
        rates = [_project_rate(), default]
        if rp is not None:
            rates.insert(
                0,
                sa.select(rp.c.hourly_rate)
                .where(rp.c.person_id == W.c.person_id, rp.c.from_utc <= W.c.started_at)
                .order_by(rp.c.from_utc.desc())
                .limit(1)
                .scalar_subquery(),
            )
        rate = sa.func.coalesce(*rates)
    at = ts_literal(sel.as_of)
    started: Any = W.c.started_at
    org: Any = org_is(sel, W)
    if since is not None:
        # A few days of worklogs (the week's hours): a range of the (org_id, started_at) index.
        org = W.c.org_id == sel.org_id
    elif sel.dialect == "sqlite" and not sel.history:
        # As of now nearly every worklog matches "started by as_of": a unary + keeps SQLite off the
        # (org_id, started_at) index, whose row-by-row lookups are far slower than a table scan.
        started = sa.literal_column("+worklog.started_at", W.c.started_at.type)
    task_alive: Any = W.c.task_deleted_at.is_(None)
    if sel.history:
        task_alive = sa.or_(task_alive, W.c.task_deleted_at > at)
    cond = [
        org,
        started <= at,
        *([W.c.started_at >= ts_literal(since)] if since is not None else []),
        sa.or_(W.c.deleted_at.is_(None), W.c.deleted_at > at),
        W.c.task_id.is_not(None),  # a worklog whose task is not (yet) stored counts nowhere
        task_alive,
    ]
    if sel.project_ids is not None:
        cond.append(W.c.task_project_id.in_(sel.project_ids) if sel.project_ids else sa.false())
    if sel.params.source is not None:
        cond.append(W.c.source_id == sel.params.source)
    if sel.params.assignee is not None:
        cond.append(W.c.person_id == sel.params.assignee)
    key: Any = None
    if by == "project":
        key = W.c.task_project_id
    elif by == "source":
        key = W.c.source_id
    elif by == "person":
        key = W.c.person_id
    elif by == "milestone":
        from_ = from_.outerjoin(TM, TM.c.task_id == W.c.task_id)
        key = TM.c.milestone_id
    # Float arithmetic: PostgreSQL numeric multiplication per row cost more than the task join this
    # pass used to make.
    return from_, key, (W.c.seconds * sa.cast(rate, sa.Float) if rate is not None else None), cond


def worklog_days(
    conn: Connection, sel: Selection, by: str | None = None
) -> tuple[dict[Any, Row], dict[date | None, Row]]:
    """One statement over the worklogs: ``(per group, per local day)`` seconds, labour cost and
    unrated seconds; the per-group rows also carry the trailing-4-week labour and this week's
    seconds.

    Each worklog is priced in a subquery (its own columns carry its task's project and
    tombstone) that every sum reads. Ungrouped, the days are the groups. Grouped, PostgreSQL
    sums both ways with GROUPING SETS in one pass; SQLite, which has none, sums the worklogs
    twice in one UNION ALL, per group and per day."""
    from_, key, money, cond = worklog_from(conn, sel, by)
    wday, to_date = day_bucket(W.c.started_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    wl = (
        sa.select(
            key_or_null(key).label("g"),
            wday.label("d"),
            W.c.seconds.label("s"),
            money.label("m"),
            W.c.started_at.label("st"),
        )
        .select_from(from_)
        .where(*cond)
        .subquery("wl")
    )
    # With an organization default rate every worklog has a rate: no second look at each cost.
    unrated = sa.literal(0) if sel.default_rate is not None else sum_if(wl.c.m.is_(None), wl.c.s)
    sums = [
        sa.func.sum(wl.c.s).label("seconds"),
        sa.func.sum(wl.c.m).label("labour"),
        unrated.label("unrated_seconds"),
    ]
    win, week = ts_literal(sel.window_start), ts_literal(sel.week_start)
    windowed = [
        sum_if(wl.c.st >= win, wl.c.m).label("labour_window"),
        sum_if(wl.c.st >= week, wl.c.s).label("seconds_week"),
    ]
    q: Any
    if key is None:
        q = sa.select(sa.literal(1).label("by_day"), sa.null().label("g"), wl.c.d, *sums).group_by(wl.c.d)
    elif sel.dialect == "postgresql":
        q = sa.select(sa.func.grouping(wl.c.g).label("by_day"), wl.c.g, wl.c.d, *sums, *windowed).group_by(
            sa.func.grouping_sets(sa.tuple_(wl.c.g), sa.tuple_(wl.c.d))
        )
    else:
        # SQLite has no GROUPING SETS, and every GROUP BY sorts: the worklogs are summed twice,
        # per group and per day. (Summing per (group, day) into a materialized CTE first and that
        # both ways sorted ~94k more rows: 310 against 275 ms for the statement on
        # bench/views.py's data, with the covering started index.)
        q = sa.union_all(
            sa.select(sa.literal(0).label("by_day"), wl.c.g, sa.null().label("d"), *sums, *windowed).group_by(wl.c.g),
            sa.select(sa.literal(1), sa.null(), wl.c.d, *sums, sa.null(), sa.null()).group_by(wl.c.d),
        )
    with parallel_plans(conn, sel):
        result = conn.execute(q).all()
    zero = {"seconds": 0.0, "labour": 0.0, "unrated_seconds": 0.0}
    per_key: dict[Any, Row] = {}
    per_day: dict[date | None, Row] = {}
    for r in result:
        row = {"seconds": num(r.seconds), "labour": num(r.labour) / 3600.0, "unrated_seconds": num(r.unrated_seconds)}
        if not r.by_day:
            per_key[r.g] = {**row, "labour_window": num(r.labour_window) / 3600.0, "seconds_week": num(r.seconds_week)}
            continue
        day = to_date(r.d)
        d = per_day.setdefault(day, dict(zero))
        for k, v in row.items():
            d[k] += v
    if key is None and per_day:
        # The days are the one group's rows: its trailing-window labour and week's hours from them.
        win_day, week_day = sel.window_start_date, sel.week_start.astimezone(sel.tz).date()
        days = [(d, v) for d, v in per_day.items() if d is not None]
        per_key[None] = {
            "seconds": sum(v["seconds"] for v in per_day.values()),
            "labour": sum(v["labour"] for v in per_day.values()),
            "unrated_seconds": sum(v["unrated_seconds"] for v in per_day.values()),
            "labour_window": sum(v["labour"] for d, v in days if d >= win_day),
            "seconds_week": sum(v["seconds"] for d, v in days if d >= week_day),
        }
    return per_key, per_day


def direct_costs(conn: Connection, sel: Selection) -> tuple[dict[Any, Row], dict[date | None, float]]:
    """Direct costs (the tasks' cost field) of the tasks alive at ``as_of``: per project
    ``direct_cost`` and ``direct_cost_window`` (tasks created in the trailing window), and per
    local creation day (``None``: no creation time). Two small passes over just the tasks that
    have a cost, which the partial index ``ix_task_org_cost`` holds (a plain ``org_id``
    condition, not ``org_is``'s table-scan form, lets SQLite use it)."""
    cond = [T.c.org_id == sel.org_id, T.c.cost.is_not(None), *task_conditions(sel, org=False), *alive(sel)]
    window = sum_if(T.c.remote_created_at >= ts_literal(sel.window_start), T.c.cost)
    per_project = {
        pid: {"direct_cost": num(v), "direct_cost_window": num(w)}
        for pid, v, w in conn.execute(
            sa.select(T.c.project_id, sa.func.sum(T.c.cost), window).where(*cond).group_by(T.c.project_id)
        ).all()
    }
    cday, to_date = day_bucket(T.c.remote_created_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    per_day: dict[date | None, float] = defaultdict(float)
    for d, v in conn.execute(sa.select(cday, sa.func.sum(T.c.cost)).where(*cond).group_by(cday)).all():
        per_day[to_date(d)] += num(v)
    return per_project, dict(per_day)


def week_seconds(conn: Connection, sel: Selection) -> float:
    """Worklog seconds of the selection started in as_of's ISO week, up to as_of."""
    from_, _, _, cond = worklog_from(conn, sel, None, costed=False, since=sel.week_start)
    q = sa.select(sa.func.sum(W.c.seconds)).select_from(from_).where(*cond)
    return num(conn.execute(q).scalar())
