"""The Risk page (issue 23): per project, the computed risk signals with their evidence and the
project's RAG status, and beside them the project's risk register, which a PM keeps here.

The signals are the risk view's (``VIEWS["risk"]``, ``service.views.risk``: thresholds and the
RAG rule are in its definitions, shown on the page), the quality panel the quality view's
(``VIEWS["quality"]``); each section appears only when its view is registered. The register is
``service.portfolio.risks``, the functions behind the API (``service.api.risks``) and the CLI,
whose input models check the forms: add, edit, close and delete, each posted from this site
with the session's CSRF token by a token with the write scope (the API's), else 403; a read
session sees the register without forms. A refused form is shown again beside itself with what
was typed and the field's problem (422); a done one redirects to the page (303).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from markupsafe import Markup
from pydantic import ValidationError
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from service import errors
from service.dashboard import data
from service.dashboard.charts import PALETTE, Series, line_chart
from service.dashboard.pages import (
    Page,
    PageError,
    _error,
    _page,
    _parse_id,
    _serve,
    _to_login,
    checked_post,
    form_post,
)
from service.dashboard.render import render
from service.dashboard.session import csrf_token, current_session
from service.portfolio import commit
from service.portfolio import risks as svc
from service.portfolio.apply_sources import validation_message
from service.security.auth import scope_allows
from service.tables import Person, table
from service.views import VIEWS

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PATH = "/risk"
SIGNALS = (
    ("stale", "Stale work"),
    ("blocked", "Blocked"),
    ("scope_creep", "Scope creep"),
    ("schedule", "Schedule (SPI)"),
    ("budget", "Budget (CPI)"),
    ("milestones", "Milestones"),
    ("concentration", "Concentration"),
)
FIELDS = ("title", "description", "owner_person_id", "owner_name", "probability", "impact", "mitigation",
          "status", "review_date")
# A form's bytes: the longest texts the API takes (two of 5,000 characters, two of 300) URL-encoded,
# up to 12 bytes a character (4 UTF-8 bytes as %XX each); beyond it ``_form`` answers 413 naming it.
FORM_LIMIT = 131072
DONE = {
    "new": "Risk added.",
    "edit": "Risk saved.",
    "close": "Risk closed: it stays in the register, last.",
    "delete": "Risk deleted.",
}


# --- what the page shows ---------------------------------------------------------------------


def _signal_rows(group: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per signal: its level, its main figure and its threshold, as the view gives them."""
    rows = []
    for key, name in SIGNALS:
        sig = group["signals"].get(key)
        if sig is None:
            continue
        rows.append({"key": key, "name": name, "level": sig.get("level"), "figure": _figure(key, sig),
                     "threshold": ", ".join(f"{k} {v}" for k, v in (sig.get("threshold") or {}).items()),
                     "reason": "; ".join(str(v) for v in (sig.get("reasons") or {}).values()),
                     "tasks": sig.get("tasks") or [], "more": sig.get("more") or 0})
    return rows


def _share(v: Any) -> str:
    return "—" if v is None else f"{float(v) * 100:.0f}%"


def _figure(key: str, s: dict[str, Any]) -> str:
    if key == "stale":
        return f"{s.get('count', 0)} of {s.get('in_progress', 0)} in progress"
    if key == "blocked":
        longest = s.get("longest_blocked_days")
        return f"{s.get('count', 0)} blocked" + (f", longest {longest} days" if longest is not None else "")
    if key == "scope_creep":
        text = (f"{s.get('added_tasks', 0)} added since {s['baseline_date']}: {_share(s.get('creep_share'))}"
                if "creep_share" in s else "no baseline (planned start)")
        worst = next(iter(s.get("milestones") or []), None)  # worst first
        if worst and worst["level"] in ("amber", "red"):
            text += (f"; milestone {worst['name']}: {_share(worst.get('creep_share'))} since its baseline "
                     f"({worst['baseline_set_at'][:10]})")
        return text
    if key == "schedule":
        return f"SPI {s['spi']}" if s.get("spi") is not None else "SPI —"
    if key == "budget":
        text = f"CPI {s['cpi']}" if s.get("cpi") is not None else "CPI —"
        if s.get("exhaustion_before_planned_end"):
            text += f"; exhausted {s.get('exhaustion_date')} before {s.get('planned_end')}"
        return text
    if key == "milestones":
        return f"{s.get('overdue', 0)} overdue, {s.get('at_risk', 0)} at risk, {s.get('slipping', 0)} slipping"
    if key == "concentration":
        person = (s.get("person") or {}).get("name")
        return f"{person}: {_share(s.get('top_share'))} of the open {s.get('basis', 'work')}" if person else "—"
    return ""


def _quality_chart(quality: dict[str, Any]) -> Markup:
    weeks = quality["series"]["defects"]
    return line_chart(
        [Series("inflow", "created", [(date.fromisoformat(w["start"]), w["created"]) for w in weeks], PALETTE["red"]),
         Series("outflow", "done", [(date.fromisoformat(w["start"]), w["done"]) for w in weeks], PALETTE["green"])],
        title="Defects per week (created, done)", y_format=lambda v: f"{v:.0f}", y_integer=True, height=220,
        empty_text="no defects in the window",
    )


def _form_values(r: svc.RiskPublic) -> dict[str, Any]:
    """A risk as its edit form shows it: the owner in one of its two fields, never both."""
    out = {k: getattr(r, k) for k in FIELDS}
    if r.owner_person_id is not None:
        out["owner_name"] = None
    return out


def _people(page: Page) -> list[tuple[int, str]]:
    PE = table(Person)
    with page.db.read() as conn:
        return [(r.id, r.display_name or f"person {r.id}") for r in conn.execute(
            sa.select(PE.c.id, PE.c.display_name).where(PE.c.org_id == page.org.id)
            .order_by(PE.c.display_name, PE.c.id))]


def _body(request: Request, page: Page, **shown: Any) -> dict[str, Any]:
    with page.db.read() as conn:
        projects = data.projects(conn, page.org.id, page.portfolio)
    with page.db.session() as s:
        register = svc.list_risks(s, page.org.id, portfolio=page.portfolio)
    by_project: dict[int, list[svc.RiskPublic]] = {}
    for r in register:
        by_project.setdefault(r.project_id, []).append(r)
    risk = page.view("risk", group_by="project") if "risk" in VIEWS else None
    quality = page.view("quality", group_by="project") if "quality" in VIEWS else None
    groups = {g["group"]["id"]: g for g in risk["groups"]} if risk else {}
    qgroups = {g["group"]["id"]: g for g in quality["groups"]} if quality else {}
    sections = []
    for p in projects:
        g = groups.get(p.id)
        mine = by_project.get(p.id, [])
        sections.append({
            "project": p, "href": page.project_href(p.id), "risks": mine,
            "open": sum(1 for r in mine if r.status != "closed"),
            "top": max((r.score for r in mine if r.status != "closed"), default=None),
            "overdue": sum(1 for r in mine if r.review_overdue),
            "rag": g["rag"] if g else None, "set_by": g["set_by"] if g else [],
            "not_assessed": g.get("not_assessed", []) if g else [],
            "signals": _signal_rows(g) if g else [], "quality": qgroups.get(p.id),
            "form_values": {r.id: _form_values(r) for r in mine},
        })
    as_of = (risk or quality or {}).get("definitions", {}).get("as_of_date")
    return {
        "title": "Risk",
        "sections": sections,
        "risk": risk,
        "quality": quality,
        "quality_chart": _quality_chart(quality) if quality else None,
        "rules": svc.RISK_RULES,
        "statuses": svc.STATUSES,
        "people": _people(page),
        "can_write": scope_allows(page.session.scope, "write"),
        "csrf": csrf_token(request),
        "notice": DONE.get(request.query_params.get("done") or ""),
        "as_of_date": as_of,
        "csv_href": page.link(f"{PATH}.csv"),
        "failed": None,
        **shown,
    }


@router.get(f"{PATH}.csv")
def risk_csv(request: Request, portfolio: str | None = None) -> Response:
    """The register of the selection as CSV (what the API's ``format=csv`` gives, through the one
    CSV writer) for the signed-in session, which has no API token to send."""
    session = current_session(request)
    page = _page(request, session, "risk") if session is not None else None
    if page is None:
        return _to_login(request)
    try:
        page.portfolio = _parse_id(portfolio, "portfolio")
        with page.db.session() as s:
            text = svc.risks_csv(svc.list_risks(s, page.org.id, portfolio=page.portfolio))
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except errors.NotFound as exc:
        return _error(page, 404, "Not found", f"{exc.message} in {page.org.name}.")
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="risks.csv"'})


@router.get(PATH)
def risk_page(request: Request, portfolio: str | None = None, as_of: str | None = None) -> Response:
    return _serve(request, "risk.html", "risk", portfolio, as_of, lambda page: _body(request, page))


# --- the posts -------------------------------------------------------------------------------


@router.post(f"{PATH}/new")
async def add_risk(request: Request) -> Response:
    return await form_post(request, _act, None, "new", limit=FORM_LIMIT, max_fields=15)


@router.post(PATH + "/{risk_id}/{action}")
async def risk_action(request: Request, risk_id: str, action: str) -> Response:
    return await form_post(request, _act, risk_id, action, limit=FORM_LIMIT, max_fields=15)


def _values(form: dict[str, str]) -> dict[str, Any]:
    """The form's fields as the API's body: blank optional fields are null, numbers numbers (a
    non-number is left as text, for the model to refuse naming the field)."""
    out: dict[str, Any] = {}
    for name in FIELDS:
        if name not in form:
            continue
        raw = form[name].strip() if name not in ("description", "mitigation") else form[name]
        if raw.strip() == "":
            out[name] = None
        elif name in ("probability", "impact", "owner_person_id") and raw.isascii() and raw.isdigit() and len(raw) < 20:
            out[name] = int(raw)
        else:
            out[name] = raw
    return out


def _show(request: Request, page: Page, status: int, **shown: Any) -> Response:
    return render("risk.html", {**page.context(), **_body(request, page, **shown)}, status=status)


def _act(request: Request, raw_id: str | None, action: str, form: dict[str, str]) -> Response:
    checked = checked_post(request, form, nav="risk", back=PATH, label="Risk", action=action,
                           actions={"new", *ACTIONS}, scope="write")
    if isinstance(checked, Response):
        return checked
    page, session = checked
    typed = {k: form.get(k, "") for k in FIELDS}
    where = "new" if raw_id is None else f"risk-{raw_id}"
    try:
        with page.db.session() as s:
            actor = svc.actor_name(s, session.token_id)
            if raw_id is None:
                project_id = _parse_id(form.get("project_id", ""), "project")
                if project_id is None:
                    raise PageError(404, "Not found", "Choose the project the risk belongs to.")
                where = f"new-{project_id}"
                body = svc.RiskCreate.model_validate({k: v for k, v in _values(form).items() if v is not None})
                out = svc.create_risk(s, page.org.id, project_id, body, actor)
            else:
                risk_id = _parse_id(raw_id, "risk")
                assert risk_id is not None
                out = ACTIONS[action](s, page.org.id, risk_id, form, actor)
            commit(s)
    except ValidationError as exc:
        return _show(request, page, 422, failed={"where": where, "message": validation_message(exc), "typed": typed})
    except errors.Invalid as exc:
        return _show(request, page, 422, failed={"where": where, "message": exc.message, "typed": typed})
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except errors.NotFound as exc:
        return _error(page, 404, "Not found", f"{exc.message} in {page.org.name}.")
    return RedirectResponse(f"{PATH}?done={action}#project-{out.project_id}", status_code=303)


def _edit(s: Session, org_id: int, risk_id: int, form: dict[str, str], actor: str) -> svc.RiskPublic:
    """The edit form sends every field: each is set (a blank optional one cleared)."""
    return svc.update_risk(s, org_id, risk_id, svc.RiskUpdate.model_validate(_values(form)), actor)


def _close(s: Session, org_id: int, risk_id: int, form: dict[str, str], actor: str) -> svc.RiskPublic:
    return svc.update_risk(s, org_id, risk_id, svc.RiskUpdate(status="closed"), actor)


def _delete(s: Session, org_id: int, risk_id: int, form: dict[str, str], actor: str) -> svc.RiskPublic:
    out = svc.risk_public(s, org_id, risk_id)
    svc.delete_risk(s, org_id, risk_id)
    return out


ACTIONS: dict[str, Callable[[Session, int, int, dict[str, str], str], svc.RiskPublic]] = {
    "edit": _edit, "close": _close, "delete": _delete}
