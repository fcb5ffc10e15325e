"""The progress, flow and milestones views' task figures read from the rollups instead of the
task rows.

``service.store.rollups`` keeps, in the same transaction as every write of the rows, the alive
tasks summed per (project, source, status, class), the counted tasks created and completed per
UTC hour, and each milestone's tasks and done tasks: they are never behind the rows. They
answer exactly what the scans in ``queries.totals_and_days`` and ``queries.milestone_counts``
answer when:

- the state asked for is the current one (``sel.history`` false: nothing was synced after
  ``as_of``, so no task was deleted after it: a tombstone is never stamped after its sync);
- no task in the rollups was created after ``as_of`` (``created_hi``, an upper bound);
- the selection is the whole organization or one source, grouped by nothing, project or
  source (the hour buckets are per source, not per project or person);
- for the hour rows, the organization's zone has whole-hour offsets that change on whole hours,
  so every instant of a UTC hour falls on the same local day (all but a handful of zones).

Otherwise ``totals_and_days`` answers ``None`` and the caller scans. The equivalence with
the scans is tested on both stores (``tests/views/test_rollup_views.py``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import MilestoneRollup, Task, TaskDayRollup, TaskMilestone, TaskRollup, WorkloadRollup
from service.views.common import add_rows
from service.views.queries import TASK_TOTAL_FIELDS, MilestoneCounts, OpenTaskRow
from service.views.selection import Selection, counted_task, scope_conditions, table
from service.views.sqlkit import Row, key_or_null, num, with_group
from service.views.sqltime import day_bucket, offset_segments, ts_literal

__all__ = ["totals_and_days", "milestone_counts", "workload_open", "open_split", "usable_zone"]

R = table(TaskRollup)
T = table(Task)
D = table(TaskDayRollup)
MR = table(MilestoneRollup)
WL = table(WorkloadRollup)
TM = table(TaskMilestone)

# What the rollups cannot give (cost and overdue figures): absent from their rows, so a caller
# that would need them fails loudly instead of reading zeros.
_NOT_KEPT = ("direct_cost", "direct_cost_window", "overdue_open")
_WINDOWED = ("done_known", "done_window")


@lru_cache(maxsize=64)
def usable_zone(tz_name: str) -> bool:
    """Whole-hour offsets, changing on whole UTC hours: a UTC hour lies in one local day."""
    segs = offset_segments(tz_name, datetime.now(UTC).year + 2)
    return all(o % 3600 == 0 and (start is None or (start.minute, start.second) == (0, 0)) for start, o in segs)


def _applies(conn: Connection, sel: Selection, *, days: bool = True) -> bool:
    p = sel.params
    if sel.history or sel.project_ids is not None or p.assignee is not None:
        return False
    if sel.group_by not in (None, "project", "source") or (days and not usable_zone(sel.tz_name)):
        return False
    return not _created_late(conn, sel)


def _created_late(conn: Connection, sel: Selection) -> bool:
    """Whether a task alive now in the organization (or the source) was created after ``as_of``
    (``created_hi``: an upper bound; the rollups count it, the state at ``as_of`` does not)."""
    late = sa.select(sa.literal(1)).where(*_where(sel, R), R.c.created_hi > ts_literal(sel.as_of)).limit(1)
    return conn.execute(late).first() is not None


def workload_open(conn: Connection, sel: Selection) -> tuple[list[OpenTaskRow], OpenTaskRow] | None:
    """``queries.open_task_rows``' answer — the open tasks, points, estimate seconds and overdue
    tasks per (person, group) and their total — from the workload rollup, or ``None`` where it
    does not apply: a state before the last sync, a task created after ``as_of``, grouped by
    milestone (a task may have several). Any scope and assignee filter.

    A task with k assignees is in k rows of ``shares`` k (unassigned: one row of person 0): the
    rows per person are the sums as read, and the total is each ``shares`` value's sums divided
    by it — or, filtered by assignee, the person's rows as they are (each of their tasks once)."""
    if sel.history or sel.group_by == "milestone" or _created_late(conn, sel):
        return None
    key: Any = {"project": WL.c.project_id, "source": WL.c.source_id}.get(sel.group_by or "")
    n = sa.func.sum(WL.c.n)
    q = (
        sa.select(
            WL.c.person_id,
            key_or_null(key),
            WL.c.shares,
            n,
            sa.cast(sa.func.sum(WL.c.points), sa.Float),
            sa.cast(sa.func.sum(WL.c.seconds), sa.Float),
            sa.func.sum(sa.case((WL.c.due_date < sel.as_of_date, WL.c.n), else_=0)),
        )
        .where(
            WL.c.org_id == sel.org_id,
            *scope_conditions(sel, WL.c.project_id, WL.c.source_id),
            _counted(sel, WL),
            *([WL.c.person_id == sel.params.assignee] if sel.params.assignee is not None else []),
        )
        .group_by(WL.c.person_id, *([key] if key is not None else []), WL.c.shares)
        .having(n > 0)
    )
    rows: dict[tuple[Any, Any], list[Any]] = {}
    shared: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for person, g, shares, *sums in conn.execute(q).all():
        acc = rows.setdefault((person or None, g or None), [0, 0.0, 0.0, 0])
        part = shared[1 if sel.params.assignee is not None else shares]
        for i, v in enumerate(sums):
            acc[i] += v
            part[i] += v
    total = [0, 0.0, 0.0, 0]
    for shares, sums in shared.items():  # every task's rows are in the selection: Σ divisible by shares
        for i, v in enumerate(sums):
            total[i] += v // shares if i in (0, 3) else v / shares
    return [(p, g, int(a), b, c, int(d)) for (p, g), (a, b, c, d) in rows.items()], (
        None, None, int(total[0]), total[1], total[2], int(total[3]))


def open_split(conn: Connection, sel: Selection) -> dict[Any, list[tuple[Any, float, float, float]]] | None:
    """The risk view's concentration rows — per project, per person (``None``: unassigned), the open
    tasks' estimate seconds, points and count, a task with k assignees split evenly (1/k each) —
    from the workload rollup, or ``None`` where it does not apply (``workload_open``'s conditions).

    A task with k assignees is in k rows of ``shares`` k: each row's sums divided by k are its
    person's even split, as ``risk._concentration``'s scan computes it per task."""
    if sel.history or _created_late(conn, sel):
        return None
    k = sa.cast(WL.c.shares, sa.Float)
    q = (
        sa.select(
            WL.c.project_id,
            WL.c.person_id,
            sa.func.sum(sa.cast(WL.c.seconds, sa.Float) / k),
            sa.func.sum(sa.cast(WL.c.points, sa.Float) / k),
            sa.func.sum(sa.cast(WL.c.n, sa.Float) / k),
        )
        .where(WL.c.org_id == sel.org_id, *scope_conditions(sel, WL.c.project_id, WL.c.source_id), _counted(sel, WL),
               WL.c.n > 0)
        .group_by(WL.c.project_id, WL.c.person_id)
    )
    out: dict[Any, list[tuple[Any, float, float, float]]] = defaultdict(list)
    for pid, person, sec, pts, n in conn.execute(q).all():
        out[pid or None].append((person or None, float(sec or 0), float(pts or 0), float(n or 0)))
    return out


def milestone_counts(conn: Connection, sel: Selection) -> MilestoneCounts | None:
    """``queries.milestone_counts`` from the milestone rollup (tasks and done per milestone) and
    the done tasks' index range (completions in the trailing window), or ``None`` where the
    rollups do not apply (the same conditions as the task figures; grouped by milestone is
    fine, by person is not; no hour buckets, so any zone)."""
    if sel.group_by == "milestone":
        sel = with_group(sel, None)
    if not _applies(conn, sel, days=False):
        return None
    q = (
        sa.select(MR.c.milestone_id, sa.func.sum(MR.c.tasks), sa.func.sum(MR.c.done))
        .where(*_where(sel, MR), _counted(sel, MR))
        .group_by(MR.c.milestone_id)
    )
    wq = (
        sa.select(TM.c.milestone_id, sa.func.count())
        .select_from(T.join(TM, TM.c.task_id == T.c.id))
        .where(*_done_in_window(sel))
        .group_by(TM.c.milestone_id)
    )
    window = {mid: int(n) for mid, n in conn.execute(wq).all()}
    return {mid: [(None, int(n), int(done), window.get(mid, 0))] for mid, n, done in conn.execute(q).all() if n}


def _done_in_window(sel: Selection) -> list[Any]:
    """Counted alive tasks done in the trailing window: a range of the (org_id, status_category)
    index, filtered by completion time."""
    return [
        T.c.org_id == sel.org_id,
        T.c.status_category == "done",
        T.c.deleted_at.is_(None),
        T.c.completed_at >= ts_literal(sel.window_start),
        counted_task(sel, T.c.archived),
        *([T.c.source_id == sel.params.source] if sel.params.source is not None else []),
    ]


def _where(sel: Selection, t: sa.Table) -> list[Any]:
    cond = [t.c.org_id == sel.org_id]
    if sel.params.source is not None:
        cond.append(t.c.source_id == sel.params.source)
    return cond


def _counted(sel: Selection, t: sa.Table) -> Any:
    archived_ok = sa.and_(t.c.cls == 2, t.c.source_id.in_(sel.keep_archived_sources)) if sel.keep_archived_sources \
        else sa.false()
    return sa.or_(t.c.cls == 1, archived_ok)


def totals_and_days(
    conn: Connection, sel: Selection, *, created: bool, windowed: bool = False, days: bool = True
) -> tuple[Row, dict[Any, Row], dict[date | None, int], dict[date | None, int]] | None:
    """``(total, rows per group, created per local day, done per local day)`` as
    ``queries.totals_and_days`` gives them, or ``None`` when the rollups do not apply.

    The rows carry the task counts, estimates and time tracking; with ``windowed`` also
    ``done_known`` and ``done_window`` (the completions in the trailing window, from the done
    tasks' range of the (org_id, status_category) index). Never the cost and overdue figures.
    ``days=False``: no daily series (both empty), so any zone will do."""
    if not _applies(conn, sel, days=days):
        return None
    key: Any = {
        "project": sa.case((R.c.project_id != 0, R.c.project_id)),
        "source": R.c.source_id,
        None: sa.literal(None, sa.Integer),
    }[sel.group_by]
    fields = [f for f in TASK_TOTAL_FIELDS if f not in _NOT_KEPT and (windowed or f not in _WINDOWED)]
    # One row per group, the status breakdown folded in SQL (what queries._fold does per row).
    counted, st = _counted(sel, R), R.c.status_category
    done, doing = st == "done", st == "in_progress"
    sums = {
        "scope": ("n", None),
        "done": ("n", done),
        "in_progress": ("n", doing),
        "todo": ("n", sa.and_(~done, ~doing)),
        "pts_n": ("pts_n", None),
        "pts_total": ("pts", None),
        "pts_done": ("pts", done),
        "pts_open": ("pts", ~done),
        "sec_n": ("sec_n", None),
        "sec_total": ("sec", None),
        "sec_done": ("sec", done),
        "sec_open": ("sec", ~done),
        "time_n": ("time_n", None),
        "spent": ("spent", None),
        "remaining": ("remaining", None),
        "untimed_open": ("untimed_n", ~done),
        "stand_in_open": ("stand_in", ~done),
        "done_known": ("completed_n", done),
    }
    q = (
        sa.select(
            key.label("g"),
            *(
                sa.func.sum(sa.case((counted if cond is None else sa.and_(counted, cond), R.c[col]))).label(name)
                for name, (col, cond) in sums.items()
                if name in fields
            ),
        )
        .where(*_where(sel, R))
        .group_by(key)
    )
    names = [f for f in sums if f in fields]
    rows: dict[Any, Row] = {}
    for g, *values in conn.execute(q).all():
        rows[g] = {**dict.fromkeys(fields, 0.0), **{f: num(v) for f, v in zip(names, values, strict=True)}}
    total = add_rows(rows.values()) if rows else dict.fromkeys(fields, 0.0)
    if windowed:  # completions in the trailing window, per group
        wkey = {"project": T.c.project_id, "source": T.c.source_id, None: sa.literal(None, sa.Integer)}[sel.group_by]
        wq = sa.select(wkey, sa.func.count()).where(*_done_in_window(sel)).group_by(wkey)
        for g, n in conn.execute(wq).all():
            total["done_window"] += n
            if g in rows:
                rows[g]["done_window"] += n
    if not days:
        return total, ({} if sel.group_by is None else rows), {}, {}

    bucket, to_date = day_bucket(D.c.bucket, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    kinds = ["c", "d"] if created else ["d"]
    hours = (
        sa.select(D.c.kind, D.c.known, bucket.label("d"), sa.func.sum(D.c.n).label("n"))
        .where(*_where(sel, D), _counted(sel, D), D.c.kind.in_(kinds))
        .group_by(D.c.kind, D.c.known, bucket)
    )
    out: dict[str, dict[date | None, int]] = {"c": defaultdict(int), "d": defaultdict(int)}
    for kind, known, d, n in conn.execute(hours).all():
        if n:
            out[kind][to_date(d) if known else None] += int(n)
    created_days = {d: n for d, n in out["c"].items() if n}
    done_days = {d: n for d, n in out["d"].items() if n}
    return total, ({} if sel.group_by is None else rows), created_days, done_days
