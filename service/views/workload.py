"""The workload view: per person across tools — open tasks, open estimate, overdue tasks,
hours logged this week (the ISO week of ``as_of`` in the organization's time zone, up
to ``as_of``). A task with two assignees counts for both; the total counts it once.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from service.views import queries
from service.views.common import definitions, envelope, label
from service.views.selection import Selection, group_names

__all__ = ["workload_view", "workload_figures"]


def workload_figures(r: dict[str, float]) -> dict[str, Any]:
    return {
        "open_tasks": int(r["open_tasks"]),
        "open_estimate_points": float(r["open_points"]),
        "open_estimate_hours": round(r["open_seconds"] / 3600, 2),
        "overdue_tasks": int(r["overdue_tasks"]),
        "hours_this_week": round(r["seconds_week"] / 3600, 2),
        "reasons": {},
    }


def workload_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    rows = queries.workload_rows(conn, sel)
    second = sel.group_by if sel.group_by in ("project", "source", "milestone") else None
    person_ids = {p for p, _, _ in rows}
    people = group_names(conn, replace(sel, params=replace(sel.params, group_by="person")), person_ids)
    # One label object per person and per group, shared by their rows (thousands when grouped).
    person_label = {p: label("person", p, people) for p in person_ids}
    group_label: dict[Any, dict[str, Any]] = {}
    if second:
        group_ids = {g for _, g, _ in rows}
        others = group_names(conn, sel, group_ids)
        group_label = {g: label(second, g, others) for g in group_ids}
    people_rows = []
    for p, g, r in rows:
        item = {"person": person_label[p], "group": group_label[g]} if second else {"person": person_label[p]}
        item.update(workload_figures(r))
        people_rows.append(item)
    plain = replace(sel, params=replace(sel.params, group_by=None))
    totals = queries.open_totals(conn, plain)
    # Each worklog has one author: unless milestones (which a task may share) split them, the
    # per-person rows partition the worklogs and their sum is the total.
    if second == "milestone":
        totals["seconds_week"] = queries.week_seconds(conn, plain)
    else:
        totals["seconds_week"] = sum(r["seconds_week"] for _, _, r in rows)
    total = workload_figures(totals)
    defs = definitions(
        sel,
        open_tasks="tasks in scope not done at as_of, per assignee (unassigned: person id null)",
        open_estimate="Σ story points and Σ estimate hours of the open tasks (both units, as the tools differ)",
        overdue_tasks="open tasks with due_date < as_of_date (organization time zone)",
        hours_this_week="Σ worklog hours by the person started from Monday 00:00 of as_of's "
        "ISO week through "
        "as_of (organization time zone)",
    )
    out = envelope("workload", sel, defs, {"group": label(None, None, {}), **total}, [], people=people_rows)
    return out
