"""The flow view: lead and cycle time (median, p85, p95), WIP and throughput.

Lead time = done_at − created_at; cycle time = done_at − the first entry into
``in_progress`` recorded in the change history. ``done_at`` is when the task last
reached done, as of ``as_of``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from service.views import queries, rollups
from service.views.common import definitions, envelope, label
from service.views.formulas import PERCENTILES, TRAILING_DAYS
from service.views.progress import throughput_series
from service.views.selection import Selection, group_names

__all__ = ["flow_view", "flow_figures"]


def _stats(found: dict[str, Any] | None, what: str, reasons: dict[str, str]) -> dict[str, Any]:
    if not found:
        reasons[f"{what}_days"] = f"no task done by as_of has a known {what.replace('_', ' ')}"
        return {"count": 0, **{f"p{p}": None for p in PERCENTILES}}
    return {"count": found["count"], **{f"p{p}": round(found[f"p{p}"], 3) for p in PERCENTILES}}


def flow_figures(totals: dict[str, float], durations: dict[str, Any]) -> dict[str, Any]:
    """One row's flow figures from its task aggregate and its percentiles."""
    reasons: dict[str, str] = {}
    lead = _stats(durations.get("lead"), "lead_time", reasons)
    cycle = _stats(durations.get("cycle"), "cycle_time", reasons)
    completed = int(totals["done_known"])
    cycle["excluded"] = completed - cycle["count"]
    if cycle["excluded"]:
        reasons["cycle_time_days.excluded"] = "done tasks with no recorded entry into in_progress"
    return {
        "done": int(totals["done"]),
        "completed_known": completed,
        "wip": int(totals["in_progress"]),
        "throughput_per_week": round(totals["done_window"] / (TRAILING_DAYS / 7), 4),
        "lead_time_days": lead,
        "cycle_time_days": cycle,
        "reasons": reasons,
    }


def flow_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    inputs = rollups.totals_and_days(conn, sel, created=False, windowed=True)
    total_row, rows, _, done = inputs or queries.totals_and_days(conn, sel, created=False)
    durations = queries.flow_percentiles(conn, sel)
    if sel.group_by in ("project", "source"):  # partitions: the total came in the same pass
        total_dur = {None: durations.pop(queries.TOTAL, {})}
    elif sel.group_by is not None:  # overlapping groups: the total counts each task once
        total_dur = queries.flow_percentiles(conn, replace(sel, params=replace(sel.params, group_by=None)))
    else:
        total_dur = durations
    keys = set(rows) | set(durations)
    names = group_names(conn, sel, keys)
    zero = dict.fromkeys(queries.TASK_TOTAL_FIELDS, 0.0)
    groups = (
        [
            {
                "group": label(sel.group_by, k, names),
                **flow_figures(rows.get(k, zero), durations.get(k, {})),
            }
            for k in sorted(keys, key=lambda x: (x is None, x or 0))
        ]
        if sel.group_by
        else []
    )
    known = [d for d in done if d is not None]
    start: date = min(known) if known else sel.as_of_date
    defs = definitions(
        sel,
        lead_time="done_at − created_at, in days, over the tasks done at as_of",
        cycle_time="done_at − first entry into in_progress (change history), in days; tasks "
        "with no such entry "
        "are counted in cycle_time_days.excluded",
        percentiles="p50 (median), p85, p95 by linear interpolation between closest ranks",
        wip="tasks in progress at as_of",
        throughput="tasks reaching done in the trailing 4 weeks / 4 (per week); the series "
        "counts them per ISO "
        "week in the organization's time zone",
    )
    return envelope(
        "flow",
        sel,
        defs,
        {"group": label(None, None, {}), **flow_figures(total_row, total_dur.get(None, {}))},
        groups,
        series={"throughput": throughput_series(done, start, sel.as_of_date)},
    )
