"""The progress view's inputs read from the task rollups instead of the task rows.

``service.store.rollup`` keeps, by triggers, the alive tasks summed per (project, source,
status, class) and the counted tasks created and completed per UTC hour. They answer exactly
what the scans in ``queries.totals_and_days`` answer (for the progress and flow views) when:

- the state asked for is the current one (``sel.history`` false: nothing was synced after
  ``as_of``, so no task was deleted after it);
- no task in the rollups was created after ``as_of`` (``created_hi``, an upper bound);
- the selection is the whole organization or one source, grouped by nothing, project or
  source (the hour buckets are per source, not per project or person);
- the organization's zone has whole-hour offsets that change on whole hours, so every instant
  of a UTC hour falls on the same local day (all but a handful of zones).

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

from service.tables import TaskDayRollup, TaskRollup
from service.views.queries import TASK_TOTAL_FIELDS
from service.views.selection import Selection, table
from service.views.sqlkit import Row, num
from service.views.sqltime import day_bucket, offset_segments, ts_literal

__all__ = ["totals_and_days", "usable_zone"]

R = table(TaskRollup)
D = table(TaskDayRollup)

# What the rollups cannot give (cost and overdue figures): absent from their rows, so a caller
# that would need them fails loudly instead of reading zeros. ``done_known`` and ``done_window``
# come from the hour rows, which are per source: not per project.
_NOT_KEPT = ("direct_cost", "direct_cost_window", "overdue_open")
_PER_SOURCE = ("done_known", "done_window")


@lru_cache(maxsize=64)
def usable_zone(tz_name: str) -> bool:
    """Whole-hour offsets, changing on whole UTC hours: a UTC hour lies in one local day."""
    segs = offset_segments(tz_name, datetime.now(UTC).year + 2)
    return all(o % 3600 == 0 and (start is None or (start.minute, start.second) == (0, 0)) for start, o in segs)


def _applies(conn: Connection, sel: Selection) -> bool:
    p = sel.params
    if sel.history or sel.project_ids is not None or p.assignee is not None:
        return False
    if sel.group_by not in (None, "project", "source") or not usable_zone(sel.tz_name):
        return False
    late = sa.select(sa.literal(1)).where(*_where(sel, R), R.c.created_hi > ts_literal(sel.as_of)).limit(1)
    return conn.execute(late).first() is None


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
    conn: Connection, sel: Selection, *, created: bool, windowed: bool = False
) -> tuple[Row, dict[Any, Row], dict[date | None, int], dict[date | None, int]] | None:
    """``(total, rows per group, created per local day, done per local day)`` as
    ``queries.totals_and_days`` gives them, or ``None`` when the rollups do not apply.

    The rows carry the task counts, estimates and time tracking; with ``windowed`` also
    ``done_known`` and ``done_window`` (then not grouped by project: ``None``). Never the
    cost and overdue figures."""
    if not _applies(conn, sel) or (windowed and sel.group_by == "project"):
        return None
    counted = sa.case((_counted(sel, R), 1), else_=0)
    key: Any = {
        "project": sa.case((R.c.project_id != 0, R.c.project_id)),
        "source": R.c.source_id,
        None: sa.literal(None, sa.Integer),
    }[sel.group_by]
    q = (
        sa.select(
            key.label("g"),
            R.c.status_category.label("st"),
            counted.label("ct"),
            *(sa.func.sum(R.c[c]).label(c) for c in ("n", "pts_n", "pts", "sec_n", "sec", "time_n", "spent",
                                                      "remaining")),
        )
        .where(*_where(sel, R))
        .group_by(key, R.c.status_category, counted)
    )
    fields = [f for f in TASK_TOTAL_FIELDS if f not in _NOT_KEPT and (windowed or f not in _PER_SOURCE)]
    total: Row = dict.fromkeys(fields, 0.0)
    rows: dict[Any, Row] = {}
    for r in conn.execute(q).all():
        row = rows.setdefault(r.g, dict.fromkeys(fields, 0.0))
        if r.ct:
            _fold(row, r)
            _fold(total, r)
    if windowed:  # completions with a known time, and those in the trailing window, per source
        wq = (
            sa.select(
                D.c.source_id,
                sa.func.sum(D.c.n),
                sa.func.sum(sa.case((D.c.bucket >= ts_literal(sel.window_start), D.c.n))),
            )
            .where(*_where(sel, D), _counted(sel, D), D.c.kind == "d", D.c.known == sa.true())
            .group_by(D.c.source_id)
        )
        for src, known, window in conn.execute(wq).all():
            for row in (total, rows.get(src) if sel.group_by == "source" else None):
                if row is not None:
                    row["done_known"] += num(known)
                    row["done_window"] += num(window)

    bucket, to_date = day_bucket(D.c.bucket, sel.tz_name, sel.dialect, session_zone=sel.session_zone)
    kinds = ["c", "d"] if created else ["d"]
    days = (
        sa.select(D.c.kind, D.c.known, bucket.label("d"), sa.func.sum(D.c.n).label("n"))
        .where(*_where(sel, D), _counted(sel, D), D.c.kind.in_(kinds))
        .group_by(D.c.kind, D.c.known, bucket)
    )
    out: dict[str, dict[date | None, int]] = {"c": defaultdict(int), "d": defaultdict(int)}
    for kind, known, d, n in conn.execute(days).all():
        if n:
            out[kind][to_date(d) if known else None] += int(n)
    created_days = {d: n for d, n in out["c"].items() if n}
    done = {d: n for d, n in out["d"].items() if n}
    return total, ({} if sel.group_by is None else rows), created_days, done


def _fold(row: Row, r: Any) -> None:
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
        return
    row["in_progress" if r.st == "in_progress" else "todo"] += n
    row["pts_open"] += pts
    row["sec_open"] += sec
