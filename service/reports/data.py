"""The figures of one weekly status report, as the views give them at the end of the week.

``build`` computes, for a portfolio or a project and an ISO week (``service.reports.weeks``):

- per project: its RAG status and the rule that set it (the risk view, ``VIEWS["risk"]``, when
  this build has it), progress (the progress view) and budget (the budget view), each with its
  change since the last report;
- milestones done during the week, slipped during it, overdue, and coming in the next 14 days
  (the milestones view);
- the top risks: the open entries of the risk register (``risk_item``) by probability × impact,
  and the blocked tasks of the risk view;
- the quality trend (``VIEWS["quality"]``, when this build has it);
- the series the report's small charts draw (burn-up, cost), the last 8 weeks of the views' own.

``as_of`` is the end of the week's Sunday in the organization's zone, or now for the current
week. The change "since the last report" is against the previous week's stored report of the
same scope when there is one (its stored figures, which a published report keeps unchanged),
else against the views at the end of the previous week (``as_of`` = that Sunday); the data says
which in ``baseline.kind``. The result is plain JSON: it is stored as the snapshot.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from service import errors
from service.db import Database
from service.reports.weeks import Week, current_week
from service.tables import Organization, Portfolio, PortfolioProject, Project, RiskItem, table
from service.views import VIEWS, NotFound, ViewParams, compute_view

__all__ = ["Scope", "COMING_DAYS", "CHART_DAYS", "TOP_RISKS", "build", "scope_name", "scope_projects", "org_zone"]

Scope = Literal["portfolio", "project"]
COMING_DAYS = 14  # milestones due within this many days after the week are "coming"
CHART_DAYS = 56  # the charts show the last 8 weeks
TOP_RISKS = 5  # register entries shown

ORG, PF, PP, PR, RI = table(Organization), table(Portfolio), table(PortfolioProject), table(Project), table(RiskItem)

DEFINITIONS = {
    "week": "an ISO week, Monday to Sunday, in the organization's time zone; as_of = the end of its Sunday, "
            "or the moment of generation for the current week",
    "baseline": "changes are against the previous week's stored report of the same scope (kind 'previous_report'), "
                "else against the views at the end of the previous week (kind 'views_at_previous_week_end')",
    "rag": "the risk view's RAG status of each project and the rule that set it (its definitions); null with a "
           "reason when this build has no risk view",
    "progress": "the progress view: percent_complete_count = done / scope, percent_complete_estimate by estimate; "
                "delta_* = now − baseline (percentage points for shares)",
    "budget": "the budget view: AC, BAC, consumed_share = AC / BAC, CPI, SPI, exhaustion date; delta_ac = AC now − "
              "AC at the baseline",
    "milestones_done": "completed by as_of and not completed at the baseline",
    "milestones_slipped": "not completed, with slip_days (due date against its baseline, milestones view) larger "
                          "than at the baseline, or overdue now and not at the baseline",
    "milestones_overdue": "overdue at as_of (milestones view)",
    "milestones_coming": f"not completed, not overdue, due within {COMING_DAYS} days after the week's end",
    "top_risks": f"the {TOP_RISKS} open risk-register entries (status not closed) with the highest probability × "
                 "impact (1–25), ties by the earliest review date, as the register stands when the report is "
                 "generated (the register keeps no history)",
    "quality": "the quality view: defects created (inflow) and done (outflow) per ISO week, open defects and "
               "their age, bug share of throughput, reopened and escaped defects",
    "charts": f"the views' daily series over the last {CHART_DAYS} days up to as_of",
}


def org_zone(db: Database, org_id: int) -> tuple[ZoneInfo, str]:
    with db.read() as conn:
        row = conn.execute(sa.select(ORG.c.timezone, ORG.c.currency).where(ORG.c.id == org_id)).one()
    return ZoneInfo(row.timezone), row.currency


def scope_name(conn: sa.Connection, org_id: int, scope: Scope, scope_id: int) -> str:
    """The portfolio's or project's name; NotFound outside the organization (or deleted)."""
    if scope == "portfolio":
        name = conn.execute(sa.select(PF.c.name).where(PF.c.id == scope_id, PF.c.org_id == org_id)).scalar()
    else:
        name = conn.execute(sa.select(PR.c.name).where(
            PR.c.id == scope_id, PR.c.org_id == org_id, PR.c.deleted_at.is_(None))).scalar()
    if name is None:
        raise errors.NotFound(f"{scope} {scope_id} not found in this organization")
    return str(name)


def scope_projects(conn: sa.Connection, org_id: int, scope: Scope, scope_id: int) -> list[tuple[int, str]]:
    """The projects the report covers, by name: a portfolio's (not deleted), or the one project."""
    q = sa.select(PR.c.id, PR.c.name).where(PR.c.org_id == org_id, PR.c.deleted_at.is_(None))
    if scope == "portfolio":
        q = q.where(PR.c.id.in_(sa.select(PP.c.project_id).where(PP.c.portfolio_id == scope_id)))
    else:
        q = q.where(PR.c.id == scope_id)
    return [(int(r.id), str(r.name)) for r in conn.execute(q.order_by(PR.c.name, PR.c.id))]


def _params(scope: Scope, scope_id: int, as_of: date | None) -> ViewParams:
    if scope == "portfolio":
        return ViewParams(portfolio=scope_id, group_by="project", as_of=as_of)
    return ViewParams(project=scope_id, group_by="project", as_of=as_of)


def _views(db: Database, org_id: int, params: ViewParams, now: datetime, names: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        try:
            out[name] = compute_view(db, org_id, name, params, now=now)
        except NotFound as exc:  # the scope went away between the check and here
            raise errors.NotFound(str(exc)) from None
    return out


def _by_project(view: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {g["group"]["id"]: g for g in view.get("groups") or [] if (g.get("group") or {}).get("by") == "project"}


PROGRESS_KEYS = ("scope", "done", "in_progress", "todo", "percent_complete_count", "percent_complete_estimate",
                 "estimate_unit", "estimate_total", "estimate_done")
BUDGET_KEYS = ("currency", "bac", "ac", "consumed_share", "cpi", "spi", "eac", "exhaustion_date",
               "exhaustion_before_planned_end", "planned_end", "burn_rate_per_week")
MILESTONE_KEYS = ("id", "name", "project_id", "due_date", "baseline_due_date", "completed", "overdue",
                  "days_overdue", "at_risk", "forecast_finish", "slip_days", "open", "done", "percent_complete")


def _pick(row: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any]:
    row = row or {}
    return {k: row.get(k) for k in keys}


def figures(views: dict[str, Any], projects: list[tuple[int, str]]) -> dict[str, Any]:
    """Per project and in total: the progress and budget figures, and the milestones, as stored."""
    progress, budget = _by_project(views["progress"]), _by_project(views["budget"])
    return {
        "projects": {str(pid): {"progress": _pick(progress.get(pid), PROGRESS_KEYS),
                                "budget": _pick(budget.get(pid), BUDGET_KEYS)} for pid, _ in projects},
        "total": {"progress": _pick(views["progress"].get("total"), PROGRESS_KEYS),
                  "budget": _pick(views["budget"].get("total"), BUDGET_KEYS)},
        "milestones": [_pick(m, MILESTONE_KEYS) for m in views["milestones"].get("milestones") or []],
    }


def _delta(now: Any, before: Any, digits: int = 4) -> float | None:
    if isinstance(now, int | float) and isinstance(before, int | float):
        return round(float(now) - float(before), digits)
    return None


def _with_deltas(cur: dict[str, Any], base: dict[str, Any] | None) -> dict[str, Any]:
    base = base or {"progress": {}, "budget": {}}
    p, b = dict(cur["progress"]), dict(cur["budget"])
    bp, bb = base.get("progress") or {}, base.get("budget") or {}
    p["delta_done"] = _delta(p.get("done"), bp.get("done"), 0)
    p["delta_scope"] = _delta(p.get("scope"), bp.get("scope"), 0)
    p["delta_percent_complete_count"] = _delta(p.get("percent_complete_count"), bp.get("percent_complete_count"))
    p["delta_percent_complete_estimate"] = _delta(p.get("percent_complete_estimate"),
                                                  bp.get("percent_complete_estimate"))
    b["delta_ac"] = _delta(b.get("ac"), bb.get("ac"), 2)
    b["delta_consumed_share"] = _delta(b.get("consumed_share"), bb.get("consumed_share"))
    return {"progress": p, "budget": b}


def _milestone_lists(now: list[dict[str, Any]], before: list[dict[str, Any]], week: Week,
                     names: dict[int, str]) -> dict[str, list[dict[str, Any]]]:
    prior = {m["id"]: m for m in before}
    horizon = week.end + timedelta(days=COMING_DAYS)
    out: dict[str, list[dict[str, Any]]] = {"done": [], "slipped": [], "overdue": [], "coming": []}
    for m in now:
        m = {**m, "project": names.get(m.get("project_id") or 0)}
        was = prior.get(m["id"]) or {}
        if m.get("completed"):
            if not was.get("completed"):
                out["done"].append(m)
            continue
        grew = (m.get("slip_days") or 0) > (was.get("slip_days") or 0)
        if grew or (m.get("overdue") and not was.get("overdue")):
            why = (f"slip {was.get('slip_days') or 0} -> {m.get('slip_days') or 0} days" if grew
                   else f"overdue since {m.get('due_date')}")
            out["slipped"].append({**m, "previous_slip_days": was.get("slip_days"), "why": why})
        if m.get("overdue"):
            out["overdue"].append(m)
        elif m.get("due_date") and m["due_date"] <= horizon.isoformat():
            out["coming"].append(m)
    for rows in out.values():
        rows.sort(key=lambda r: (r.get("due_date") or "9999", r.get("name") or ""))
    return out


def _top_risks(db: Database, org_id: int, project_ids: list[int], names: dict[int, str]) -> list[dict[str, Any]]:
    if not project_ids:
        return []
    score = RI.c.probability * RI.c.impact
    with db.read() as conn:
        rows = conn.execute(
            sa.select(RI.c.id, RI.c.project_id, RI.c.title, RI.c.owner_name, RI.c.probability, RI.c.impact,
                      RI.c.status, RI.c.review_date, RI.c.mitigation, score.label("score"))
            .where(RI.c.org_id == org_id, RI.c.project_id.in_(project_ids), RI.c.status != "closed")
            .order_by(score.desc(), RI.c.review_date.is_(None), RI.c.review_date, RI.c.id)
            .limit(TOP_RISKS)
        ).all()
    return [{"id": r.id, "project_id": r.project_id, "project": names.get(r.project_id), "title": r.title,
             "owner": r.owner_name, "probability": r.probability, "impact": r.impact, "score": int(r.score),
             "status": r.status, "review_date": r.review_date.isoformat() if r.review_date else None,
             "mitigation": r.mitigation} for r in rows]


def _pct(v: Any) -> str:
    return f"{v * 100:.0f}%" if isinstance(v, int | float) else "?"


def _signal_text(name: str, sig: dict[str, Any]) -> str:
    """One signal of the risk view in a few words, with the figure and threshold that set it."""
    lim = sig.get("threshold") or {}
    if name == "schedule":
        return f"SPI {sig.get('spi')} (amber < {lim.get('spi_amber')}, red < {lim.get('spi_red')})"
    if name == "budget":
        if sig.get("exhaustion_before_planned_end"):
            return f"budget exhausted {sig.get('exhaustion_date')}, before the planned end {sig.get('planned_end')}"
        return f"CPI {sig.get('cpi')} (amber < {lim.get('cpi_amber')}, red < {lim.get('cpi_red')})"
    if name == "milestones":
        return (f"milestones: {sig.get('overdue', 0)} overdue, {sig.get('at_risk', 0)} at risk, "
                f"{sig.get('slipping', 0)} slipping")
    if name == "scope_creep":
        parts = [f"scope +{_pct(sig['creep_share'])} since {sig.get('baseline_date')}"] if "creep_share" in sig else []
        worst = next(iter(sig.get("milestones") or []), None)  # worst first
        if worst and worst["level"] in ("amber", "red"):
            parts.append(f"milestone {worst['name']} scope +{_pct(worst.get('creep_share'))} since its baseline "
                         f"({worst['baseline_set_at'][:10]})")
        return "; ".join(parts) or "scope creep: no baseline"
    if name == "stale":
        return f"{sig.get('count', 0)} stale in-progress tasks"
    if name == "blocked":
        return f"{sig.get('count', 0)} blocked tasks, longest {sig.get('longest_blocked_days')} days"
    if name == "concentration":
        who = (sig.get("person") or {}).get("name") or "one person"
        return f"{who} holds {_pct(sig.get('top_share'))} of the open estimate"
    return name.replace("_", " ")


def _rag(risk: dict[str, Any] | None, pid: int) -> dict[str, Any]:
    """The risk view's status of one project and the signals that set it (its ``set_by``)."""
    if risk is None:
        return {"rag": None, "rule": None, "set_by": [], "reason": "this build has no risk view"}
    g = _by_project(risk).get(pid)
    if g is None:
        return {"rag": None, "rule": None, "set_by": [], "reason": "the risk view has no row for this project"}
    signals = g.get("signals") or {}
    set_by = [n for n in g.get("set_by") or [] if isinstance(n, str)]
    rule = "; ".join(_signal_text(n, signals.get(n) or {}) for n in set_by) or None
    return {"rag": g.get("rag"), "rule": rule, "set_by": set_by, "reason": None}


def _blocked(risk: dict[str, Any] | None, names: dict[int, str]) -> list[dict[str, Any]]:
    """The blocked tasks the risk view lists as evidence (up to 10, longest blocked first)."""
    if risk is None:
        return []
    blocked = ((risk.get("total") or {}).get("signals") or {}).get("blocked") or {}
    rows = []
    for t in blocked.get("tasks") or []:
        if isinstance(t, dict):
            rows.append({"task_id": t.get("id"), "key": t.get("key"), "title": t.get("title"), "url": t.get("url"),
                         "project": names.get(t.get("project_id") or 0), "blocked_days": t.get("blocked_days"),
                         "blockers": t.get("blockers") or []})
    return rows[:10]


QUALITY_KEYS = ("defects", "inflow", "outflow", "open_defects", "open_defect_age_days", "bug_share_of_throughput",
                "defect_throughput_per_week", "reopened_defects", "escaped_defects")


def _quality(quality: dict[str, Any] | None) -> dict[str, Any]:
    """The quality view's totals and its weekly defect inflow/outflow, the last 8 weeks (the trend)."""
    if quality is None:
        return {"total": None, "weeks": [], "reason": "this build has no quality view"}
    weeks = ((quality.get("series") or {}).get("defects") or [])[-CHART_DAYS // 7:]
    return {"total": _pick(quality.get("total"), QUALITY_KEYS), "weeks": weeks,
            "reasons": (quality.get("total") or {}).get("reasons") or {}}


def _series(views: dict[str, Any], as_of_date: date) -> dict[str, list[dict[str, Any]]]:
    first = (as_of_date - timedelta(days=CHART_DAYS - 1)).isoformat()
    burnup = (views["progress"].get("series") or {}).get("burnup") or []
    cost = (views["budget"].get("series") or {}).get("cost") or []
    return {"burnup": [p for p in burnup if p.get("date", "") >= first],
            "cost": [p for p in cost if p.get("date", "") >= first]}


def build(db: Database, org_id: int, scope: Scope, scope_id: int, week: Week, *, now: datetime | None = None,
          previous: dict[str, Any] | None = None, previous_id: int | None = None) -> dict[str, Any]:
    """The report's data. ``previous``: the data of the previous week's stored report, if any.
    A week after the current one (organization's zone) is Invalid; an unknown scope NotFound."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    tz, currency = org_zone(db, org_id)
    this_week = current_week(tz, now)
    if week.start > this_week.start:
        reason = (f"{week.label} is after the current week {this_week.label} ({tz.key}): a report describes "
                  "a week that has begun")
        raise errors.Invalid(f"week: {reason}", field="week", reason=reason)
    with db.read() as conn:
        name = scope_name(conn, org_id, scope, scope_id)
        projects = scope_projects(conn, org_id, scope, scope_id)
    current = week == this_week
    as_of = None if current else week.end
    names = dict(projects)
    extra = tuple(n for n in ("risk", "quality") if n in VIEWS)
    views = _views(db, org_id, _params(scope, scope_id, as_of), now, ("progress", "budget", "milestones", *extra))
    cur = figures(views, projects)
    if previous is not None:
        base = {"projects": previous.get("figures", {}).get("projects") or {},
                "total": previous.get("figures", {}).get("total"),
                "milestones": previous.get("figures", {}).get("milestones") or []}
        baseline = {"kind": "previous_report", "report_id": previous_id, "week": week.previous().label}
    else:
        prev_views = _views(db, org_id, _params(scope, scope_id, week.previous().end), now,
                            ("progress", "budget", "milestones"))
        base = figures(prev_views, projects)
        baseline = {"kind": "views_at_previous_week_end", "as_of": week.previous().end.isoformat(),
                    "week": week.previous().label}
    risk = views.get("risk")
    quality = views.get("quality")
    rows = []
    for pid, pname in projects:
        row = {"id": pid, "name": pname, **_rag(risk, pid),
               **_with_deltas(cur["projects"][str(pid)], base["projects"].get(str(pid)))}
        rows.append(row)
    as_of_date = date.fromisoformat(views["progress"]["definitions"]["as_of_date"])
    return {
        "version": 1,
        "scope": scope,
        "scope_id": scope_id,
        "scope_name": name,
        "week": week.label,
        "week_start": week.start.isoformat(),
        "week_end": week.end.isoformat(),
        "as_of": views["progress"]["definitions"]["as_of"],
        "as_of_date": as_of_date.isoformat(),
        "current_week": current,
        "timezone": tz.key,
        "currency": currency,
        "generated_at": now.isoformat(),
        "baseline": baseline,
        "projects": rows,
        "total": _with_deltas(cur["total"], base.get("total")),
        "milestones": _milestone_lists(cur["milestones"], base["milestones"], week, names),
        "top_risks": _top_risks(db, org_id, [p for p, _ in projects], names),
        "blocked": _blocked(risk, names),
        "quality": _quality(quality),
        "series": _series(views, as_of_date),
        "figures": cur,
        "definitions": {**DEFINITIONS, **({"rag_rule": risk["definitions"].get("rag")} if risk else {})},
    }
