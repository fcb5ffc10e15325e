"""The dashboard routes: sign-in, the portfolio overview, a project, milestones, people.

Server-rendered HTML with inline SVG charts; no JavaScript is needed to read a page.
Every figure comes from ``service.views`` (definitions in METRICS.md) for the signed-in
organization only; an id from another organization is a 404 page, like an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from service import errors
from service.dashboard import build, data
from service.dashboard.render import STATIC, render
from service.dashboard.session import (
    DashSession,
    clear_session_cookie,
    csrf_ok,
    csrf_token,
    current_session,
    end_session,
    open_session,
    set_session_cookie,
)
from service.db import Database
from service.ids import is_id
from service.portfolio.projects import commit
from service.portfolio.suggestions import accept_suggestion, list_suggestions, reject_suggestion
from service.security.auth import TokenInfo, lookup_token, scope_allows
from service.tables import utcnow
from service.timerange import AsOfAfterToday, OutOfRange, parse_as_of
from service.views import NotFound, ViewParams, compute_view

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Model = TypeVar("Model")
CSS_PATH = "/dashboard/static/dashboard.css"
ICON_PATH = "/favicon.ico"


class PageError(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Page:
    """What every page knows: who is signed in, the organization, the selection."""

    session: DashSession
    org: data.OrgInfo
    db: Database
    portfolios: list[tuple[int, str]]
    portfolio: int | None = None
    as_of_raw: str | None = None
    as_of: date | datetime | None = None
    nav: str = ""

    @property
    def portfolio_name(self) -> str | None:
        return next((n for i, n in self.portfolios if i == self.portfolio), None)

    def link(self, path: str, *, portfolio: bool = True) -> str:
        q = {}
        if portfolio and self.portfolio is not None:
            q["portfolio"] = str(self.portfolio)
        if self.as_of_raw:
            q["as_of"] = self.as_of_raw
        return path + ("?" + urlencode(q) if q else "")

    def project_href(self, project_id: int) -> str:
        return self.link(f"/projects/{project_id}", portfolio=False)

    def params(self, **kw: Any) -> ViewParams:
        return ViewParams(portfolio=self.portfolio, as_of=self.as_of, **kw)

    def view(self, name: str, **kw: Any) -> dict[str, Any]:
        return compute_view(self.db, self.org.id, name, self.params(**kw))

    def context(self) -> dict[str, Any]:
        return {
            "page": self,
            "org": self.org,
            "css": CSS_PATH,
            "nav": self.nav,
            "links": {
                "overview": self.link("/"),
                "milestones": self.link("/milestones"),
                "people": self.link("/people"),
                "risk": self.link("/risk"),
                "reports": "/reports",
                "sources": "/sources",
            },
        }


def _as_of(raw: str | None) -> date | datetime | None:
    """``as_of`` by the API's parser (``service.timerange``): the same formats and range."""
    try:
        return parse_as_of(raw)
    except OutOfRange as exc:
        raise PageError(400, "Bad date", f"as_of {exc.message}") from None


def _parse_id(raw: str | None, what: str) -> int | None:
    if raw is None or raw == "":
        return None
    # Digits only (int() would take "+1", " 1", "1_0"); at most 19 of them before int() so a
    # huge string costs nothing; and in the ids' range (service.ids), or the query would fail.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not is_id(int(raw)):
        raise PageError(404, "Not found", f"There is no {what} {raw[:40]!r}.")
    return int(raw)


def load_detached(page: Page, raw_id: str, what: str, get: Callable[[Session, int, int], Model]) -> Model:
    """The organization's ``what`` of id ``raw_id`` read by ``get`` (not an id: ``PageError`` 404;
    none such: ``get``'s ``errors.NotFound``), detached from its session: no transaction stays
    open while a form's action calls a tool."""
    obj_id = _parse_id(raw_id, what)
    assert obj_id is not None
    with page.db.session() as s:
        obj = get(s, page.org.id, obj_id)
        s.expunge(obj)
    return obj


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    url = "/login" if target == "/" else "/login?" + urlencode({"next": target})
    return RedirectResponse(url, status_code=303)


def _page(request: Request, session: DashSession, nav: str) -> Page | None:
    """The page of a signed-in session (``None`` when its organization was deleted under it)."""
    db: Database = request.app.state.db
    with db.read() as conn:
        org = data.org_info(conn, session.org_id)
        pfs = data.portfolios(conn, session.org_id)
    if org is None:
        return None
    return Page(session=session, org=org, db=db, portfolios=pfs, nav=nav)


def _serve(
    request: Request,
    template: str,
    nav: str,
    portfolio: str | None,
    as_of: str | None,
    build_page: Callable[[Page], dict[str, Any]],
) -> Response:
    session = current_session(request)
    page = _page(request, session, nav) if session is not None else None
    if page is None:
        return _to_login(request)
    try:
        page.as_of_raw, page.as_of = as_of or None, _as_of(as_of)
        page.portfolio = _parse_id(portfolio, "portfolio")
        if page.portfolio is not None and page.portfolio not in {i for i, _ in page.portfolios}:
            raise PageError(
                404, "Not found", f"There is no portfolio {page.portfolio} in {page.org.name}."
            )
        body = build_page(page)
    except PageError as exc:
        return _error(page, exc.status, exc.title, exc.detail)
    except NotFound as exc:
        return _error(page, 404, "Not found", str(exc))
    except AsOfAfterToday as exc:  # the views refuse it (METRICS.md), as the API does: 422
        return _error(page, 422, "Date after today", f"as_of {exc.message}")
    return render(template, {**page.context(), **body})


def _anon(**kw: Any) -> dict[str, Any]:
    """The context of a page shown to nobody in particular (sign-in, errors before sign-in)."""
    return {"page": None, "org": None, "css": CSS_PATH, "nav": "", "links": {}, **kw}


def _error(page: Page | None, status: int, title: str, detail: str) -> Response:
    ctx = page.context() if page else _anon()
    return render(
        "error.html", {**ctx, "title": title, "detail": detail, "status": status}, status=status
    )


# --- sign-in --------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or ``https://host``) after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _same_origin(request: Request) -> bool:
    """A form post from this site or from a client that sends no Origin (not a browser). This
    site: the Host the request names, or ``PUBLIC_BASE_URL``'s origin (behind a proxy that
    passes its own upstream Host, the browser's Origin is the public one)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    if urlsplit(origin).netloc == request.headers.get("host", ""):
        return True
    public = request.app.state.settings.public_base_url
    if not public:
        return False
    base, sent = urlsplit(public), urlsplit(origin)
    return (sent.scheme.lower(), sent.netloc.lower()) == (base.scheme.lower(), base.netloc.lower())


def checked_post(request: Request, form: dict[str, str], *, nav: str, back: str, label: str,
                 action: str, actions: Collection[str], scope: str) -> tuple[Page, DashSession] | Response:
    """The checks every dashboard form post passes, in this order, else the answer to give:
    signed in (else to the sign-in page and ``back``), one of ``actions`` (else 404), posted from
    this site with the session's CSRF token (else 403, naming the ``label`` page), a token with
    ``scope`` (else 403) — the same scope as the API route doing the same thing."""
    session = current_session(request)
    page = _page(request, session, nav) if session is not None else None
    if session is None or page is None:
        return RedirectResponse("/login?" + urlencode({"next": back}), status_code=303)
    if action not in actions:
        return _error(page, 404, "Not found", f"There is no action {action[:40]!r} on the {label} page: "
                      + " or ".join(sorted(actions)) + ".")
    if not _same_origin(request) or not csrf_ok(request, form.get("csrf")):
        return _error(page, 403, "Form refused",
                      f"This form did not come from your {label} page. Reload the page and try again.")
    if not scope_allows(session.scope, scope):
        return _error(page, 403, "Token without the scope",
                      f"This needs a token with the {scope} scope: sign in with one.")
    return page, session


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the query name
    if current_session(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render("login.html", _anon(next=_safe_next(next), error=None))


async def _form(request: Request, limit: int = 4096, max_fields: int = 10) -> dict[str, str] | Response:
    """A urlencoded form of at most ``limit`` bytes and ``max_fields`` fields (read here, so
    python-multipart is not needed); beyond either, the error page to answer instead: 413 naming
    the byte limit, 400 naming the field limit (before, ``{}``, which then failed the CSRF check
    as a false 403 "Form refused"). A caller returns a ``Response`` as it is."""
    body = b""
    declared = request.headers.get("content-length", "")
    # More digits than any form limit has is over it (int() refuses over 4,300 digits: a 500 for a
    # client that reaches the app without a server's own header check, e.g. an in-process one).
    too_big = declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit)
    if not too_big:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                too_big = True
                break
    if too_big:
        return await _form_refused(request, 413, "Form too large", (
            f"This form sent more than {limit:,} bytes, the most this form accepts (text is counted "
            "as sent: a character outside ASCII takes up to 12 bytes). Shorten the longest text and try "
            "again; nothing was changed."))
    try:
        fields = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=max_fields
        )
    except ValueError:  # more fields than the form has
        return await _form_refused(request, 400, "Too many form fields", (
            f"This form sent more than {max_fields} fields, the most this form has. Reload the page "
            "and try again; nothing was changed."))
    return {k: v[0] for k, v in fields.items()}


async def form_post(request: Request, act: Callable[..., Response], *args: Any, limit: int, max_fields: int
                    ) -> Response:
    """A form post's route: the form read (``_form``: an oversize or overfull one answered as it
    says), then ``act(request, *args, form)`` in the thread pool (it reads and writes the database
    and calls the tools; ``act`` does ``checked_post``'s checks first)."""
    form = await _form(request, limit=limit, max_fields=max_fields)
    if isinstance(form, Response):
        return form
    return await run_in_threadpool(act, request, *args, form)


async def _form_refused(request: Request, status: int, title: str, detail: str) -> Response:
    """The error page of a refused form, with the navigation of a signed-in session if any."""
    session = current_session(request)
    page = await run_in_threadpool(_page, request, session, "") if session is not None else None
    return _error(page, status, title, detail)


def _check_token(db: Database, token: str) -> TokenInfo | None:
    with db.session() as s:
        return lookup_token(s, token)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    if isinstance(form, Response):
        return form
    token, target = form.get("token", "").strip(), _safe_next(form.get("next"))
    if not _same_origin(request):
        return render(
            "login.html",
            _anon(next=target, error="This sign-in form was posted from another site."),
            status=403,
        )
    info = await run_in_threadpool(_check_token, request.app.state.db, token) if token else None
    if info is None:
        msg = (
            "Paste an API token to sign in."
            if not token
            else "That API token is not valid, or it has been revoked. Check it and try again."
        )
        return render("login.html", _anon(next=target, error=msg), status=401)
    secret, exp = await run_in_threadpool(open_session, request.app.state.db, info.token_id, info.org_id)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, secret, exp)
    return response


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> Response:
    """Sign out: the session ends in the store (a kept cookie opens nothing) and the cookie goes."""
    end_session(request)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


def _static(name: str, media_type: str) -> Response:
    return Response(
        (STATIC / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get(CSS_PATH)
def stylesheet() -> Response:
    return _static("dashboard.css", "text/css")


@router.get(ICON_PATH)
def favicon() -> Response:
    """The icon, an SVG: at the path browsers and bookmarks ask for whatever a page says, and
    named by every page (base.html) with its real type."""
    return _static("favicon.svg", "image/svg+xml")


# --- pages ----------------------------------------------------------------------------------


@router.get("/")
def overview(request: Request, portfolio: str | None = None, as_of: str | None = None) -> Response:
    def page_body(page: Page) -> dict[str, Any]:
        with page.db.read() as conn:
            projects = data.projects(conn, page.org.id, page.portfolio)
            health = data.source_health(conn, page.org.id, utcnow())
        progress = page.view("progress", group_by="project")
        budget = page.view("budget", group_by="project")
        milestones = page.view("milestones", group_by="project")
        rows = build.overview_rows(projects, progress, budget, milestones, page.project_href)
        return {
            "title": page.portfolio_name or "All projects",
            "rows": rows,
            "sources": health,
            "progress": progress,
            "budget": budget,
            "milestones": milestones,
            "consumed_chart": build.consumed_chart(rows),
            "burnup_chart": build.burnup_chart(progress, "Portfolio burn-up (tasks)"),
            "as_of_date": progress["definitions"]["as_of_date"],
        }

    return _serve(request, "overview.html", "overview", portfolio, as_of, page_body)


@router.get("/projects/{project_id}")
def project_page(request: Request, project_id: str, as_of: str | None = None) -> Response:
    def page_body(page: Page) -> dict[str, Any]:
        pid = _parse_id(project_id, "project")
        with page.db.read() as conn:
            project = data.project(conn, page.org.id, pid) if pid is not None else None
        if project is None:
            raise PageError(
                404, "Not found", f"There is no project {project_id} in {page.org.name}."
            )
        params = ViewParams(project=project.id, as_of=page.as_of)  # the project, not the portfolio
        progress = compute_view(page.db, page.org.id, "progress", params)
        budget = compute_view(page.db, page.org.id, "budget", params)
        milestones = compute_view(page.db, page.org.id, "milestones", params)
        today = date.fromisoformat(progress["definitions"]["as_of_date"])
        names = {project.id: project.name}
        return {
            "title": project.name,
            "project": project,
            "progress": progress,
            "budget": budget,
            "b": budget["total"],
            "p": progress["total"],
            "ms": milestones["total"],
            "milestone_rows": build.milestone_rows(
                milestones["milestones"], names, page.project_href
            ),
            "burnup_chart": build.burnup_chart(progress),
            "budget_chart": build.budget_chart(budget, today),
            "timeline_chart": build.timeline(milestones["milestones"], today),
            "as_of_date": today.isoformat(),
        }

    return _serve(request, "project.html", "project", None, as_of, page_body)


@router.get("/milestones")
def milestones_page(
    request: Request, portfolio: str | None = None, as_of: str | None = None
) -> Response:
    def page_body(page: Page) -> dict[str, Any]:
        with page.db.read() as conn:
            names = {p.id: p.name for p in data.projects(conn, page.org.id)}
        view = page.view("milestones")
        rows = build.milestone_rows(view["milestones"], names, page.project_href)
        overdue = sorted((m for m in rows if m["overdue"]), key=lambda m: -(m["days_overdue"] or 0))
        at_risk = sorted((m for m in rows if m["at_risk"]), key=lambda m: m["due_date"] or "")
        today = date.fromisoformat(view["definitions"]["as_of_date"])
        return {
            "title": "Milestones",
            "view": view,
            "overdue": overdue,
            "at_risk": at_risk,
            "all": rows,
            "timeline_chart": build.timeline(
                [*overdue, *at_risk],
                today,
                "Overdue and at-risk milestones",
                href=page.project_href,
                with_project=True,
            ),
            "as_of_date": today.isoformat(),
        }

    return _serve(request, "milestones.html", "milestones", portfolio, as_of, page_body)


@router.get("/people")
def people_page(
    request: Request, portfolio: str | None = None, as_of: str | None = None
) -> Response:
    def page_body(page: Page) -> dict[str, Any]:
        with page.db.read() as conn:
            tools = data.person_tools(conn, page.org.id)
            with Session(bind=conn) as s:
                suggestions = list_suggestions(s, page.org.id)
        view = page.view("workload")
        rows = build.workload_rows(view, tools)
        tasks_chart, hours_chart = build.workload_charts(rows)
        return {
            "title": "People",
            "view": view,
            "rows": rows,
            "tasks_chart": tasks_chart,
            "hours_chart": hours_chart,
            "as_of_date": view["definitions"]["as_of_date"],
            "suggestions": suggestions.suggestions[:SUGGESTIONS_SHOWN],
            "suggestions_total": len(suggestions.suggestions),
            "can_write": scope_allows(page.session.scope, "write"),
            "csrf": csrf_token(request),
            "back": page.link("/people"),
        }

    return _serve(request, "people.html", "people", portfolio, as_of, page_body)


# The strongest first; the rest come up as these are decided (all of them: the API).
SUGGESTIONS_SHOWN = 50


@router.post("/people/suggestions/{suggestion_id}/{decision}")
async def people_suggestion(request: Request, suggestion_id: str, decision: str) -> Response:
    """Accept or reject a people suggestion: the People page's forms, posted from this site with
    the session's CSRF token by a token with the write scope; back to the page after."""
    return await form_post(request, _decide, suggestion_id, decision, limit=4096, max_fields=10)


def _decide(request: Request, suggestion_id: str, decision: str, form: dict[str, str]) -> Response:
    checked = checked_post(request, form, nav="people", back="/people", label="People",
                           action=decision, actions=("accept", "reject"), scope="write")
    if isinstance(checked, Response):
        return checked
    page, session = checked
    try:
        with page.db.session() as s:
            if decision == "accept":
                accept_suggestion(s, page.org.id, suggestion_id)
            else:
                reject_suggestion(s, page.org.id, suggestion_id, f"token {session.token_id}")
            commit(s)
    except errors.NotFound as exc:
        return _error(page, 404, "Not found", exc.message)
    except errors.Conflict as exc:
        return _error(page, 409, "No longer suggested", exc.message)
    return RedirectResponse(_safe_next(form.get("next")), status_code=303)
