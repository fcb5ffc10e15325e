"""The progress view: percent complete by count, estimate and time; status breakdown;
throughput per ISO week; the daily burn-up (scope and done)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from service.views import queries, rollups
from service.views.common import (
    ESTIMATE_RULE,
    day_range,
    definitions,
    envelope,
    label,
    share,
)
from service.views.formulas import (
    iso_week,
    percent_complete_count,
    percent_complete_estimate,
    percent_complete_time,
    unestimated_share,
)
from service.views.selection import Selection, group_names

__all__ = [
    "progress_view",
    "progress_figures",
    "burnup_series",
    "throughput_series",
]


def progress_figures(row: dict[str, float]) -> dict[str, Any]:
    """The progress figures of one aggregate row (see ``queries.task_totals``), its time gaps
    (``untimed_open``, ``stand_in_open``) included: METRICS, percent complete by time."""
    scope, done = int(row["scope"]), int(row["done"])
    if row["pts_n"] > 0:
        unit, n, total, done_est = "points", int(row["pts_n"]), row["pts_total"], row["pts_done"]
    elif row["sec_n"] > 0:
        unit, n, total, done_est = "seconds", int(row["sec_n"]), row["sec_total"], row["sec_done"]
    else:
        unit, n, total, done_est = None, 0, None, None
    reasons: dict[str, str] = {}

    def fig(name: str, value_reason: tuple[float | None, str | None]) -> float | None:
        value, reason = value_reason
        if reason:
            reasons[name] = reason
        return share(value)

    out: dict[str, Any] = {
        "scope": scope,
        "done": done,
        "in_progress": int(row["in_progress"]),
        "todo": int(row["todo"]),
        "percent_complete_count": fig("percent_complete_count", percent_complete_count(done, scope)),
        "estimate_unit": unit,
        "estimate_total": total,
        "estimate_done": done_est,
        "estimated": n,
        "unestimated": scope - n,
        "unestimated_share": fig("unestimated_share", unestimated_share(scope - n, scope)),
        "percent_complete_estimate": fig(
            "percent_complete_estimate", percent_complete_estimate(done_est or 0, total or 0, n)
        ),
        "time_tracked": int(row["time_n"]),
        "spent_seconds": row["spent"],
        "remaining_seconds": row["remaining"],
    }
    missing, stand_in = int(row["untimed_open"]), row["stand_in_open"]
    open_n = scope - done
    out["remaining_stand_in_seconds"] = stand_in
    out["open_without_remaining"] = missing
    out["open_without_remaining_share"] = share(missing / open_n) if open_n else 0.0
    out["percent_complete_time"] = fig(
        "percent_complete_time",
        percent_complete_time(
            row["spent"],
            row["remaining"] + stand_in,
            int(row["time_n"]),
            open_without_remaining=missing,
            open_tasks=open_n,
        ),
    )
    out["reasons"] = reasons
    return out


def burnup_series(created: dict[date | None, int], done: dict[date | None, int], as_of: date) -> list[dict[str, Any]]:
    """Daily scope (tasks created by that day) and done (tasks whose last move to done was by
    that day) over the tasks in scope at ``as_of``; a done task with no known completion
    counts on ``as_of``."""
    known = [d for d in created if d is not None]
    start = min(known) if known else as_of
    days = day_range(min(start, as_of), as_of)
    first = days[0]
    scope_base = created.get(None, 0) + sum(n for d, n in created.items() if d is not None and d < first)
    done_base = sum(n for d, n in done.items() if d is not None and d < first)
    done_on = Counter({d: n for d, n in done.items() if d is not None})
    done_on[as_of] += done.get(None, 0)
    out, s, dn = [], scope_base, done_base
    for d in days:
        s += created.get(d, 0)
        dn += done_on.get(d, 0)
        out.append({"date": d.isoformat(), "scope": s, "done": dn})
    return out


def throughput_series(done: dict[date | None, int], start: date, as_of: date) -> list[dict[str, Any]]:
    """Tasks reaching done per ISO week (local dates), zero-filled from ``start``'s week to "
    "``as_of``'s."""
    per_week: Counter[str] = Counter()
    for d, n in done.items():
        if d is not None:
            per_week[iso_week(d)] += n
    days = day_range(min(start, as_of), as_of)
    monday = days[0] - timedelta(days=days[0].weekday())
    out = []
    while monday <= as_of:
        out.append(
            {
                "week": iso_week(monday),
                "start": monday.isoformat(),
                "done": per_week.get(iso_week(monday), 0),
            }
        )
        monday += timedelta(days=7)
    return out


def progress_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    inputs = rollups.totals_and_days(conn, sel, created=True) or queries.totals_and_days(conn, sel, created=True)
    total_row, rows, created, done = inputs
    names = group_names(conn, sel, set(rows))
    groups = [{"group": label(sel.group_by, g, names), **progress_figures(r)} for g, r in _sorted(rows)]
    burnup = burnup_series(created, done, sel.as_of_date)
    start = date.fromisoformat(burnup[0]["date"])
    defs = definitions(
        sel,
        estimate_unit=ESTIMATE_RULE,
        percent_complete_count="done / scope",
        percent_complete_estimate="Σ estimate(done) / Σ estimate(scope), over estimated tasks",
        unestimated_share="unestimated / scope",
        percent_complete_time="Σ spent / (Σ spent + Σ remaining) over tasks with time "
        "tracking, only when every open task of the selection has a remaining figure (or an original "
        "estimate to stand in for it: remaining_stand_in_seconds); otherwise null with the reason and "
        "open_without_remaining / open_without_remaining_share (the open tasks without one). Never "
        "100 % while open tasks remain without a remaining figure. The tools keep "
        "no history of these fields, so they are their current values",
        throughput="tasks reaching done per ISO week (Monday–Sunday, organization time zone)",
        burnup="per day: scope = tasks of the selection created by that day; done = tasks "
        "whose last move to "
        "done was by that day (over the tasks in scope at as_of)",
    )
    return envelope(
        "progress",
        sel,
        defs,
        {"group": label(None, None, {}), **progress_figures(total_row)},
        groups,
        series={"burnup": burnup, "throughput": throughput_series(done, start, sel.as_of_date)},
    )


def _sorted(rows: dict[Any, Any]) -> list[tuple[Any, Any]]:
    return sorted(rows.items(), key=lambda kv: (kv[0] is None, kv[0] if kv[0] is not None else 0))
