"""The SQL aggregates behind the views: GROUP BY in the database, one scan per figure family.

Every function takes a resolved ``Selection`` and returns plain dicts keyed by the
group key (``None`` when the view is not grouped, or for "no project / nobody").
Nothing here loads tasks or worklogs row by row into Python, with one exception: on
SQLite, flow's lead and cycle times (two floats per done task) are ranked here. The
other results are one row per group or per day of a series.
Works on SQLite and PostgreSQL (see ``sqltime`` for the time zone handling).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from service.tables import MilestoneChange, table
from service.views.common import add_rows
from service.views.costs import (
    direct_costs,
    week_seconds,
    worklog_days,
    worklog_from,
)
from service.views.formulas import PERCENTILES, sorted_percentile
from service.views.selection import Selection, group_join, org_is, scope_conditions, task_state
from service.views.sqlkit import (
    TA,
    TM,
    C,
    M,
    Row,
    T,
    W,
    flag,
    key_or_null,
    num,
    parallel_plans,
    sum_if,
    with_group,
)
from service.views.sqltime import _as_date, day_bucket, seconds_between, ts_literal

__all__ = [
    "TASK_TOTAL_FIELDS",
    "task_totals",
    "task_totals_and_done_days",
    "totals_and_days",
    "task_days",
    "worklog_days",
    "direct_costs",
    "week_seconds",
    "flow_percentiles",
    "TOTAL",
    "milestone_rows",
    "milestone_history",
    "milestone_counts",
    "MilestoneCounts",
    "workload_rows",
]

TASK_TOTAL_FIELDS = (
    "scope",
    "done",
    "in_progress",
    "todo",
    "pts_n",
    "pts_total",
    "pts_done",
    "pts_open",
    "sec_n",
    "sec_total",
    "sec_done",
    "sec_open",
    "time_n",
    "spent",
    "remaining",
    "untimed_open",
    "stand_in_open",
    "direct_cost",
    "direct_cost_window",
    "done_known",
    "done_window",
    "overdue_open",
)


def task_totals(conn: Connection, sel: Selection, *, group: str | None = "sel") -> dict[Any, Row]:
    """Per group: scope and status breakdown at ``as_of``, estimates, time tracking and its gaps
    (open tasks with neither a remaining figure nor an estimate: ``untimed_open``; the estimate
    standing in for a missing remaining figure: ``stand_in_open``), direct costs, completions in
    the trailing window and open overdue tasks.

    ``group``: ``"sel"`` groups by ``sel.group_by``; ``"project"`` by project; ``None``: one total.
    One scan: GROUP BY (group, status, in scope) with plain sums, folded here.
    """
    return _task_totals(conn, sel, group, done_days=None)


def task_totals_and_done_days(conn: Connection, sel: Selection) -> tuple[Row, dict[date | None, int]]:
    """The ungrouped totals and, in the same scan, the tasks reaching done per local day."""
    days: dict[date | None, int] = defaultdict(int)
    rows = _task_totals(conn, sel, None, done_days=days)
    return rows[None], dict(days)


def _total_columns(ts: Any, sel: Selection) -> list[Any]:
    """The aggregate columns every task-total row carries (see ``_fold``); ``untimed`` and
    ``stand_in`` as the task rollup keeps them (``service.store.rollups``)."""
    win = ts_literal(sel.window_start)
    no_remaining = ts.c.remaining_seconds.is_(None)
    return [
        sa.func.count().label("n"),
        sa.func.count(ts.c.estimate_points).label("pts_n"),
        sa.func.sum(ts.c.estimate_points).label("pts"),
        sa.func.count(ts.c.estimate_seconds).label("sec_n"),
        sa.func.sum(ts.c.estimate_seconds).label("sec"),
        sa.func.count(sa.func.coalesce(ts.c.spent_seconds, ts.c.remaining_seconds)).label("time_n"),
        sa.func.sum(ts.c.spent_seconds).label("spent"),
        sa.func.sum(ts.c.remaining_seconds).label("remaining"),
        sa.func.sum(flag(sa.and_(no_remaining, ts.c.estimate_seconds.is_(None)))).label("untimed"),
        sum_if(no_remaining, ts.c.estimate_seconds).label("stand_in"),
        sa.func.sum(ts.c.cost).label("cost"),
        sum_if(ts.c.remote_created_at >= win, ts.c.cost).label("cost_w"),
        sa.func.count(ts.c.done_at).label("done_known"),
        sa.func.sum(flag(ts.c.done_at >= win)).label("done_w"),
        sa.func.sum(flag(ts.c.due_date < sel.as_of_date)).label("overdue"),
    ]


def _fold(row: Row, r: Any) -> None:
    """Add one (status, counted) aggregate row ``r`` into the task-total ``row``."""
    row["direct_cost"] += num(r.cost)
    row["direct_cost_window"] += num(r.cost_w)
    if not r.ct:
        return
    n, pts, sec = float(r.n), num(r.pts), num(r.sec)
    row["scope"] += n
    row["pts_n"] += r.pts_n
    row["pts_total"] += pts
    row["sec_n"] += r.sec_n
    row["sec_total"] += sec
    row["time_n"] += r.time_n
    row["spent"] += num(r.spent)
    row["remaining"] += num(r.remaining)
    if r.st == "done":
        row["done"] += n
        row["pts_done"] += pts
        row["sec_done"] += sec
        row["done_known"] += r.done_known
        row["done_window"] += num(r.done_w)
        return
    row["in_progress" if r.st == "in_progress" else "todo"] += n
    row["pts_open"] += pts
    row["sec_open"] += sec
    row["untimed_open"] += num(r.untimed)
    row["stand_in_open"] += num(r.stand_in)
    row["overdue_open"] += num(r.overdue)


def _task_totals(
    conn: Connection, sel: Selection, group: str | None, done_days: dict[date | None, int] | None
) -> dict[Any, Row]:
    ts = task_state(sel)
    by = sel.group_by if group == "sel" else group
    from_, key = group_join(with_group(sel, by), ts, ts.c.id, ts.c.project_id, ts.c.source_id)
    q = (
        sa.select(key_or_null(key).label("g"), ts.c.status_asof.label("st"), ts.c.counted.label("ct"),
                  *_total_columns(ts, sel))
        .select_from(from_)
        .group_by(*([key] if key is not None else []), ts.c.status_asof, ts.c.counted)
    )
    to_date: Any = None
    if done_days is not None:  # one more key: the local day of completion (done tasks only)
        bucket, to_date = day_bucket(ts.c.done_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
        dkey = sa.case((sa.and_(ts.c.status_asof == "done", ts.c.counted == 1), bucket))
        q = q.add_columns(dkey.label("dd")).group_by(dkey)
    out: dict[Any, Row] = {}
    for r in conn.execute(q).all():
        if done_days is not None and r.st == "done" and r.ct:
            done_days[to_date(r.dd)] += int(r.n)
        _fold(out.setdefault(r.g, dict.fromkeys(TASK_TOTAL_FIELDS, 0.0)), r)
    if key is None and None not in out:
        out[None] = dict.fromkeys(TASK_TOTAL_FIELDS, 0.0)
    return out


def totals_and_days(
    conn: Connection, sel: Selection, *, created: bool
) -> tuple[Row, dict[Any, Row], dict[date | None, int], dict[date | None, int]]:
    """``(total, rows per group, created per local day, done per local day)`` of the selection,
    the days over counted tasks (``created`` only when asked: else empty).

    Ungrouped on PostgreSQL, one scan with GROUPING SETS — (status, counted, done day) for the
    totals and the done series, (counted, creation day) for the scope series — hashed in
    memory (about 25 % less than two scans). Grouped, every set would carry all the
    aggregates, which costs more than separate scans; so do SQLite and the grouped views."""
    if sel.dialect != "postgresql" or sel.group_by is not None or not created:
        return _totals_and_days_scans(conn, sel, created=created)
    ts = task_state(sel)
    st, ct = ts.c.status_asof, ts.c.counted
    dbucket, to_date = day_bucket(ts.c.done_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    cbucket, _ = day_bucket(ts.c.remote_created_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    dkey = sa.case((sa.and_(st == "done", ct == 1), dbucket))
    q = (
        sa.select(
            st.label("st"), ct.label("ct"), dkey.label("dd"), cbucket.label("cd"),
            sa.func.grouping(dkey).label("by_created"), *_total_columns(ts, sel),
        )
        .select_from(ts)
        .group_by(sa.func.grouping_sets(sa.tuple_(st, ct, dkey), sa.tuple_(ct, cbucket)))
    )
    total = dict.fromkeys(TASK_TOTAL_FIELDS, 0.0)
    created_days: dict[date | None, int] = defaultdict(int)
    done_days: dict[date | None, int] = defaultdict(int)
    for r in conn.execute(q).all():
        if r.by_created:
            if r.ct:
                created_days[to_date(r.cd)] += int(r.n)
            continue
        _fold(total, r)
        if r.st == "done" and r.ct:
            done_days[to_date(r.dd)] += int(r.n)
    return total, {}, dict(created_days), dict(done_days)


def _totals_and_days_scans(
    conn: Connection, sel: Selection, *, created: bool
) -> tuple[Row, dict[Any, Row], dict[date | None, int], dict[date | None, int]]:
    if sel.group_by is None:  # the totals and the done-per-day series in one scan
        total, done = task_totals_and_done_days(conn, sel)
        created_days = task_days(conn, sel, done=False)[0] if created else {}
        return total, {}, created_days, done
    rows = _task_totals(conn, sel, "sel", None)
    if sel.group_by in ("project", "source"):
        total = add_rows(rows.values()) if rows else dict.fromkeys(TASK_TOTAL_FIELDS, 0.0)
    else:
        total = _task_totals(conn, sel, None, None)[None]
    created_days, done = task_days(conn, sel, created=created)
    return total, rows, created_days, done


def task_days(
    conn: Connection, sel: Selection, *, created: bool = True, done: bool = True
) -> tuple[dict[date | None, int], dict[date | None, int]]:
    """Counted tasks per local creation day (when ``created``) and per local day they reached
    done (``None``: unknown)."""
    ts = task_state(sel, require_counted=True)
    cday, to_date = day_bucket(ts.c.remote_created_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    dday, _ = day_bucket(ts.c.done_at, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    parts = []
    if done:
        parts.append(
            sa.select(sa.literal("d").label("kind"), dday.label("d"), sa.func.count().label("n"))
            .select_from(ts)
            .where(ts.c.status_asof == "done")
            .group_by(dday)
        )
    if created:
        parts.append(
            sa.select(sa.literal("c").label("kind"), cday.label("d"), sa.func.count().label("n"))
            .select_from(ts)
            .group_by(cday)
        )
    out: dict[str, dict[date | None, int]] = {"c": defaultdict(int), "d": defaultdict(int)}
    for kind, d, n in conn.execute(sa.union_all(*parts) if len(parts) > 1 else parts[0]).all():
        out[kind][to_date(d)] += int(n)
    return dict(out["c"]), dict(out["d"])


# --- flow --------------------------------------------------------------------------------------


class _Total:
    """The key of the whole selection's row in ``flow_percentiles``' answer."""

    def __repr__(self) -> str:
        return "TOTAL"


TOTAL: Any = _Total()


def flow_percentiles(conn: Connection, sel: Selection) -> dict[Any, dict[str, dict[str, Any]]]:
    """Per group, lead and cycle time (days) of the tasks done at ``as_of``: ``count`` and
    p50/p85/p95 — by ``percentile_cont`` on PostgreSQL, ranked here on SQLite.

    Grouped by project or source (groups that partition the tasks), the answer also holds the
    whole selection under ``TOTAL``, from the same pass; ungrouped, the total is under ``None``."""
    ts = task_state(sel, require_counted=True)
    # First entry into in_progress per task, from the history up to as_of: one GROUP BY,
    # hash-joined.
    fw = (
        sa.select(C.c.source_id, C.c.task_external_id, sa.func.min(C.c.changed_at).label("at"))
        .where(
            org_is(sel, C),
            C.c.field == "status",
            C.c.to_category == "in_progress",
            C.c.changed_at <= ts_literal(sel.as_of),
        )
        .group_by(C.c.source_id, C.c.task_external_id)
        .subquery("first_wip")
    )
    base = ts.outerjoin(fw, sa.and_(fw.c.source_id == ts.c.source_id, fw.c.task_external_id == ts.c.external_id))
    from_, key = group_join(sel, base, ts.c.id, ts.c.project_id, ts.c.source_id)
    first_wip = sa.case((fw.c.at <= ts.c.done_at, fw.c.at))
    lead = seconds_between(ts.c.done_at, ts.c.remote_created_at, sel.dialect) / 86400.0
    cycle = seconds_between(ts.c.done_at, sa.type_coerce(first_wip, T.c.completed_at.type), sel.dialect) / 86400.0
    done = [ts.c.status_asof == "done", ts.c.done_at.is_not(None)]
    with_total = sel.group_by in ("project", "source")
    if sel.dialect == "postgresql":
        return _pg_percentiles(conn, key_or_null(key), lead, cycle, from_, done, key is not None, with_total)
    # SQLite: the durations come back (two floats per done task) and are ranked here; ranking
    # them in SQL with window functions sorted every row twice, about 4× slower.
    q = sa.select(key_or_null(key), lead, cycle).select_from(from_).where(*done)
    leads: dict[Any, list[float]] = defaultdict(list)
    cycles: dict[Any, list[float]] = defaultdict(list)
    for g, lead_days, cycle_days in conn.execute(q).all():  # SQLite's julianday arithmetic: floats
        if lead_days is not None:
            leads[g].append(lead_days)
        if cycle_days is not None:
            cycles[g].append(cycle_days)
    if with_total:
        leads[TOTAL] = [v for vs in list(leads.values()) for v in vs]
        cycles[TOTAL] = [v for vs in list(cycles.values()) for v in vs]
    out: dict[Any, dict[str, dict[str, Any]]] = {}
    for metric, per_group in (("lead", leads), ("cycle", cycles)):
        for g, vs in per_group.items():
            if not vs:
                continue
            vs.sort()
            figures = {f"p{p}": sorted_percentile(vs, p) for p in PERCENTILES}
            out.setdefault(g, {})[metric] = {"count": len(vs), **figures}
    return out


def _pg_percentiles(
    conn: Connection, g: Any, lead: Any, cycle: Any, from_: Any, where: list[Any], grouped: bool,
    with_total: bool,
) -> dict[Any, dict[str, dict[str, Any]]]:
    """PostgreSQL's ``percentile_cont`` interpolates exactly like ``formulas.percentile`` (between
    the closest ranks, at (n − 1) × p): one aggregate pass instead of ranking every row."""
    fractions = postgresql.array([sa.literal(p / 100) for p in PERCENTILES])
    q = (
        sa.select(
            g.label("g"),
            sa.func.count(lead).label("lead_n"),
            sa.func.percentile_cont(fractions).within_group(lead).label("lead_p"),
            sa.func.count(cycle).label("cycle_n"),
            sa.func.percentile_cont(fractions).within_group(cycle).label("cycle_p"),
        )
        .select_from(from_)
        .where(*where)
    )
    if grouped and with_total:  # the groups and the whole, sorted per set in one pass
        q = q.add_columns(sa.func.grouping(g).label("whole")).group_by(sa.func.grouping_sets(sa.tuple_(g), sa.tuple_()))
    elif grouped:
        q = q.group_by(g)
    out: dict[Any, dict[str, dict[str, Any]]] = {}
    for r in conn.execute(q).all():
        key = TOTAL if grouped and with_total and r.whole else r.g
        for metric in ("lead", "cycle"):
            n, values = getattr(r, f"{metric}_n"), getattr(r, f"{metric}_p")
            if n:
                out.setdefault(key, {})[metric] = {
                    "count": int(n),
                    **{f"p{p}": float(v) for p, v in zip(PERCENTILES, values, strict=True)},
                }
    return out


# --- milestones --------------------------------------------------------------------------------


MilestoneCounts = dict[int, list[tuple[Any, int, int, int]]]


def milestone_rows(conn: Connection, sel: Selection, counts: MilestoneCounts | None = None) -> list[Row]:
    """Every milestone of the selection with its task counts at ``as_of`` (and, grouped by
    person, one row per milestone and assignee). Two small results joined here: the
    milestones, and their tasks counted per milestone in one GROUP BY (or ``counts``, the same
    from the milestone rollups: ``rollups.milestone_counts``)."""
    if counts is None:
        counts = milestone_counts(conn, sel)
    at = ts_literal(sel.as_of)
    cond = [
        M.c.org_id == sel.org_id,
        M.c.archived == sa.false(),
        sa.or_(M.c.deleted_at.is_(None), M.c.deleted_at > at),
    ]
    cond += scope_conditions(sel, M.c.project_id, M.c.source_id)
    q = (
        sa.select(
            M.c.id,
            M.c.name,
            M.c.project_id,
            M.c.source_id,
            M.c.due_date,
            M.c.baseline_due_date,
            M.c.released,
            M.c.completed_at,
        )
        .where(*cond)
        .order_by(M.c.due_date, M.c.id)
    )
    rows = []
    empty = [(None, 0, 0, 0)]
    for mid, name, project_id, source_id, due, baseline, released, completed_at in conn.execute(q).all():
        found = counts.get(mid)
        if found is None and sel.params.assignee is not None:
            continue  # filtered by assignee: only milestones holding their tasks
        due, baseline = _as_date(due), _as_date(baseline)
        for who, n, done_n, done_w in found or empty:
            rows.append({
                "id": mid, "name": name, "project_id": project_id, "source_id": source_id, "due_date": due,
                "baseline_due_date": baseline, "released": released, "completed_at": completed_at,
                "person": who, "tasks": n, "done": done_n, "done_window": done_w, "open": n - done_n,
            })
    return rows


def milestone_counts(conn: Connection, sel: Selection) -> MilestoneCounts:
    """Per milestone id: ``[(person, tasks, done, done in the trailing window)]`` over the counted
    tasks at ``as_of`` (one entry with person ``None`` unless grouped by person)."""
    ts = task_state(sel, require_counted=True)
    tasks = TM.join(ts, ts.c.id == TM.c.task_id)
    person: Any = sa.literal(None, sa.Integer)
    if sel.group_by == "person":
        on = TA.c.task_id == ts.c.id
        if sel.params.assignee is not None:
            on = sa.and_(on, TA.c.person_id == sel.params.assignee)
        tasks = tasks.outerjoin(TA, on)
        person = TA.c.person_id
    is_done = ts.c.status_asof == "done"
    counts_q = (
        sa.select(
            TM.c.milestone_id,
            person.label("person"),
            sa.func.count().label("tasks"),
            sa.func.sum(flag(is_done)).label("done"),
            sa.func.sum(flag(sa.and_(is_done, ts.c.done_at >= ts_literal(sel.window_start)))).label("done_window"),
        )
        .select_from(tasks)
        .group_by(TM.c.milestone_id, *([person] if sel.group_by == "person" else []))
    )
    counts: MilestoneCounts = defaultdict(list)
    for mid, who, n, done_n, done_w in conn.execute(counts_q).all():  # tuples: a RowMapping per row costs more
        counts[mid].append((who, int(n or 0), int(done_n or 0), int(done_w or 0)))
    return counts



MC = table(MilestoneChange)
# (recorded by as_of, the local day it was recorded, old value, new value, origin)
MilestoneEntry = tuple[bool, date | None, str | None, str | None, str]
MilestoneHistory = dict[int, dict[str, list[MilestoneEntry]]]


def milestones_changed_after(conn: Connection, sel: Selection) -> set[int]:
    """The organization's milestones with a change (any field) recorded after ``as_of``: those
    whose stored values may not be the ones they had then."""
    q = sa.select(MC.c.milestone_id).where(MC.c.org_id == sel.org_id, MC.c.at > ts_literal(sel.as_of)).distinct()
    return set(conn.execute(q).scalars())


def milestone_history(conn: Connection, sel: Selection, ids: list[int]) -> MilestoneHistory:
    """Per milestone id and field: ``[(by as_of, local day, old_value, new_value, origin)]`` in the order recorded
    (``milestone_change``; see ``service.store.records.record_milestone_history``): every due date
    and baseline (the slip series), and the released flags and completion times of the milestones
    that changed them after ``as_of`` (the others' stored values are those of ``as_of``)."""
    out: MilestoneHistory = {}
    if not ids:
        return out
    # Compared with as_of and bucketed by local day in SQL: decoding every instant cost more than
    # the rest of the history.
    day, to_date = day_bucket(MC.c.at, sel.tz_name, sel.dialect)
    cols = (MC.c.milestone_id, MC.c.field, MC.c.at <= ts_literal(sel.as_of), day, MC.c.old_value, MC.c.new_value,
            MC.c.origin)
    order = (MC.c.milestone_id, MC.c.field, MC.c.at, MC.c.id)
    replay = sa.select(MC.c.milestone_id).where(
        MC.c.org_id == sel.org_id, MC.c.field.in_(("released", "completed_at")), MC.c.at > ts_literal(sel.as_of))
    q = sa.select(*cols).where(MC.c.org_id == sel.org_id, sa.or_(
        MC.c.field.in_(("due_date", "baseline")), MC.c.milestone_id.in_(replay.scalar_subquery())))
    wanted = set(ids)
    # One read of the organization's rows (a few per milestone) in index order, not a lookup per
    # 400 ids: the milestones view of 2,500 milestones spent more in the lookups than in the view.
    for mid, field, seen, bucket, old, new, origin in conn.execute(q.order_by(*order)):
        if mid in wanted:
            fields = out.get(mid)
            if fields is None:
                fields = out[mid] = {}
            entries = fields.get(field)
            if entries is None:
                entries = fields[field] = []
            entries.append((bool(seen), to_date(bucket), old, new, origin))
    return out


# --- workload ----------------------------------------------------------------------------------


# (person, group, open tasks, open points, open estimate seconds, open overdue tasks, seconds
# logged this week)
WorkloadRow = tuple[Any, Any, int, float, float, int, float]
# A workload row before its week's seconds: person, group, open tasks, open points, open
# estimate seconds, overdue open tasks.
OpenTaskRow = tuple[Any, Any, int, float, float, int]


def open_task_rows(conn: Connection, sel: Selection) -> tuple[list[OpenTaskRow], OpenTaskRow]:
    """``(rows, total)`` of ``workload_rows`` before the week's seconds, scanned from the task
    state and the assignee links: rows per (person, group), any order; the total counts each
    open task once. The open tasks are read once into a materialized CTE that both sums read,
    the per-person join and the total (a second scan of the task state for the total cost ~40 %
    more on bench/views.py's data)."""
    second = sel.group_by if sel.group_by in ("project", "source", "milestone") else None
    ts = task_state(sel, require_counted=True)
    open_ = (
        sa.select(
            ts.c.id,
            ts.c.project_id,
            ts.c.source_id,
            ts.c.estimate_points,
            ts.c.estimate_seconds,
            flag(ts.c.due_date < sel.as_of_date).label("overdue"),
        )
        .where(ts.c.status_asof != "done")
        .cte("open_tasks")
        .prefix_with("MATERIALIZED")
    )
    on = TA.c.task_id == open_.c.id
    if sel.params.assignee is not None:
        on = sa.and_(on, TA.c.person_id == sel.params.assignee)
    from_, key = group_join(
        with_group(sel, second), open_.outerjoin(TA, on), open_.c.id, open_.c.project_id, open_.c.source_id
    )

    def sums(total: int) -> list[Any]:
        # Floats and zeros from the store: thousands of rows when grouped, no Decimal or None to
        # convert in Python.
        return [
            sa.func.count().label("open_tasks"),
            sa.func.coalesce(sa.cast(sa.func.sum(open_.c.estimate_points), sa.Float), 0.0).label("open_points"),
            sa.func.coalesce(sa.cast(sa.func.sum(open_.c.estimate_seconds), sa.Float), 0.0).label("open_seconds"),
            sa.func.coalesce(sa.func.sum(open_.c.overdue), 0).label("overdue_tasks"),
            sa.literal(total).label("total"),
        ]

    per_person = (
        sa.select(TA.c.person_id.label("p"), key_or_null(key).label("g"), *sums(0))
        .select_from(from_)
        .group_by(TA.c.person_id, *([key] if key is not None else []))
    )
    total_q = sa.select(sa.null().label("p"), sa.null().label("g"), *sums(1)).select_from(open_)
    with parallel_plans(conn, sel):
        rows = conn.execute(sa.union_all(per_person, total_q)).all()
    total: OpenTaskRow = next((tuple(r[:6]) for r in rows if r[6]), (None, None, 0, 0.0, 0.0, 0))
    return [tuple(r[:6]) for r in rows if not r[6]], total


def workload_rows(
    conn: Connection, sel: Selection, open_tasks: tuple[list[OpenTaskRow], OpenTaskRow] | None = None
) -> tuple[list[WorkloadRow], WorkloadRow]:
    """``(rows, total)``. Rows per (person, group) — group ``None`` unless grouped by project,
    source or milestone — in order (person ids ascending, unassigned last; then group ids, none
    first): open tasks, open estimate (points and seconds), open overdue tasks, seconds logged
    this week. The total counts each open task once, though a task may have several assignees
    (or milestones); its seconds this week are left to the caller (0 here).

    ``open_tasks``: the open-task figures (``open_task_rows``' answer) when the caller has them
    from the workload rollup; otherwise they are scanned."""
    second = sel.group_by if sel.group_by in ("project", "source", "milestone") else None
    rows, total = open_tasks if open_tasks is not None else open_task_rows(conn, sel)
    from_w, wkey, _, cond = worklog_from(with_group(sel, second), second, costed=False, since=sel.week_start)
    # SQLite: grouped by the bare person_id, it would walk the whole person index for its order
    # (a row lookup per worklog); as an expression it sorts the week's few rows instead.
    person = W.c.person_id if sel.dialect == "postgresql" else sa.literal_column("+worklog.person_id", sa.Integer)
    wq = (
        sa.select(person, key_or_null(wkey).label("g"), sa.cast(sa.func.sum(W.c.seconds), sa.Float))
        .select_from(from_w)
        .where(*cond)
        .group_by(person, *([wkey] if wkey is not None else []))
    )
    # The week's worklogs are one short range of the covering day index: serial is faster.
    week = {(p, g): secs for p, g, secs in conn.execute(wq).all()}
    take = week.pop
    out: list[WorkloadRow] = [(p, g, n, pts, secs, od, take((p, g), 0.0)) for p, g, n, pts, secs, od in rows]
    out += [(p, g, 0, 0.0, 0.0, 0, secs) for (p, g), secs in week.items()]
    out.sort(key=lambda r: (r[0] is None, r[0] or 0, r[1] or 0))
    return out, (*total, 0.0)

