"""The SQL aggregates behind the views: GROUP BY in the database, one scan per figure family.

Every function takes a resolved ``Selection`` and returns plain dicts keyed by the
group key (``None`` when the view is not grouped, or for "no project / nobody").
Nothing here loads tasks or worklogs row by row into Python; the largest results
are one row per group, per day of a series, or the few rows around a percentile.
Works on SQLite and PostgreSQL (see ``sqltime`` for the time zone handling).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import Change, Milestone, PersonRate, Project, Task, TaskAssignee, TaskMilestone, Worklog
from service.views.formulas import PERCENTILES, percentile_from_ranks
from service.views.selection import Selection, alive, group_join, task_conditions, task_state
from service.views.sqltime import local_date, seconds_between, ts_literal

__all__ = [
    "TASK_TOTAL_FIELDS",
    "task_totals",
    "task_days",
    "worklog_costs",
    "cost_days",
    "flow_percentiles",
    "milestone_rows",
    "workload_rows",
]

T = Task.__table__
W = Worklog.__table__
C = Change.__table__
M = Milestone.__table__
PR = Project.__table__
TA = TaskAssignee.__table__
TM = TaskMilestone.__table__
RATE = PersonRate.__table__

Row = dict[str, Any]

TASK_TOTAL_FIELDS = (
    "scope", "done", "in_progress", "todo", "pts_n", "pts_total", "pts_done", "pts_open", "sec_n", "sec_total",
    "sec_done", "sec_open", "time_n", "spent", "remaining", "direct_cost", "direct_cost_window", "done_known",
    "done_window", "overdue_open",
)


def _n(v: Any) -> float:
    return float(v) if v is not None else 0.0


def _flag(cond: Any) -> Any:
    return sa.case((cond, 1), else_=0)


def _sum_if(cond: Any, value: Any) -> Any:
    return sa.func.sum(sa.case((cond, value)))


def _key(key: Any) -> Any:
    return key if key is not None else sa.literal(None, sa.Integer)


def task_totals(conn: Connection, sel: Selection, *, group: str | None = "sel") -> dict[Any, Row]:
    """Per group: scope and status breakdown at ``as_of``, estimates, time tracking, direct
    costs, completions in the trailing window and open overdue tasks.

    ``group``: ``"sel"`` groups by ``sel.group_by``; ``"project"`` by project; ``None``: one total.
    """
    ts = task_state(sel)
    by = sel.group_by if group == "sel" else group
    from_, key = group_join(_with_group(sel, by), ts, ts.c.id, ts.c.project_id, ts.c.source_id)
    counted = ts.c.counted == 1
    done = sa.and_(counted, ts.c.status_asof == "done")
    is_open = sa.and_(counted, ts.c.status_asof != "done")
    at = ts_literal(sel.as_of)
    win = ts_literal(sel.window_start)
    cols = [
        _key(key).label("g"),
        sa.func.sum(ts.c.counted).label("scope"),
        sa.func.sum(_flag(done)).label("done"),
        sa.func.sum(_flag(sa.and_(counted, ts.c.status_asof == "in_progress"))).label("in_progress"),
        sa.func.sum(_flag(sa.and_(counted, ts.c.status_asof == "todo"))).label("todo"),
        sa.func.sum(_flag(sa.and_(counted, ts.c.estimate_points.is_not(None)))).label("pts_n"),
        _sum_if(counted, ts.c.estimate_points).label("pts_total"),
        _sum_if(done, ts.c.estimate_points).label("pts_done"),
        _sum_if(is_open, ts.c.estimate_points).label("pts_open"),
        sa.func.sum(_flag(sa.and_(counted, ts.c.estimate_seconds.is_not(None)))).label("sec_n"),
        _sum_if(counted, ts.c.estimate_seconds).label("sec_total"),
        _sum_if(done, ts.c.estimate_seconds).label("sec_done"),
        _sum_if(is_open, ts.c.estimate_seconds).label("sec_open"),
        sa.func.sum(_flag(sa.and_(counted, sa.or_(ts.c.spent_seconds.is_not(None),
                                                   ts.c.remaining_seconds.is_not(None))))).label("time_n"),
        _sum_if(counted, ts.c.spent_seconds).label("spent"),
        _sum_if(counted, ts.c.remaining_seconds).label("remaining"),
        sa.func.sum(ts.c.cost).label("direct_cost"),
        _sum_if(sa.and_(ts.c.remote_created_at >= win, ts.c.remote_created_at <= at), ts.c.cost).label("direct_cost_window"),
        sa.func.sum(_flag(sa.and_(done, ts.c.done_at.is_not(None)))).label("done_known"),
        sa.func.sum(_flag(sa.and_(done, ts.c.done_at >= win))).label("done_window"),
        sa.func.sum(_flag(sa.and_(is_open, ts.c.due_date < sel.as_of_date))).label("overdue_open"),
    ]
    q = sa.select(*cols).select_from(from_)
    if key is not None:
        q = q.group_by(key)
    out: dict[Any, Row] = {}
    for r in conn.execute(q).mappings():
        out[r["g"]] = {k: _n(v) for k, v in r.items() if k != "g"}
    return out


def _with_group(sel: Selection, by: str | None) -> Selection:
    if by == sel.group_by:
        return sel
    from dataclasses import replace

    return replace(sel, params=replace(sel.params, group_by=by))  # type: ignore[arg-type]


def task_days(conn: Connection, sel: Selection) -> tuple[dict[date | None, int], dict[date | None, int]]:
    """Counted tasks per local creation day and per local day they reached done (``None``: unknown)."""
    ts = task_state(sel, require_counted=True)
    cday = local_date(ts.c.remote_created_at, sel.tz_name, sel.dialect)
    dday = local_date(ts.c.done_at, sel.tz_name, sel.dialect)
    created = sa.select(sa.literal("c").label("kind"), cday.label("d"), sa.func.count().label("n")) \
        .select_from(ts).group_by(cday)
    done = sa.select(sa.literal("d").label("kind"), dday.label("d"), sa.func.count().label("n")) \
        .select_from(ts).where(ts.c.status_asof == "done").group_by(dday)
    out: dict[str, dict[date | None, int]] = {"c": {}, "d": {}}
    for kind, d, n in conn.execute(sa.union_all(created, done)):
        out[kind][_as_date(d)] = int(n)
    return out["c"], out["d"]


def _as_date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v)[:10])


# --- worklogs and cost -------------------------------------------------------------------------


def _rate_periods(sel: Selection) -> Any:
    """Each person rate with the day the next one takes over (effective-dated rates)."""
    nxt = sa.func.lead(RATE.c.effective_from).over(partition_by=RATE.c.person_id, order_by=RATE.c.effective_from)
    return sa.select(RATE.c.person_id, RATE.c.effective_from, RATE.c.hourly_rate, nxt.label("until")) \
        .where(RATE.c.org_id == sel.org_id).subquery("rp")


def _worklog_from(sel: Selection, by: str | None) -> tuple[Any, Any, Any, list[Any]]:
    """``(from clause, group key, cost expression, conditions)`` for the worklogs of the selection
    at ``as_of``: started by then, not deleted by then, on a task of the selection alive then.
    The ``assignee`` filter means the worklog's author here."""
    rp = _rate_periods(sel)
    wday = local_date(W.c.started_at, sel.tz_name, sel.dialect)
    from_ = W.join(T, sa.and_(T.c.source_id == W.c.source_id, T.c.external_id == W.c.task_external_id)) \
        .outerjoin(PR, PR.c.id == T.c.project_id) \
        .outerjoin(rp, sa.and_(rp.c.person_id == W.c.person_id, rp.c.effective_from <= wday,
                               sa.or_(rp.c.until.is_(None), wday < rp.c.until)))
    default = sa.literal(sel.default_rate, sa.Numeric(18, 4)) if sel.default_rate is not None else sa.null()
    rate = sa.func.coalesce(rp.c.hourly_rate, PR.c.hourly_rate, default)
    at = ts_literal(sel.as_of)
    cond = [W.c.org_id == sel.org_id, W.c.started_at <= at,
            sa.or_(W.c.deleted_at.is_(None), W.c.deleted_at > at),
            *task_conditions(sel, assignee=False), sa.or_(T.c.deleted_at.is_(None), T.c.deleted_at > at)]
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
    return from_, key, W.c.seconds * rate, cond


def worklog_costs(conn: Connection, sel: Selection, *, group: str | None = "sel") -> dict[Any, Row]:
    """Per group: hours, labour cost (rated seconds × rate / 3600), unrated seconds, and the same
    over the trailing 4 weeks and the current ISO week."""
    by = sel.group_by if group == "sel" else group
    from_, key, money, cond = _worklog_from(sel, by)
    win, week = ts_literal(sel.window_start), ts_literal(sel.week_start)
    cols = [
        _key(key).label("g"),
        sa.func.sum(W.c.seconds).label("seconds"),
        (sa.func.sum(money) / 3600.0).label("labour"),
        _sum_if(money.is_(None), W.c.seconds).label("unrated_seconds"),
        (_sum_if(W.c.started_at >= win, money) / 3600.0).label("labour_window"),
        _sum_if(W.c.started_at >= week, W.c.seconds).label("seconds_week"),
    ]
    q = sa.select(*cols).select_from(from_).where(*cond)
    if key is not None:
        q = q.group_by(key)
    out: dict[Any, Row] = {}
    for r in conn.execute(q).mappings():
        if key is None and r["seconds"] is None:
            continue
        out[r["g"]] = {k: _n(v) for k, v in r.items() if k != "g"}
    return out


def cost_days(conn: Connection, sel: Selection) -> dict[date | None, float]:
    """AC per local day for the whole selection: labour by the worklog's day, direct costs by
    the task's creation day (``None``: a direct cost of a task with no creation time)."""
    from_, _, money, cond = _worklog_from(sel, None)
    wday = local_date(W.c.started_at, sel.tz_name, sel.dialect)
    labour = sa.select(wday.label("d"), (sa.func.sum(money) / 3600.0).label("v")) \
        .select_from(from_).where(*cond).group_by(wday)
    cday = local_date(T.c.remote_created_at, sel.tz_name, sel.dialect)
    direct = sa.select(cday.label("d"), sa.func.sum(T.c.cost).label("v")) \
        .where(*task_conditions(sel), *alive(sel), T.c.cost.is_not(None)).group_by(cday)
    out: dict[date | None, float] = defaultdict(float)
    for d, v in conn.execute(sa.union_all(labour, direct)):
        out[_as_date(d)] += _n(v)
    return dict(out)


# --- flow --------------------------------------------------------------------------------------


def flow_percentiles(conn: Connection, sel: Selection) -> dict[Any, dict[str, dict[str, Any]]]:
    """Per group, lead and cycle time (days) of the tasks done at ``as_of``: ``count`` and
    p50/p85/p95, ranked in SQL (only the rows around each percentile come back)."""
    ts = task_state(sel, require_counted=True)
    from_, key = group_join(sel, ts, ts.c.id, ts.c.project_id, ts.c.source_id)
    first_wip = (
        sa.select(sa.func.min(C.c.changed_at))
        .where(C.c.org_id == ts.c.org_id, C.c.task_external_id == ts.c.external_id, C.c.source_id == ts.c.source_id,
               C.c.field == "status", C.c.to_category == "in_progress", C.c.changed_at <= ts.c.done_at)
        .scalar_subquery()
    )
    lead = seconds_between(ts.c.done_at, ts.c.remote_created_at, sel.dialect) / 86400.0
    cycle = seconds_between(ts.c.done_at, sa.type_coerce(first_wip, T.c.completed_at.type), sel.dialect) / 86400.0
    d = sa.select(_key(key).label("g"), lead.label("lead"), cycle.label("cycle")).select_from(from_) \
        .where(ts.c.status_asof == "done", ts.c.done_at.is_not(None)).cte("durations")
    parts = []
    for metric in ("lead", "cycle"):
        v = d.c[metric]
        ranked = sa.select(
            d.c.g, v.label("v"),
            sa.func.row_number().over(partition_by=d.c.g, order_by=v).label("rn"),
            sa.func.count().over(partition_by=d.c.g).label("n"),
        ).where(v.is_not(None)).subquery()
        wanted = []
        for p in PERCENTILES:
            k = (ranked.c.n - 1) * p // 100
            wanted += [ranked.c.rn == k + 1, ranked.c.rn == k + 2]
        parts.append(sa.select(sa.literal(metric).label("metric"), ranked.c.g, ranked.c.rn, ranked.c.n, ranked.c.v)
                     .where(sa.or_(*wanted)))
    found: dict[tuple[Any, str], tuple[int, dict[int, float]]] = {}
    for metric, g, rn, n, v in conn.execute(sa.union_all(*parts)):
        found.setdefault((g, metric), (int(n), {}))[1][int(rn)] = float(v)
    out: dict[Any, dict[str, dict[str, Any]]] = {}
    for (g, metric), (n, vals) in found.items():
        out.setdefault(g, {})[metric] = {"count": n, **{f"p{p}": percentile_from_ranks(vals, n, p) for p in PERCENTILES}}
    return out


# --- milestones --------------------------------------------------------------------------------


def milestone_rows(conn: Connection, sel: Selection) -> list[Row]:
    """Every milestone of the selection with its task counts at ``as_of`` (and, grouped by
    person, one row per milestone and assignee)."""
    ts = task_state(sel, require_counted=True)
    at = ts_literal(sel.as_of)
    tasks = TM.join(ts, ts.c.id == TM.c.task_id)
    person = None
    if sel.group_by == "person":
        on = TA.c.task_id == ts.c.id
        if sel.params.assignee is not None:
            on = sa.and_(on, TA.c.person_id == sel.params.assignee)
        tasks = tasks.outerjoin(TA, on)
        person = TA.c.person_id
    linked = sa.select(TM.c.milestone_id, ts.c.status_asof, ts.c.done_at,
                       (person if person is not None else sa.literal(None, sa.Integer)).label("person")) \
        .select_from(tasks).subquery("mt")
    from_ = M.outerjoin(linked, linked.c.milestone_id == M.c.id)
    is_done = linked.c.status_asof == "done"
    cond = [M.c.org_id == sel.org_id, M.c.archived == sa.false(),
            sa.or_(M.c.deleted_at.is_(None), M.c.deleted_at > at)]
    if sel.project_ids is not None:
        cond.append(M.c.project_id.in_(sel.project_ids) if sel.project_ids else sa.false())
    if sel.params.source is not None:
        cond.append(M.c.source_id == sel.params.source)
    q = sa.select(
        M.c.id, M.c.name, M.c.project_id, M.c.source_id, M.c.due_date, M.c.baseline_due_date, M.c.released,
        M.c.completed_at, linked.c.person,
        sa.func.count(linked.c.milestone_id).label("tasks"),
        sa.func.sum(_flag(is_done)).label("done"),
        sa.func.sum(_flag(sa.and_(is_done, linked.c.done_at >= ts_literal(sel.window_start)))).label("done_window"),
    ).select_from(from_).where(*cond).group_by(
        M.c.id, M.c.name, M.c.project_id, M.c.source_id, M.c.due_date, M.c.baseline_due_date, M.c.released,
        M.c.completed_at, linked.c.person,
    ).order_by(M.c.due_date, M.c.id)
    if sel.params.assignee is not None:
        q = q.having(sa.func.count(linked.c.milestone_id) > 0)
    rows = []
    for r in conn.execute(q).mappings():
        row = dict(r)
        row["due_date"], row["baseline_due_date"] = _as_date(row["due_date"]), _as_date(row["baseline_due_date"])
        row["done"] = int(row["done"] or 0)
        row["open"] = int(row["tasks"]) - row["done"]
        row["done_window"] = int(row["done_window"] or 0)
        rows.append(row)
    return rows


# --- workload ----------------------------------------------------------------------------------


def workload_rows(conn: Connection, sel: Selection) -> dict[tuple[Any, Any], Row]:
    """Per (person, group) — group ``None`` unless grouped by project, source or milestone:
    open tasks, open estimate (points and seconds), open overdue tasks, seconds logged this week."""
    second = sel.group_by if sel.group_by in ("project", "source", "milestone") else None
    ts = task_state(sel, require_counted=True)
    on = TA.c.task_id == ts.c.id
    if sel.params.assignee is not None:
        on = sa.and_(on, TA.c.person_id == sel.params.assignee)
    base = ts.outerjoin(TA, on)
    from_, key = group_join(_with_group(sel, second), base, ts.c.id, ts.c.project_id, ts.c.source_id)
    open_ = ts.c.status_asof != "done"
    q = sa.select(
        TA.c.person_id.label("p"), _key(key).label("g"),
        sa.func.count().label("open_tasks"),
        sa.func.sum(ts.c.estimate_points).label("open_points"),
        sa.func.sum(ts.c.estimate_seconds).label("open_seconds"),
        sa.func.sum(_flag(ts.c.due_date < sel.as_of_date)).label("overdue_tasks"),
    ).select_from(from_).where(open_).group_by(TA.c.person_id, *([key] if key is not None else []))
    out: dict[tuple[Any, Any], Row] = {}
    zero = {"open_tasks": 0.0, "open_points": 0.0, "open_seconds": 0.0, "overdue_tasks": 0.0, "seconds_week": 0.0}
    for r in conn.execute(q).mappings():
        out[(r["p"], r["g"])] = {**zero, **{k: _n(v) for k, v in r.items() if k not in ("p", "g")}}
    from_w, wkey, _, cond = _worklog_from(_with_group(sel, second), second)
    week = ts_literal(sel.week_start)
    wq = sa.select(W.c.person_id, _key(wkey).label("g"), sa.func.sum(W.c.seconds)) \
        .select_from(from_w).where(*cond, W.c.started_at >= week) \
        .group_by(W.c.person_id, *([wkey] if wkey is not None else []))
    for p, g, secs in conn.execute(wq):
        out.setdefault((p, g), dict(zero))["seconds_week"] = _n(secs)
    return out
