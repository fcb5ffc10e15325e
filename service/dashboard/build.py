"""From view responses (``service.views``) to what the pages show: table rows and charts.

Pure functions; the figures themselves come from the views and are never recomputed
here, except the budget forecast line, which extends AC at the view's burn rate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

from service.dashboard.charts import (
    PALETTE,
    BarSeries,
    Marker,
    Series,
    TimelineRow,
    bar_chart,
    line_chart,
    timeline_chart,
)
from service.dashboard.data import ProjectInfo
from service.views.common import SERIES_MAX_DAYS

__all__ = [
    "overview_rows",
    "consumed_chart",
    "burnup_chart",
    "budget_chart",
    "forecast_points",
    "milestone_rows",
    "timeline",
    "workload_rows",
    "workload_charts",
]


def _by_id(groups: Sequence[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {g["group"]["id"]: g for g in groups}


def overview_rows(
    projects: Sequence[ProjectInfo],
    progress: dict[str, Any],
    budget: dict[str, Any],
    milestones: dict[str, Any],
    href: Any,
) -> list[dict[str, Any]]:
    """One row per project from the views grouped by project."""
    prog, money, ms = (
        _by_id(progress["groups"]),
        _by_id(budget["groups"]),
        _by_id(milestones["groups"]),
    )
    rows = []
    for p in projects:
        pg, b, m = prog.get(p.id, {}), money.get(p.id, {}), ms.get(p.id, {})
        consumed, complete = b.get("consumed_share"), b.get("percent_complete")
        rows.append(
            {
                "project": p,
                "href": href(p.id),
                "progress": pg,
                "budget": b,
                "overdue_milestones": m.get("overdue", 0),
                "at_risk_milestones": m.get("at_risk", 0),
                "milestones": m.get("milestones", 0),
                "burning_ahead": consumed is not None
                and complete is not None
                and consumed > complete,
            }
        )
    return rows


def consumed_chart(rows: Sequence[dict[str, Any]]) -> Markup:
    """Budget consumed (AC / BAC) beside percent complete, per project."""
    return bar_chart(
        [r["project"].name for r in rows],
        [
            BarSeries(
                "consumed",
                "budget consumed",
                [r["budget"].get("consumed_share") for r in rows],
                PALETTE["amber"],
            ),
            BarSeries(
                "complete",
                "percent complete",
                [r["budget"].get("percent_complete") for r in rows],
                PALETTE["green"],
            ),
        ],
        title="Budget consumed vs percent complete",
        x_format=_pct,
        x_max=1.0,
        links=[r["href"] for r in rows],
        empty_text="no project in this selection",
    )


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


def _d(s: str) -> date:
    return date.fromisoformat(s)


def burnup_chart(progress: dict[str, Any], title: str = "Burn-up") -> Markup:
    """Daily scope and done (the progress view's burn-up series)."""
    pts = progress["series"]["burnup"]
    return line_chart(
        [
            Series(
                "scope",
                "scope",
                [(_d(p["date"]), p["scope"]) for p in pts],
                PALETTE["grey"],
                dashed=True,
            ),
            Series(
                "done",
                "done",
                [(_d(p["date"]), p["done"]) for p in pts],
                PALETTE["green"],
                area=True,
            ),
        ],
        title=title,
        y_format=lambda v: f"{v:.0f}",
        y_integer=True,
    )


def forecast_points(
    ac: float, burn_per_week: float, start: date, end: date
) -> list[tuple[date, float | None]]:
    """AC extended linearly at the burn rate from ``start`` to ``end`` (weekly points).

    At most ``SERIES_MAX_DAYS`` of weekly points: a planned end centuries away (dates run to
    9000-12-31) would otherwise draw a megabytes-long chart; the line still ends at ``end``."""
    if end <= start:
        end = start + timedelta(days=7)
    step = timedelta(days=max(7, 7 * -(-(end - start).days // SERIES_MAX_DAYS)))
    pts: list[tuple[date, float | None]] = []
    d = start
    while d < end:
        pts.append((d, ac + burn_per_week * (d - start).days / 7))
        d += step
    pts.append((end, ac + burn_per_week * (end - start).days / 7))
    return pts


def budget_chart(budget: dict[str, Any], as_of: date, title: str = "Budget burn") -> Markup:
    """Cumulative AC against the budget line and planned value, with a forecast at the burn rate.

    The forecast runs to the planned end (four weeks past ``as_of`` when that is past or unset);
    the exhaustion date is marked when it falls inside the chart."""
    t, pts = budget["total"], budget["series"]["cost"]
    ccy = t.get("currency") or ""
    series = [
        Series(
            "ac",
            "actual cost (AC)",
            [(_d(p["date"]), p["ac"]) for p in pts],
            PALETTE["blue"],
            area=True,
            short="AC",
        )
    ]
    markers: list[Marker] = []
    planned_end = _d(t["planned_end"]) if t.get("planned_end") else None
    end = planned_end if planned_end and planned_end > as_of else as_of + timedelta(days=28)
    if t.get("bac") is not None:
        first = _d(pts[0]["date"]) if pts else as_of
        series.append(
            Series(
                "budget",
                "budget (BAC)",
                [(first, t["bac"]), (max(end, as_of), t["bac"])],
                PALETTE["red"],
                short="BAC",
            )
        )
    if any(p.get("pv") is not None for p in pts):
        series.append(
            Series(
                "pv",
                "planned value (PV)",
                [(_d(p["date"]), p.get("pv")) for p in pts],
                PALETTE["grey"],
                dashed=True,
                short="PV",
            )
        )
    if pts:
        ac = pts[-1]["ac"] or 0.0
        series.append(
            Series(
                "forecast",
                "forecast",
                forecast_points(ac, t.get("burn_rate_per_week") or 0.0, as_of, end),
                PALETTE["purple"],
                dashed=True,
                short="forecast",
            )
        )
    if planned_end:
        markers.append(Marker("planned-end", "planned end", planned_end, PALETTE["grey"]))
    exhaust = _d(t["exhaustion_date"]) if t.get("exhaustion_date") else None
    if exhaust and exhaust <= end:
        markers.append(Marker("exhaustion", "budget exhausted", exhaust, PALETTE["red"]))
    return line_chart(series, title=f"{title} ({ccy})" if ccy else title, markers=markers)


def milestone_rows(
    items: Sequence[dict[str, Any]], names: dict[int, str], href: Any
) -> list[dict[str, Any]]:
    """Milestones of the milestones view with their project's name and link."""
    out = []
    for m in items:
        pid = m.get("project_id")
        out.append(
            {
                **m,
                "project_name": names.get(pid, "—") if pid else "—",
                "project_href": href(pid) if pid in names else None,
            }
        )
    return out


def timeline(
    items: Sequence[dict[str, Any]],
    today: date,
    title: str = "Milestone timeline",
    href: Any = None,
    width: int = 1100,
    with_project: bool = False,
) -> Markup:
    """The milestone timeline; ``items`` are milestones-view items (``milestone_rows`` adds
    ``project_name``, shown before the name when ``with_project``)."""
    rows = []
    for m in sorted(items, key=lambda m: (m["due_date"] is None, m["due_date"] or "", m["name"])):
        note = ""
        if m.get("overdue"):
            note = f"{m['days_overdue']} d overdue"
        elif m.get("at_risk"):
            note = "at risk"
        elif m.get("completed_with_open_tasks"):  # METRICS: released/completed with open tasks is flagged
            n = m["completed_open_tasks"]
            note = f"done with {n} open task{'' if n == 1 else 's'}"
        elif m.get("completed"):
            note = "done"
        if m.get("tasks") == 0 and not m.get("completed"):
            note = f"{note}, no linked tasks" if note else "no linked tasks"
        if m.get("slip_days"):
            note = f"{note}, slip {m['slip_days']:+d} d" if note else f"slip {m['slip_days']:+d} d"
        label = (
            f"{m['project_name']} · {m['name']}"
            if m.get("project_name") and with_project
            else m["name"]
        )
        rows.append(
            TimelineRow(
                label=label,
                due=_d(m["due_date"]) if m.get("due_date") else None,
                baseline=_d(m["baseline_due_date"]) if m.get("baseline_due_date") else None,
                forecast=_d(m["forecast_finish"]) if m.get("forecast_finish") else None,
                status=m.get("status") or "",
                note=note,
                href=href(m["project_id"]) if href and m.get("project_id") else None,
            )
        )
    return timeline_chart(rows, today=today, title=title, width=width)


def workload_rows(
    workload: dict[str, Any], tools: dict[int, list[tuple[str, str]]]
) -> list[dict[str, Any]]:
    return [
        {**p, "tools": tools.get(p["person"]["id"], []) if p["person"]["id"] is not None else []}
        for p in workload["people"]
    ]


def person_labels(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Names for the charts, with the tools a person is known in when two share a name (the
    same person in Jira and Trello, not linked yet): a reader must tell the bars apart."""
    counts = Counter(r["person"]["name"] for r in rows)
    out = []
    for r in rows:
        name, tools = r["person"]["name"], sorted({tool for tool, _ in r["tools"]})
        out.append(f"{name} ({', '.join(tools)})" if counts[name] > 1 and tools else name)
    return out


def workload_charts(rows: Sequence[dict[str, Any]]) -> tuple[Markup, Markup]:
    names = person_labels(rows)
    tasks = bar_chart(
        names,
        [
            BarSeries("open", "open tasks", [r["open_tasks"] for r in rows], PALETTE["blue"]),
            BarSeries(
                "overdue", "overdue tasks", [r["overdue_tasks"] for r in rows], PALETTE["red"]
            ),
        ],
        title="Open and overdue tasks per person",
        x_format=lambda v: f"{v:.0f}",
        x_integer=True,
        empty_text="no people yet",
    )
    hours = bar_chart(
        names,
        [
            BarSeries(
                "hours",
                "hours logged this week",
                [r["hours_this_week"] for r in rows],
                PALETTE["teal"],
            )
        ],
        title="Hours logged this week",
        x_format=lambda v: f"{v:g} h",
        empty_text="no people yet",
    )
    return tasks, hours
