"""The Reports page (issue 23): the weekly status reports without curl.

``/reports``: the organization's stored reports (newest week first) with links to each one's HTML
and PDF, and a form that generates a week's report of a portfolio or project (a draft; a stored
draft is computed again, keeping its commentary). ``/reports/{id}``: one report, its links, the
draft's commentary form and its Publish button. ``/reports/{id}/html`` and ``/pdf`` serve the
report itself: a published one exactly as stored. Everything goes through ``service.reports``,
the functions behind the API and the CLI.

Reading needs a signed-in session; generating, commentary and publishing need the write scope
(the API's WriteCaller for the same acts), the session's CSRF token and this site as origin
(``checked_post``), else 403. A refused input or a published report is shown on the page (422/409).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from service import errors
from service.dashboard import data
from service.dashboard.pages import Page, PageError, _error, _parse_id, _serve, checked_post, form_post
from service.dashboard.render import render
from service.dashboard.report_render import RENDERER
from service.dashboard.session import csrf_token, current_session
from service.portfolio.risks import actor_name
from service.reports import snapshots as svc
from service.reports.data import org_zone
from service.reports.snapshots import REPORT_CSP, Report
from service.reports.weeks import current_week, parse_week
from service.security.auth import scope_allows

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PATH = "/reports"
SHOWN = 200
# The commentary form's body: the longest commentary the API takes, each character percent-encoded
# UTF-8 (up to 12 bytes: 2,000 Chinese characters are 18 kB), with the CSRF token beside it.
FORM_LIMIT = svc.COMMENTARY_MAX * 12 + 1024
DONE = {"generate": "Generated as a draft: add a commentary, then publish.",
        "commentary": "Commentary saved.",
        "publish": "Published: its HTML and PDF are final, and report.ready was sent to subscribed endpoints."}


def _scopes(page: Page) -> list[tuple[str, str]]:
    """The generate form's choices: every portfolio, then every project (value ``portfolio:N``)."""
    with page.db.read() as conn:
        projects = data.projects(conn, page.org.id)
    return ([(f"portfolio:{i}", f"Portfolio {n}") for i, n in page.portfolios]
            + [(f"project:{p.id}", f"Project {p.name}") for p in projects])


def _list_body(request: Request, page: Page, **shown: Any) -> dict[str, Any]:
    tz, _ = org_zone(page.db, page.org.id)
    last = current_week(tz).previous().label
    return {
        "title": "Reports",
        "reports": svc.list_reports(page.db, page.org.id, limit=SHOWN),
        "scopes": _scopes(page),
        "can_write": scope_allows(page.session.scope, "write"),
        "csrf": csrf_token(request),
        "notice": DONE.get(request.query_params.get("done") or ""),
        "form": {"scope": "", "week": last},
        **shown,
    }


@router.get(PATH)
def reports_page(request: Request) -> Response:
    return _serve(request, "reports.html", "reports", None, None, lambda page: _list_body(request, page))


def _report(page: Page, raw: str) -> Report:
    report_id = _parse_id(raw, "report")
    assert report_id is not None
    try:
        return svc.get(page.db, page.org.id, report_id)
    except errors.NotFound:
        raise PageError(404, "Not found", f"There is no report {report_id} in {page.org.name}.") from None


def _detail_body(request: Request, page: Page, report: Report, **shown: Any) -> dict[str, Any]:
    return {"title": f"Report {report.scope_name} {report.week}", "r": report,
            "can_write": scope_allows(page.session.scope, "write"), "csrf": csrf_token(request),
            "notice": DONE.get(request.query_params.get("done") or ""), "commentary": report.commentary or "",
            **shown}


@router.get(PATH + "/{report_id}")
def report_page(request: Request, report_id: str) -> Response:
    return _serve(request, "report_detail.html", "reports", None, None,
                  lambda page: _detail_body(request, page, _report(page, report_id)))


@router.get(PATH + "/{report_id}/{fmt}")
def report_file(request: Request, report_id: str, fmt: str) -> Response:
    """The report itself, as HTML (its own inline style: ``REPORT_CSP``) or PDF."""
    session = current_session(request)
    if session is None:
        return RedirectResponse(f"/login?next={PATH}/{report_id}", status_code=303)
    found: dict[str, Any] = {}

    def body(page: Page) -> dict[str, Any]:
        if fmt not in ("html", "pdf"):
            raise PageError(404, "Not found", f"A report is shown as html or pdf, not {fmt[:20]!r}.")
        found["report"] = _report(page, report_id)
        return {}

    answer = _serve(request, "error.html", "reports", None, None, body)
    report = found.get("report")
    if report is None:  # the error page, or the way to sign in
        return answer
    content = svc.rendered(report, "pdf" if fmt == "pdf" else "html", RENDERER)
    headers = {"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{report.filename(fmt)}"'}
    if fmt == "html":
        return Response(content, media_type="text/html; charset=utf-8",
                        headers={**headers, "Content-Security-Policy": REPORT_CSP, "X-Frame-Options": "DENY"})
    return Response(content, media_type="application/pdf", headers=headers)


# --- the posts ---------------------------------------------------------------------------------


@router.post(PATH + "/generate")
async def generate(request: Request) -> Response:
    return await form_post(request, _generate, limit=4096, max_fields=5)


def _generate(request: Request, form: dict[str, str]) -> Response:
    checked = checked_post(request, form, nav="reports", back=PATH, label="Reports", action="generate",
                           actions={"generate"}, scope="write")
    if isinstance(checked, Response):
        return checked
    page, _ = checked
    typed = {"scope": form.get("scope", ""), "week": form.get("week", "").strip()}
    kind, _, raw = typed["scope"].partition(":")
    try:
        if kind not in ("portfolio", "project") or not raw:
            raise errors.Invalid("Choose a portfolio or a project.")
        scope_id = _parse_id(raw, kind)
        assert scope_id is not None
        week = parse_week(typed["week"])
        report, _ = svc.generate(page.db, page.org.id, "portfolio" if kind == "portfolio" else "project", scope_id,
                                 week, renderer=RENDERER)
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except (errors.Invalid, errors.Conflict, errors.NotFound) as exc:
        status = {errors.Conflict: 409, errors.NotFound: 404}.get(type(exc), 422)
        return render("reports.html", {**page.context(), **_list_body(request, page, form=typed,
                                                                         error=exc.message)}, status=status)
    return RedirectResponse(f"{PATH}/{report.id}?done=generate", status_code=303)


@router.post(PATH + "/{report_id}/{action}")
async def report_action(request: Request, report_id: str, action: str) -> Response:
    return await form_post(request, _act, report_id, action, limit=FORM_LIMIT, max_fields=5)


def _act(request: Request, raw_id: str, action: str, form: dict[str, str]) -> Response:
    checked = checked_post(request, form, nav="reports", back=PATH, label="Reports", action=action,
                           actions={"commentary", "publish"}, scope="write")
    if isinstance(checked, Response):
        return checked
    page, session = checked
    try:
        report = _report(page, raw_id)
        if action == "commentary":
            svc.set_commentary(page.db, page.org.id, report.id, form.get("commentary"), renderer=RENDERER)
        else:
            with page.db.session() as s:
                by = actor_name(s, session.token_id)
            svc.publish(page.db, page.org.id, report.id, by=by, renderer=RENDERER)
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except (errors.Invalid, errors.Conflict) as exc:  # beside the form, not a page of its own
        status = 409 if isinstance(exc, errors.Conflict) else 422
        return render("report_detail.html", {**page.context(), **_detail_body(
            request, page, report, error=exc.message, commentary=form.get("commentary", ""))}, status=status)
    return RedirectResponse(f"{PATH}/{report.id}?done={action}", status_code=303)
