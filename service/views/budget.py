"""The budget view: BAC, AC, consumed share beside percent complete, burn rate, runway,
forecast exhaustion, earned value (PMBOK), and the daily cumulative cost against the budget.

Budget figures are per project; a group of projects rolls them up (BAC, AC, PV and EV
add up, the ratios are recomputed from the sums, so the total's percent complete is
EV / BAC). Person and milestone groups have costs but no budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from service.tables import Project
from service.views import queries, rollups
from service.views.common import RATE_RULE, day_range, definitions, envelope, label, money, share
from service.views.formulas import (
    TRAILING_DAYS,
    burn_rate,
    earned_value,
    evm,
    exhaustion_date,
    planned_rate,
    planned_value,
    ratio,
    runway_weeks,
    working_days,
)
from service.views.selection import Selection, group_names, table
from service.views.sqlkit import with_group

__all__ = [
    "Money",
    "budget_view",
    "project_money",
    "percent_for_ev",
    "rollup",
    "budget_figures",
    "pv_series",
]

PR = table(Project)


@dataclass
class Money:
    """What the budget figures of a project, or of a group of projects, are computed from."""

    projects: int = 0
    bac: float | None = None
    bac_reason: str | None = "no budget (BAC)"
    ac_labour: float = 0.0
    ac_direct: float = 0.0
    ac_window: float = 0.0  # AC over the trailing 4 weeks
    seconds: float = 0.0
    unrated_seconds: float = 0.0
    pv: float | None = None
    pv_reason: str | None = "no budget (BAC)"
    ev: float | None = None
    ev_reason: str | None = "no budget (BAC)"
    percent_complete: float | None = None
    percent_basis: str | None = None
    percent_reason: str | None = "no task in scope"
    planned_rate: float | None = None
    planned_rate_reason: str | None = "no budget (BAC)"
    planned_start: date | None = None
    planned_end: date | None = None
    notes: dict[str, str] = field(default_factory=dict)


def project_money(
    p: Any,
    tasks: dict[str, float] | None,
    work: dict[str, float] | None,
    direct: dict[str, float] | None,
    sel: Selection,
) -> Money:
    """One project's inputs from its row, its task counts and estimates, its worklog aggregates
    and its direct costs."""
    m = Money(projects=1, planned_start=p.planned_start, planned_end=p.planned_end)
    if p.budget_amount is not None:
        if p.budget_currency and p.budget_currency != sel.currency:
            m.bac_reason = (
                f"the budget is in {p.budget_currency} but costs are in {sel.currency} (the organization's currency)"
            )
        else:
            m.bac, m.bac_reason = float(p.budget_amount), None
    if work:
        m.ac_labour, m.seconds, m.unrated_seconds = (
            work["labour"],
            work["seconds"],
            work["unrated_seconds"],
        )
        m.ac_window = work["labour_window"]
    if direct:
        m.ac_direct = direct["direct_cost"]
        m.ac_window += direct["direct_cost_window"]
    if tasks:
        m.percent_complete, m.percent_basis, m.percent_reason = percent_for_ev(tasks)
    m.pv, m.pv_reason = planned_value(m.bac, m.planned_start, m.planned_end, sel.as_of_date)
    m.ev, m.ev_reason = earned_value(m.bac, m.percent_complete) if m.bac is not None else (None, m.bac_reason)
    if m.bac is None:
        m.pv_reason = m.bac_reason
    m.planned_rate, m.planned_rate_reason = planned_rate(m.bac, m.planned_start, m.planned_end)
    if m.bac is None:
        m.planned_rate_reason = m.bac_reason
    return m


def percent_for_ev(t: dict[str, float]) -> tuple[float | None, str | None, str | None]:
    """``(percent complete, basis, reason)``: by estimate, by count when nothing is estimated."""
    if t["scope"] == 0:
        return None, None, "no task in scope"
    if t["pts_n"] > 0 and t["pts_total"] > 0:
        return t["pts_done"] / t["pts_total"], "estimate", None
    if t["pts_n"] == 0 and t["sec_n"] > 0 and t["sec_total"] > 0:
        return t["sec_done"] / t["sec_total"], "estimate", None
    return t["done"] / t["scope"], "count", None


def rollup(parts: list[Money]) -> Money:
    """A group of projects: sums, and undefined when any project's figure is."""
    if len(parts) == 1:
        return replace(parts[0], notes=dict(parts[0].notes))
    m = Money(projects=sum(p.projects for p in parts))
    for attr in ("ac_labour", "ac_direct", "ac_window", "seconds", "unrated_seconds"):
        setattr(m, attr, sum(getattr(p, attr) for p in parts))

    def total(attr: str, what: str) -> tuple[float | None, str | None]:
        missing = [p for p in parts if getattr(p, attr) is None]
        if not parts:
            return None, "no project in the selection"
        if missing:
            return None, f"{len(missing)} of {len(parts)} projects have no {what}"
        return sum(getattr(p, attr) for p in parts), None

    m.bac, m.bac_reason = total("bac", "budget (BAC)")
    m.pv, m.pv_reason = total("pv", "PV (budget and planned dates)")
    m.ev, m.ev_reason = total("ev", "EV (budget and percent complete)")
    m.planned_rate, m.planned_rate_reason = total("planned_rate", "planned rate (budget and planned dates)")
    if m.ev is not None and m.bac:
        m.percent_complete, m.percent_basis, m.percent_reason = m.ev / m.bac, "ev/bac", None
    else:
        m.percent_reason = "a group's percent complete is EV / BAC, which is undefined here"
    starts = [p.planned_start for p in parts if p.planned_start]
    ends = [p.planned_end for p in parts if p.planned_end]
    m.planned_start = min(starts) if starts else None
    m.planned_end = max(ends) if ends else None
    return m


def budget_figures(m: Money, sel: Selection) -> dict[str, Any]:
    """Every figure of the budget view from its inputs."""
    reasons: dict[str, str] = dict(m.notes)
    ac = m.ac_labour + m.ac_direct
    if m.bac is None and m.bac_reason:
        reasons["bac"] = m.bac_reason
    consumed, r = ratio(ac, m.bac, what="consumed share (AC / BAC)")
    if consumed is None:
        reasons["consumed_share"] = m.bac_reason or r or ""
    if m.percent_complete is None and m.percent_reason:
        reasons["percent_complete"] = m.percent_reason
    burn = burn_rate(m.ac_window, TRAILING_DAYS // 7)
    if m.planned_rate is None and m.planned_rate_reason:
        reasons["planned_rate_per_week"] = m.planned_rate_reason
    runway, r = runway_weeks(m.bac, ac, burn)
    if runway is None:
        reasons["runway_weeks"] = m.bac_reason if m.bac is None and m.bac_reason else (r or "")
    exhaust = exhaustion_date(sel.as_of_date, runway)
    if exhaust is None:
        beyond = "the runway ends after 9999-12-31" if runway is not None else "runway is undefined"
        reasons["exhaustion_date"] = reasons.get("runway_weeks", beyond)
    before_end = None if exhaust is None or m.planned_end is None else exhaust < m.planned_end
    e = evm(m.bac, ac, m.pv, m.ev, pv_reason=m.pv_reason, ev_reason=m.ev_reason)
    reasons.update(e.reasons)
    out: dict[str, Any] = {
        "projects": m.projects,
        "currency": sel.currency,
        "bac": money(m.bac),
        "ac": money(ac),
        "ac_labour": money(m.ac_labour),
        "ac_direct": money(m.ac_direct),
        "hours": round(m.seconds / 3600, 2),
        "unrated_hours": round(m.unrated_seconds / 3600, 2),
        "consumed_share": share(consumed),
        "percent_complete": share(m.percent_complete),
        "percent_complete_basis": m.percent_basis,
        "burn_rate_per_week": money(burn),
        "planned_rate_per_week": money(m.planned_rate),
        "runway_weeks": None if runway is None else round(runway, 2),
        "exhaustion_date": exhaust.isoformat() if exhaust else None,
        "exhaustion_before_planned_end": before_end,
        "planned_start": m.planned_start.isoformat() if m.planned_start else None,
        "planned_end": m.planned_end.isoformat() if m.planned_end else None,
    }
    for k, v in e.as_dict().items():
        out[k] = share(v) if k in ("cpi", "spi", "tcpi", "tcpi_eac") else money(v)
    if m.unrated_seconds:
        reasons["unrated_hours"] = "hours with no person, project or organization rate are not in AC"
    out["reasons"] = reasons
    return out


def pv_series(projects: list[Money], days: list[date]) -> list[float | None]:
    """PV of the sum of ``projects`` on each of ``days`` (linear over working days), or ``None``s
    when a project's PV is undefined. O(projects + days)."""
    plans = [(p.bac, p.planned_start, p.planned_end) for p in projects]
    if not days:
        return []
    if not plans or any(bac is None or not start or not end for bac, start, end in plans):
        return [None] * len(days)
    first = days[0]
    pv = sum(planned_value(bac, start, end, first)[0] or 0.0 for bac, start, end in plans)
    delta: dict[date, float] = {}
    rate = 0.0
    for bac, start, end in plans:
        assert bac is not None and start is not None and end is not None
        total = working_days(start, end)
        if total == 0:
            continue
        per_day = bac / total
        if start <= first <= end:
            rate += per_day
        elif start > first:
            delta[start] = delta.get(start, 0.0) + per_day
        if end >= first:
            stop = end + timedelta(days=1)
            delta[stop] = delta.get(stop, 0.0) - per_day
    out: list[float | None] = [pv]
    for d in days[1:]:
        rate += delta.get(d, 0.0)
        if d.weekday() < 5:
            pv += rate
        out.append(pv)
    return out


def _projects(conn: Connection, sel: Selection) -> list[Any]:
    q = sa.select(PR).where(PR.c.org_id == sel.org_id, PR.c.deleted_at.is_(None))
    if sel.project_ids is not None:
        q = q.where(PR.c.id.in_(sel.project_ids) if sel.project_ids else sa.false())
    if sel.params.source is not None:
        q = q.where(PR.c.source_id == sel.params.source)
    return list(conn.execute(q.order_by(PR.c.id)))


def _project_tasks(conn: Connection, sel: Selection) -> dict[Any, Any]:
    """Per project, the task counts and estimates percent complete is computed from: read from
    the task rollups when they apply, else scanned."""
    fast = rollups.totals_and_days(conn, with_group(sel, "project"), created=False, days=False)
    return fast[1] if fast is not None else queries.task_totals(conn, sel, group="project")


def budget_view(conn: Connection, sel: Selection) -> dict[str, Any]:
    projects = _projects(conn, sel)
    by = sel.group_by
    tasks = _project_tasks(conn, sel)
    project_direct, direct = queries.direct_costs(conn, sel)
    # One pass over the worklogs gives the total, the daily series and, grouped by project
    # (or source) or person, the groups' labour: a worklog is in one project and has one author.
    work_by = {"project": "project", "source": "project", "person": "person"}.get(by or "")
    work, labour = queries.worklog_days(conn, sel, work_by)
    per_project = {
        p.id: project_money(
            p, tasks.get(p.id), work.get(p.id) if work_by == "project" else None, project_direct.get(p.id), sel
        )
        for p in projects
    }
    total = rollup(list(per_project.values()))
    total.ac_labour = sum(v["labour"] for v in labour.values())
    total.seconds = sum(v["seconds"] for v in labour.values())
    total.unrated_seconds = sum(v["unrated_seconds"] for v in labour.values())
    total.ac_direct = sum(direct.values())
    total.ac_window = sum(v["labour"] for d, v in labour.items() if d is not None and d >= sel.window_start_date) + sum(
        v for d, v in direct.items() if d is not None and d >= sel.window_start_date
    )
    groups: list[dict[str, Any]] = []
    if by in ("project", "source"):
        buckets: dict[Any, list[Money]] = {}
        for p in projects:
            buckets.setdefault(p.id if by == "project" else p.source_id, []).append(per_project[p.id])
        names = group_names(conn, sel, set(buckets))
        # A one-project group's figures are its project's (budget_figures only reads its input).
        groups = [
            {"group": label(by, k, names), **budget_figures(v[0] if len(v) == 1 else rollup(v), sel)}
            for k, v in sorted(buckets.items())
        ]
    elif by in ("person", "milestone"):
        # A worklog counts in each milestone of its task: a pass of its own.
        work_g = work if by == "person" else queries.worklog_days(conn, sel, "milestone", days=False)[0]
        direct_g = queries.task_totals(conn, sel) if by == "milestone" else {}
        keys = set(work_g) | {k for k, v in direct_g.items() if v["direct_cost"]}
        names = group_names(conn, sel, keys)
        for k in sorted(keys, key=lambda x: (x is None, x or 0)):
            w, t = work_g.get(k, {}), direct_g.get(k, {})
            m = Money(
                ac_labour=w.get("labour", 0.0),
                ac_direct=t.get("direct_cost", 0.0),
                ac_window=w.get("labour_window", 0.0) + t.get("direct_cost_window", 0.0),
                seconds=w.get("seconds", 0.0),
                unrated_seconds=w.get("unrated_seconds", 0.0),
                bac_reason=f"budgets are set per project, not per {by}",
            )
            m.pv_reason = m.ev_reason = m.planned_rate_reason = m.percent_reason = m.bac_reason
            groups.append({"group": label(by, k, names), **budget_figures(m, sel)})
    costs: dict[date | None, float] = {d: v["labour"] for d, v in labour.items()}
    for d, v in direct.items():
        costs[d] = costs.get(d, 0.0) + v
    starts = [d for d in costs if d is not None] + [p.planned_start for p in per_project.values() if p.planned_start]
    days = day_range(min(starts) if starts else sel.as_of_date, sel.as_of_date)
    pvs = pv_series(list(per_project.values()), days)
    running = costs.get(None, 0.0) + sum(v for d, v in costs.items() if d is not None and d < days[0])
    series = []
    for d, pv in zip(days, pvs, strict=True):
        running += costs.get(d, 0.0)
        series.append(
            {
                "date": d.isoformat(),
                "ac": money(running),
                "budget": money(total.bac),
                "pv": money(pv),
            }
        )
    defs = definitions(
        sel,
        currency=sel.currency,
        bac="the project's budget; a group's BAC is the sum (undefined when a project has none)",
        ac="Σ worklogs started by as_of (hours × rate) + direct costs from mapped cost fields",
        hours="Σ worklog hours started by as_of on the selection's tasks, archived cards and milestone "
        "marker cards included (the time was spent, so it is cost); the progress view's spent_seconds "
        "counts the tasks in scope only, so hours here ≥ spent there by the hours on those cards",
        worklogs="Jira: its worklogs. Trello (no worklogs of its own): each change of a card's hours field "
        "(updateCustomFieldItem, old → new) is (new − old) hours by the member who made it at the action's "
        "time, a decrease a negative correction; hours a card had before its history horizon are one "
        "entry at the horizon with no author (carried_in, costed at the project's default rate)",
        rate_source=RATE_RULE,
        direct_costs="the cost field of the tasks alive at as_of (all types, archived "
        "included), dated by the "
        "task's creation day",
        consumed_share="AC / BAC",
        percent_complete="by estimate (by count when nothing is estimated); a group's is EV / BAC",
        burn_rate="AC over the trailing 4 weeks (the 28 days ending on as_of_date) / 4, per week",
        planned_rate="BAC / planned duration in weeks (working days Mon–Fri / 5)",
        runway="(BAC − AC) / burn rate, in weeks; 0 when AC ≥ BAC",
        exhaustion_date="as_of_date + runway (whole days, rounded down); flagged when before planned_end",
        pv="BAC × working days (Mon–Fri) elapsed from planned_start through as_of_date / "
        "working days from "
        "planned_start through planned_end, clamped to [0, BAC]",
        ev="BAC × percent complete",
        evm="CV = EV − AC; SV = EV − PV; CPI = EV / AC; SPI = EV / PV; EAC = BAC / CPI; "
        "eac_atypical = AC + "
        "(BAC − EV); ETC = EAC − AC; VAC = BAC − EAC; TCPI: see tcpi",
        tcpi="TCPI(BAC) = (BAC − EV) / (BAC − AC) while AC < BAC; once the budget is exhausted "
        '(AC ≥ BAC) it is null ("budget exhausted") and tcpi_eac = TCPI(EAC) = (BAC − EV) / (EAC − AC) '
        "is the figure to show; a negative TCPI is never a number (null with a reason)",
        eac="EAC (BAC / CPI, the typical method) is the estimate at completion; eac_atypical is "
        "AC + (BAC − EV). The dashboard's burn-chart forecast is a different method: AC extended "
        "at the trailing 4-week burn rate to the planned end (forecast_method)",
        forecast_method="burn-chart forecast = AC + burn_rate_per_week × weeks from as_of_date to the "
        "planned end (4 weeks past as_of_date when that is past or unset); it is not EAC",
        series="daily cumulative AC against the budget line (BAC) and the planned value",
    )
    return envelope(
        "budget",
        sel,
        defs,
        {"group": label(None, None, {}), **budget_figures(total, sel)},
        groups,
        series={"cost": series},
    )
