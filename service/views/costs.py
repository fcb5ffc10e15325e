"""Worklog costs for the budget and workload views: hours × effective-dated rates.

A worklog is costed at its author's rate in effect at the worklog's local start (person
rates are effective-dated from local midnight), else the task's project hourly_rate, else
the organization's default; hours with no rate at all are counted apart (unrated).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import WorklogRollup
from service.views.selection import Selection, alive, aware, org_is, scope_conditions, table, task_conditions
from service.views.sqlkit import PR, TM, Row, T, W, key_or_null, num, parallel_plans, sum_if
from service.views.sqltime import _as_date, day_bucket, ts_literal

__all__ = ["worklog_from", "worklog_days", "direct_costs", "week_seconds", "rollup_applies"]

R = table(WorklogRollup)


def _project_rate() -> Any:
    return sa.select(PR.c.hourly_rate).where(PR.c.id == W.c.task_project_id).scalar_subquery()


def worklog_from(
    sel: Selection,
    by: str | None,
    *,
    costed: bool = True,
    since: datetime | None = None,
    in_day_order: bool = False,
) -> tuple[Any, Any, Any, list[Any]]:
    """``(from clause, group key, cost expression, conditions)`` for the worklogs of the selection
    at ``as_of``: started by then (and from ``since``, when given), not deleted by then, on a task
    of the selection alive then. The ``assignee`` filter means the worklog's author here.
    ``costed=False``: hours only, no project rates (the cost expression is then ``None``).
    ``in_day_order``: a plain organization condition, so that SQLite reads the covering index
    in its order of days (and sums them without a sort)."""
    # The worklog row carries its task's id, project and tombstone, its local day and its author's
    # rate that day (kept by the store): no task join, no rate lookup, no zone conversion.
    from_: Any = W
    default = sa.literal(sel.default_rate, sa.Numeric(18, 4)) if sel.default_rate is not None else sa.null()
    rate: Any = None
    if costed and sel.dialect == "postgresql":
        from_ = from_.outerjoin(PR, PR.c.id == W.c.task_project_id)
        rate = sa.func.coalesce(W.c.author_rate, sa.cast(PR.c.hourly_rate, sa.Float), sa.cast(default, sa.Float))
    elif costed:
        # SQLite: a scalar subquery, which COALESCE evaluates only for a worklog without an author
        # rate (joining the project for every worklog cost more than the rate itself).
        rate = sa.func.coalesce(W.c.author_rate, _project_rate(), default)
    at = ts_literal(sel.as_of)
    started: Any = W.c.started_at
    org: Any = org_is(sel, W)
    if since is not None or in_day_order:
        # A few days of worklogs (the week's hours): a range of the (org_id, started_day) index;
        # or all of them in its order of days.
        org = W.c.org_id == sel.org_id
    if sel.dialect == "sqlite" and since is None and not sel.history:
        # As of now nearly every worklog matches "started by as_of": a unary + keeps SQLite from
        # planning a range on started_at, the covering index's second column.
        started = sa.literal_column("+worklog.started_at", W.c.started_at.type)
    task_alive: Any = W.c.task_deleted_at.is_(None)
    if sel.history:
        task_alive = sa.or_(task_alive, W.c.task_deleted_at > at)
    cond = [
        org,
        started <= at,
        # As of a past instant, the days up to its own: a range of the covering day index.
        *([W.c.started_day <= sel.as_of_date] if sel.history else []),
        *(
            [W.c.started_day >= since.astimezone(sel.tz).date(), W.c.started_at >= ts_literal(since)]
            if since is not None
            else []
        ),
        sa.or_(W.c.deleted_at.is_(None), W.c.deleted_at > at),
        W.c.task_id.is_not(None),  # a worklog whose task is not (yet) stored counts nowhere
        task_alive,
    ]
    cond += scope_conditions(sel, W.c.task_project_id, W.c.source_id)
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
    conn: Connection, sel: Selection, by: str | None = None, *, days: bool = True
) -> tuple[dict[Any, Row], dict[date | None, Row]]:
    """One statement over the worklogs: ``(per group, per local day)`` seconds, labour cost and
    unrated seconds; the per-group rows also carry the trailing-4-week labour and this week's
    seconds. ``days=False`` (grouped only): the groups alone, the per-day result left empty —
    for a grouping whose days would count a worklog more than once (milestones).

    As of now, not filtered by author and grouped by nothing or project, the sums are read from
    ``worklog_rollup`` (``_rollup_rows``): a row per day, project and source that had work,
    priced there at the project's or the organization's rate where no author rate is summed.
    Otherwise the worklogs are scanned (``_scan_rows``). Each worklog is priced in a subquery
    (its own columns carry its task's project and tombstone, its local day and its author's
    rate) that every sum reads. Ungrouped, the days are the groups. Grouped, PostgreSQL sums both
    ways with GROUPING SETS in one pass; SQLite, which has none, sums twice in one UNION ALL: per
    group (sorted) and per day (in the index's order, no sort)."""

    result = _rollup_rows(conn, sel, by, days=days) if rollup_applies(sel, by) else None
    if result is None:
        result = _scan_rows(conn, sel, by, days=days)
    return _fold(sel, by, result)


def rollup_applies(sel: Selection, by: str | None) -> bool:
    """Whether ``worklog_rollup`` can answer ``worklog_days(sel, by)``: the worklogs alive now
    (the view is as of now or later, so none was deleted after ``as_of``) summed per project or
    per day, not filtered by author — subject to one more check when read: no worklog it holds
    started after ``as_of`` (``started_hi``)."""
    return sel.current and not sel.history and sel.params.assignee is None and by in (None, "project")


def _rollup_rows(conn: Connection, sel: Selection, by: str | None, *, days: bool) -> list[Any] | None:
    """``_scan_rows`` read from ``worklog_rollup`` (a row per day, project and source that had
    work), or ``None`` when a worklog it holds started after ``as_of``."""
    q = _pg_rollup_query(sel, by, days=days) if sel.dialect == "postgresql" else _rollup_query(sel, by, days=days)
    rows = list(conn.execute(q).all())
    his = [aware(r.hi) for r in rows if r.hi is not None]
    return None if his and max(his) > sel.as_of else rows


def _pg_rollup_query(sel: Selection, by: str | None, *, days: bool) -> Any:
    """PostgreSQL: summed first, priced after. The rollup rows are summed per project and per
    day without a join — a day's rows whose seconds need a project's rate (no author rate)
    stay apart per project — and the few sums are then priced at their project's rate."""
    win, week = sel.window_start_date, sel.week_start_date
    need_rate = sa.case((R.c.unrated != 0, R.c.project_id))
    sets = []
    if by is not None:
        sets.append(sa.tuple_(R.c.project_id))
    if by is None or days:
        sets.append(sa.tuple_(R.c.day, need_rate))
    cond = [R.c.org_id == sel.org_id, *scope_conditions(sel, R.c.project_id, R.c.source_id)]
    by_day = sa.func.grouping(R.c.project_id) if by is not None else sa.literal(1)
    inner = (
        sa.select(
            by_day.label("by_day"),
            (R.c.project_id if by is not None else sa.literal(None, sa.Integer)).label("g"),
            R.c.day.label("d"),
            need_rate.label("pu"),
            sa.func.sum(R.c.seconds).label("s"),
            sa.func.sum(R.c.rated).label("rated"),
            sa.func.sum(R.c.unrated).label("unrated"),
            sa.func.sum(R.c.rated).filter(R.c.day >= win).label("rated_w"),
            sa.func.sum(R.c.unrated).filter(R.c.day >= win).label("unrated_w"),
            sa.func.sum(R.c.seconds).filter(R.c.day >= week).label("s_week"),
            sa.func.max(R.c.started_hi).label("hi"),
        )
        .where(*cond)
        .group_by(sa.func.grouping_sets(*sets))
        .subquery("wr")
    )
    default = sa.literal(sel.default_rate, sa.Float) if sel.default_rate is not None else None
    project_rate = sa.cast(PR.c.hourly_rate, sa.Float)
    rate = sa.func.coalesce(project_rate, default) if default is not None else project_rate
    unrated: Any = sa.literal(0) if default is not None else sa.case((rate.is_(None), inner.c.unrated), else_=0)
    g = sa.func.nullif(inner.c.g, 0)  # project 0 holds the worklogs of tasks with no project
    return (
        sa.select(
            inner.c.by_day,
            g.label("g"),
            inner.c.d,
            sa.func.sum(inner.c.s).label("seconds"),
            sa.func.sum(inner.c.rated + sa.func.coalesce(inner.c.unrated * rate, 0.0)).label("labour"),
            sa.func.sum(unrated).label("unrated_seconds"),
            sa.func.sum(inner.c.rated_w + sa.func.coalesce(inner.c.unrated_w * rate, 0.0)).label("labour_window"),
            sa.func.sum(inner.c.s_week).label("seconds_week"),
            sa.func.max(inner.c.hi).label("hi"),
        )
        .select_from(inner.outerjoin(PR, PR.c.id == sa.func.coalesce(inner.c.g, inner.c.pu)))
        .group_by(inner.c.by_day, g, inner.c.d)
    )


def _rollup_query(sel: Selection, by: str | None, *, days: bool) -> Any:
    """SQLite: each rollup row priced (a project's rate looked up only for a row with seconds
    that need it), then summed per group and per day in one UNION ALL (no GROUPING SETS)."""
    default = sa.literal(sel.default_rate, sa.Float) if sel.default_rate is not None else None
    # A scalar subquery, which the CASE below evaluates only for a row with seconds to price.
    project_rate = sa.select(sa.cast(PR.c.hourly_rate, sa.Float)).where(PR.c.id == R.c.project_id).scalar_subquery()
    rate = sa.func.coalesce(project_rate, default) if default is not None else project_rate
    priced = sa.case((R.c.unrated == 0, 0.0), else_=sa.func.coalesce(R.c.unrated * rate, 0.0))
    cost = R.c.rated + priced
    unrated: Any = sa.literal(0)
    if default is None:
        unrated = sa.case((R.c.unrated == 0, 0), (rate.is_(None), R.c.unrated), else_=0)
    cond = [R.c.org_id == sel.org_id, *scope_conditions(sel, R.c.project_id, R.c.source_id)]
    wl = (
        sa.select(
            # Project 0 holds the worklogs of tasks with no project.
            (sa.func.nullif(R.c.project_id, 0) if by == "project" else sa.literal(None, sa.Integer)).label("g"),
            R.c.day.label("d"),
            R.c.seconds.label("s"),
            cost.label("m"),
            unrated.label("u"),
            sa.case((R.c.day >= sel.window_start_date, cost)).label("m_window"),
            sa.case((R.c.day >= sel.week_start_date, R.c.seconds)).label("s_week"),
            R.c.started_hi.label("hi"),
        )
        .where(*cond)
        .subquery("wr")
    )
    sums = [
        sa.func.sum(wl.c.s).label("seconds"),
        sa.func.sum(wl.c.m).label("labour"),
        sa.func.sum(wl.c.u).label("unrated_seconds"),
    ]
    windowed = [sa.func.sum(wl.c.m_window).label("labour_window"), sa.func.sum(wl.c.s_week).label("seconds_week")]
    hi = sa.func.max(wl.c.hi).label("hi")
    per_group = sa.select(sa.literal(0).label("by_day"), wl.c.g, sa.null().label("d"), *sums, *windowed, hi)
    none = sa.literal(None, sa.Integer).label("g")
    per_day = sa.select(sa.literal(1).label("by_day"), none, wl.c.d, *sums, sa.null(), sa.null(), hi)
    if by is not None and not days:
        return per_group.group_by(wl.c.g)
    if by is None:
        return per_day.group_by(wl.c.d)
    # The days in the primary key's order (no sort), the groups sorted.
    return sa.union_all(per_group.group_by(wl.c.g), per_day.group_by(wl.c.d))


def _scan_rows(conn: Connection, sel: Selection, by: str | None, *, days: bool) -> list[Any]:
    """The rows ``worklog_days`` folds, read from the worklogs themselves: per group
    (``by_day`` 0) and per local day (1) — seconds, labour (currency × seconds), unrated
    seconds; the groups also the trailing window's labour and the week's seconds."""
    win, week = ts_literal(sel.window_start), ts_literal(sel.week_start)

    def priced(in_day_order: bool = False) -> Any:
        from_, key, money, cond = worklog_from(sel, by, in_day_order=in_day_order)
        # The windowed amounts too, so the sums only add up columns (on PostgreSQL the workers compute
        # them; the leader alone hashes every row into both grouping sets).
        return (
            sa.select(
                key_or_null(key).label("g"),
                W.c.started_day.label("d"),
                W.c.seconds.label("s"),
                money.label("m"),
                sa.case((W.c.started_at >= win, money)).label("m_window"),
                sa.case((W.c.started_at >= week, W.c.seconds)).label("s_week"),
            )
            .select_from(from_)
            .where(*cond)
            .subquery("wl")
        )

    wl = priced(in_day_order=by is None or sel.dialect == "postgresql")

    def sums(wl: Any) -> list[Any]:
        # With an organization default rate every worklog has a rate: no second look at each cost.
        unrated = sa.literal(0) if sel.default_rate is not None else sum_if(wl.c.m.is_(None), wl.c.s)
        return [
            sa.func.sum(wl.c.s).label("seconds"),
            sa.func.sum(wl.c.m).label("labour"),
            unrated.label("unrated_seconds"),
        ]

    windowed = [sa.func.sum(wl.c.m_window).label("labour_window"), sa.func.sum(wl.c.s_week).label("seconds_week")]
    q: Any
    if by is not None and not days:
        q = sa.select(sa.literal(0).label("by_day"), wl.c.g, *sums(wl), *windowed).group_by(wl.c.g)
    elif by is None:
        q = sa.select(sa.literal(1).label("by_day"), sa.null().label("g"), wl.c.d, *sums(wl)).group_by(wl.c.d)
    elif sel.dialect == "postgresql":
        q = sa.select(sa.func.grouping(wl.c.g).label("by_day"), wl.c.g, wl.c.d, *sums(wl), *windowed).group_by(
            sa.func.grouping_sets(sa.tuple_(wl.c.g), sa.tuple_(wl.c.d))
        )
    else:
        # SQLite has no GROUPING SETS, and a GROUP BY sorts unless an index gives the order: the
        # groups are sorted, the days read in the covering index's order.
        daily = priced(in_day_order=True)
        q = sa.union_all(
            sa.select(sa.literal(0).label("by_day"), wl.c.g, sa.null().label("d"), *sums(wl), *windowed).group_by(
                wl.c.g
            ),
            sa.select(sa.literal(1), sa.null(), daily.c.d, *sums(daily), sa.null(), sa.null()).group_by(daily.c.d),
        )
    with parallel_plans(conn, sel):
        return list(conn.execute(q).all())


def _fold(sel: Selection, by: str | None, result: list[Any]) -> tuple[dict[Any, Row], dict[date | None, Row]]:
    zero = {"seconds": 0.0, "labour": 0.0, "unrated_seconds": 0.0}
    per_key: dict[Any, Row] = {}
    per_day: dict[date | None, Row] = {}
    for r in result:
        row = {"seconds": num(r.seconds), "labour": num(r.labour) / 3600.0, "unrated_seconds": num(r.unrated_seconds)}
        if not r.by_day:
            per_key[r.g] = {**row, "labour_window": num(r.labour_window) / 3600.0, "seconds_week": num(r.seconds_week)}
            continue
        day = _as_date(r.d)
        d = per_day.setdefault(day, dict(zero))
        for k, v in row.items():
            d[k] += v
    if by is None and per_day:
        # The days are the one group's rows: its trailing-window labour and week's hours from them.
        win_day, week_day = sel.window_start_date, sel.week_start_date
        dated = [(d, v) for d, v in per_day.items() if d is not None]
        per_key[None] = {
            "seconds": sum(v["seconds"] for v in per_day.values()),
            "labour": sum(v["labour"] for v in per_day.values()),
            "unrated_seconds": sum(v["unrated_seconds"] for v in per_day.values()),
            "labour_window": sum(v["labour"] for d, v in dated if d >= win_day),
            "seconds_week": sum(v["seconds"] for d, v in dated if d >= week_day),
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
    from_, _, _, cond = worklog_from(sel, None, costed=False, since=sel.week_start)
    q = sa.select(sa.func.sum(W.c.seconds)).select_from(from_).where(*cond)
    return num(conn.execute(q).scalar())
