"""The milestones view: every milestone with open / done task counts, percent complete,
overdue (days overdue), at risk (forecast finish after due) and slip against the baseline.

Jira versions (fixVersions) and Trello milestone cards alike; "today" is ``as_of``'s
date in the organization's time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Connection

from service.views import queries, rollups
from service.views.common import definitions, envelope, label, share
from service.views.formulas import TRAILING_DAYS, forecast_finish, milestone_flags, slip_days
from service.views.selection import Selection, group_names

__all__ = ["milestones_view", "milestone_items", "milestone_figures", "milestone_counts"]

NO_TASKS = "no linked tasks"


def _completed(released: bool, completed_at: datetime | None, as_of: datetime) -> bool:
    if completed_at is not None:
        return completed_at <= as_of
    return bool(released)


Entry = queries.MilestoneEntry  # (recorded by as_of, local day, old value, new value, origin)


def value_at(entries: list[Entry]) -> tuple[str | None, str]:
    """A field's value at ``as_of`` from its recorded history, and the rule that gave it:
    ``history`` (the last value recorded by then) or ``earliest_known`` (``as_of`` is before
    taskhub first recorded the field: its first recorded value, the earliest known)."""
    before = [e for e in entries if e[0]]
    if before:
        return before[-1][3], "history"
    first = entries[0]
    # A PM's baseline replaced an implicit one (the first due date seen): before it, the old value.
    return (first[2], "history") if first[4] == "pm" else (first[3], "earliest_known")


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def as_of_row(row: dict[str, Any], history: dict[str, list[Entry]], sel: Selection) -> dict[str, Any]:
    """``row`` (changed in place) with the due date, released flag, completion and baseline the
    milestone had at ``as_of`` (METRICS.md, Milestones), its slip series up to then, and the rule
    used for the due date. A field whose last recorded change is not after ``as_of`` keeps its
    stored value (the last recorded): the usual "as of now" replays nothing."""
    for field, entries in history.items():
        if field == "due_date" or entries[-1][0]:
            continue
        value = value_at(entries)[0]
        if field == "released":
            row["released"] = value == "true"
        elif field == "completed_at":  # a Trello card's completion time moves with its activity
            row["completed_at"] = datetime.fromisoformat(value) if value else None
        elif field == "baseline":  # set by a PM
            row["baseline_due_date"] = _date(value)
    due = history.get("due_date") or []
    if not due:
        row["due_date_rule"] = "current"  # synced before history was kept
    elif due[-1][0]:
        row["due_date_rule"] = "history"
    else:
        text, row["due_date_rule"] = value_at(due)
        row["due_date"] = _date(text)
        due = [e for e in due if e[0]]
    base = row["baseline_due_date"]
    row["slip_series"] = [
        {"on": on.isoformat() if on else None, "due_date": new, "origin": origin,
         "slip_days": (date.fromisoformat(new) - base).days if new and base else None}
        for _, on, _, new, origin in due
    ]
    return row


def milestone_figures(row: dict[str, Any], sel: Selection) -> dict[str, Any]:
    """One milestone's figures from its row at ``as_of`` (``queries.milestone_rows``, then
    ``as_of_row``)."""
    today = sel.as_of_date
    completed = _completed(row["released"], row["completed_at"], sel.as_of)
    tasks, done, open_ = int(row["tasks"]), int(row["done"]), int(row["open"])
    throughput = row["done_window"] / (TRAILING_DAYS / 7)
    reasons: dict[str, str] = {}
    forecast: date | None
    why: str | None
    if completed:
        forecast, why = None, "the milestone is complete"
    elif not tasks:  # METRICS: no linked tasks, no forecast (not "today"); still overdue once its date passed
        forecast, why = None, NO_TASKS
    else:
        forecast, why = forecast_finish(today, open_, throughput)
    flags = milestone_flags(row["due_date"], completed, today, forecast, why)
    if forecast is None and not completed:
        reasons["forecast_finish"] = why or ""
    if flags.at_risk is None and flags.reason:
        reasons["at_risk"] = flags.reason
    slip = slip_days(row["due_date"], row["baseline_due_date"], forecast)
    if slip is None:
        reasons["slip_days"] = (
            "no baseline due date" if row["baseline_due_date"] is None else "neither a due date nor a forecast"
        )
    if flags.days_overdue is None:
        reasons["days_overdue"] = "not overdue"
    if row.get("due_date_rule") == "earliest_known":
        reasons["due_date"] = "as_of is before taskhub first recorded this milestone: its earliest known due date"
    elif row.get("due_date_rule") == "current":
        reasons["due_date"] = "no due-date history recorded for this milestone: its current due date"
    pct = done / tasks if tasks else None
    if pct is None:
        reasons["percent_complete"] = NO_TASKS
    # METRICS: released / completed while linked tasks are still open is flagged, with their count.
    open_when_completed = open_ if completed and open_ > 0 else None
    if open_when_completed:
        reasons["completed_with_open_tasks"] = (
            f"marked released/completed while {open_} linked task{' is' if open_ == 1 else 's are'} still open"
        )
    return {
        "id": row["id"],
        "name": row["name"],
        "project_id": row["project_id"],
        "source_id": row["source_id"],
        "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        "due_date_rule": row.get("due_date_rule", "current"),
        "baseline_due_date": row["baseline_due_date"].isoformat() if row["baseline_due_date"] else None,
        "completed": completed,
        "completed_with_open_tasks": open_when_completed is not None,
        "completed_open_tasks": open_when_completed,
        "status": flags.status,
        "overdue": flags.overdue,
        "days_overdue": flags.days_overdue,
        "at_risk": flags.at_risk,
        "forecast_finish": forecast.isoformat() if forecast else None,
        "slip_days": slip,
        "tasks": tasks,
        "open": open_,
        "done": done,
        "percent_complete": share(pct),
        "throughput_per_week": round(throughput, 4),
        "slip_series": row.get("slip_series", []),
        "reasons": reasons,
    }


def milestone_counts(items: list[dict[str, Any]]) -> dict[str, Any]:
    tasks = sum(m["tasks"] for m in items)
    done = sum(m["done"] for m in items)
    out = {
        "milestones": len(items),
        "completed": sum(1 for m in items if m["completed"]),
        "completed_with_open_tasks": sum(1 for m in items if m["completed_with_open_tasks"]),
        "overdue": sum(1 for m in items if m["overdue"]),
        "at_risk": sum(1 for m in items if m["at_risk"]),
        "open_tasks": sum(m["open"] for m in items),
        "done_tasks": done,
        "percent_complete": share(done / tasks) if tasks else None,
        "reasons": {} if tasks else {"percent_complete": "no task in scope in these milestones"},
    }
    return out


def milestone_items(conn: Connection, sel: Selection, *, slip_series: bool = True) -> list[dict[str, Any]]:
    """Every milestone of the selection with its figures at ``as_of`` (``milestone_figures``).

    ``slip_series=False`` (the risk view, which lists no series): the history is read only for the
    milestones with a change recorded after ``as_of`` — the others' stored values are those of
    ``as_of`` (``as_of_row``) — and their ``slip_series`` is empty. Reading every milestone's due
    dates for the series was ~40 % of this function at 2,500 milestones."""
    plain = sel if sel.group_by != "person" else _ungrouped(sel)
    counts = rollups.milestone_counts(conn, plain)  # None: counted from the task rows
    rows = queries.milestone_rows(conn, plain, counts)
    ids = {r["id"] for r in rows}
    if not slip_series:
        ids &= queries.milestones_changed_after(conn, sel)
    history = queries.milestone_history(conn, sel, sorted(ids))
    items = [milestone_figures(as_of_row(r, history.get(r["id"], {}), sel), sel) for r in rows]
    if not slip_series:
        for m in items:
            m["slip_series"] = []
    return items


def milestones_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    items = milestone_items(conn, sel)
    by = sel.group_by
    groups: list[dict[str, Any]] = []
    if by in ("project", "source", "milestone"):
        field = {"project": "project_id", "source": "source_id", "milestone": "id"}[by]
        buckets: dict[Any, list[dict[str, Any]]] = {}
        for m in items:
            buckets.setdefault(m[field], []).append(m)
        names = group_names(conn, sel, set(buckets))
        groups = [
            {"group": label(by, k, names), **milestone_counts(v)}
            for k, v in sorted(buckets.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ]
    elif by == "person":
        flags = {m["id"]: m for m in items}
        per: dict[Any, list[dict[str, Any]]] = {}
        for r in queries.milestone_rows(conn, sel):
            base = flags[r["id"]]
            per.setdefault(r["person"], []).append({**base, "tasks": r["tasks"], "open": r["open"], "done": r["done"]})
        names = group_names(conn, sel, set(per))
        groups = [
            {"group": label(by, k, names), **milestone_counts(v)}
            for k, v in sorted(per.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))
        ]
    defs = definitions(
        sel,
        completed="Jira version released / Trello milestone card done or dueComplete, with completed_at by as_of",
        overdue="due_date < as_of_date (organization time zone) and not completed; "
        "days_overdue = as_of_date − "
        "due_date",
        at_risk="not completed, not overdue, and forecast_finish > due_date",
        forecast_finish="as_of_date + open tasks / throughput (whole days, rounded up); "
        "throughput = the "
        "milestone's tasks reaching done in the trailing 4 weeks / 4",
        slip_days="due_date (or, without one, forecast_finish) − baseline_due_date (set by a PM; until then "
        "the first due date seen), both as they were at as_of",
        due_date="the due date the milestone had at as_of: the last recorded by then (due_date_rule "
        "'history'); before taskhub first recorded it, the earliest known ('earliest_known'); for a "
        "milestone with no recorded history, the current one ('current')",
        slip_series="each due date recorded up to as_of, with the day it was recorded (organization time zone) "
        "and its slip against the baseline at as_of",
        percent_complete="done tasks / tasks of the milestone in scope; null for a milestone with no linked "
        "tasks (reason 'no linked tasks')",
        no_linked_tasks="a milestone with no linked tasks has no forecast_finish and no percent_complete (null, "
        "reason 'no linked tasks'); it is still overdue when its due date passed and it is not completed",
        completed_with_open_tasks="a milestone marked released/completed while linked tasks are still open is "
        "flagged completed_with_open_tasks, with their count in completed_open_tasks",
    )
    return envelope(
        "milestones",
        sel,
        defs,
        {"group": label(None, None, {}), **milestone_counts(items)},
        groups,
        milestones=items,
        overdue=[{k: m[k] for k in ("id", "name", "due_date", "days_overdue", "open")} for m in items if m["overdue"]],
        at_risk=[
            {k: m[k] for k in ("id", "name", "due_date", "forecast_finish", "open")} for m in items if m["at_risk"]
        ],
    )


def _ungrouped(sel: Selection) -> Selection:
    from dataclasses import replace

    return replace(sel, params=replace(sel.params, group_by=None))
