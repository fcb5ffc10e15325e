"""The workload view: per person across tools — open tasks, open estimate, overdue tasks,
hours logged this week (the ISO week of ``as_of`` in the organization's time zone, up
to ``as_of``). A task with two assignees counts for both; the total counts it once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from service.views import queries, rollups
from service.views.common import definitions, envelope, label
from service.views.queries import WorkloadRow
from service.views.selection import Selection, group_names

__all__ = ["workload_view", "workload_figures"]


def workload_figures(r: WorkloadRow, **labels: Any) -> dict[str, Any]:
    """The figures of one row of ``queries.workload_rows`` (or its total), after ``labels``
    (thousands of rows when grouped: one dict each, built once)."""
    return {
        **labels,
        "open_tasks": r[2],
        "open_estimate_points": round(r[3], 6),  # the rollup's sums move by + and -: no float dust
        "open_estimate_hours": round(r[4] / 3600, 2),
        "overdue_tasks": r[5],
        "hours_this_week": round(r[6] / 3600, 2),
        "reasons": {},
    }


def workload_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    # The open tasks from the workload rollup where it applies; otherwise scanned.
    rows, total_row = queries.workload_rows(conn, sel, rollups.workload_open(conn, sel))
    second = sel.group_by if sel.group_by in ("project", "source", "milestone") else None
    person_ids = {r[0] for r in rows}
    people = group_names(conn, replace(sel, params=replace(sel.params, group_by="person")), person_ids)
    # One label object per person and per group, shared by their rows (thousands when grouped).
    person_label = {p: label("person", p, people) for p in person_ids}
    if second:
        group_ids = {r[1] for r in rows}
        others = group_names(conn, sel, group_ids)
        group_label = {g: label(second, g, others) for g in group_ids}
        people_rows = [workload_figures(r, person=person_label[r[0]], group=group_label[r[1]]) for r in rows]
    else:
        people_rows = [workload_figures(r, person=person_label[r[0]]) for r in rows]
    plain = replace(sel, params=replace(sel.params, group_by=None))
    # Each worklog has one author: unless milestones (which a task may share) split them, the
    # per-person rows partition the worklogs and their sum is the total.
    week = queries.week_seconds(conn, plain) if second == "milestone" else sum(r[6] for r in rows)
    total = workload_figures((*total_row[:6], week))
    defs = definitions(
        sel,
        open_tasks="tasks in scope not done at as_of, per assignee (unassigned: person id null)",
        # METRICS.md (Workload): the rule behind rows that add up to more than the total.
        assignees="a task with several assignees counts once for each: the per-person rows can sum "
        "to more than the total",
        total="each open task of the selection counted once, however many assignees it has (and "
        "once if it has none); open_estimate and overdue_tasks likewise; hours_this_week counts "
        "each worklog once (a worklog has one author)",
        open_estimate="Σ story points and Σ estimate hours of the open tasks (both units, as the tools differ)",
        overdue_tasks="open tasks with due_date < as_of_date (organization time zone)",
        hours_this_week="Σ worklog hours by the person started from Monday 00:00 of as_of's "
        "ISO week through "
        "as_of (organization time zone)",
    )
    out = envelope("workload", sel, defs, {"group": label(None, None, {}), **total}, [], people=people_rows)
    return out
