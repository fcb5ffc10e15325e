"""``/api/v1/reports``: the weekly status reports (issue 23), as JSON, HTML or PDF.

- ``GET /api/v1/reports?portfolio=N|project=N&week=YYYY-Www|YYYY-MM-DD&format=json|html|pdf``:
  the week's report; when none is stored for a past or the current week, a draft is generated
  and stored first (a future week: 422). Without ``week``: the stored reports, newest first.
- ``POST /api/v1/reports`` (write): generate the week's draft again from the current figures
  (a published one: 409).
- ``GET /api/v1/reports/{id}``; ``PATCH /api/v1/reports/{id}`` (write): the draft's commentary
  (published: 409); ``POST /api/v1/reports/{id}/publish`` (write): final HTML and PDF stored,
  ``report.ready`` emitted; again: 409.

Scopes: reading, including the draft a read generates, needs ``read``: a draft holds only
figures the same token reads through the views, storing it is idempotent (one per scope and
week) and changes nothing a PM wrote. What a PM decides (commentary, publish, regenerate) needs
``write``, like the other PM data. Another organization's report or scope is 404.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from service import errors
from service.api.deps import DbDep, ReadCaller, WriteCaller
from service.api.problems import Problem
from service.db import Database
from service.ids import Id
from service.portfolio.risks import actor_name
from service.reports import snapshots as svc
from service.reports.data import Scope
from service.reports.snapshots import REPORT_CSP, Renderer, Report
from service.reports.weeks import Week, parse_week
from service.schemas import LongText, Text

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

WEEK_DESCRIPTION = ("An ISO week (2026-W11) or any day of it (2026-03-11), in the organization's time zone; "
                    "a week after the current one is refused (422).")
Format = Literal["json", "html", "pdf"]


class ReportPublic(BaseModel):
    id: int
    scope: Literal["portfolio", "project"]
    scope_id: int
    scope_name: str
    week: str
    week_start: str
    status: Literal["draft", "published"]
    commentary: str | None = None
    generated_at: str | None = None
    published_at: str | None = None
    published_by: str | None = None
    links: dict[str, str]
    data: dict[str, Any] | None = Field(default=None, description="Every figure the report shows (a list omits it).")


class ReportGenerate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    portfolio: Id | None = None
    project: Id | None = None
    week: Text = Field(description=WEEK_DESCRIPTION, max_length=20)


class ReportPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commentary: LongText | None = Field(default=None, max_length=svc.COMMENTARY_MAX,
                                   description="A PM's short commentary; null or blank clears it.")


def renderer(request: Request) -> Renderer:
    """The report renderer the app was built with (``service.dashboard.report_render``)."""
    r: Renderer = request.app.state.report_renderer
    return r


def _scope(portfolio: int | None, project: int | None, where: str) -> tuple[Scope, int]:
    if (portfolio is None) == (project is None):
        message = "give exactly one of portfolio or project"
        raise Problem(422, f"invalid request: {message}",
                      errors=[{"field": f"{where}.portfolio", "message": message, "type": "one_of"}])
    return ("portfolio", portfolio) if portfolio is not None else ("project", project)  # type: ignore[return-value]


def _week(raw: str, where: str) -> Week:
    try:
        return parse_week(raw, field=f"{where}.week")
    except errors.Invalid as exc:
        raise Problem(422, f"invalid request: {exc.message}",
                      errors=[{"field": f"{where}.week", "message": exc.reason, "type": "week"}]) from None


def _generated(call: Any, where: str) -> Report:
    try:
        report: Report = call()
    except errors.Invalid as exc:
        if exc.field == "week":
            entry = {"field": f"{where}.week", "message": exc.reason, "type": "week_in_future"}
            raise Problem(422, f"invalid request: {where}.{exc.message}", errors=[entry]) from None
        raise
    return report


def respond(report: Report, fmt: Format, request: Request) -> Response:
    """The report as JSON (with its data), or its stored HTML or PDF (``service.reports.snapshots.rendered``)."""
    if fmt == "json":
        return Response(orjson.dumps(report.public()), media_type="application/json")
    body = svc.rendered(report, fmt, renderer(request))
    disposition = f'inline; filename="{report.filename(fmt)}"'
    if fmt == "html":
        return Response(body, media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": REPORT_CSP, "Content-Disposition": disposition})
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": disposition})


FORMATS: dict[int | str, dict[str, Any]] = {200: {
    "model": ReportPublic, "description": "JSON; HTML with format=html; PDF with format=pdf.",
    "content": {"text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("", response_class=Response, response_model=None, responses={
    200: {"model": list[ReportPublic] | ReportPublic,
          "description": "With week: the week's report (JSON, HTML or PDF by format); without: the stored reports.",
          "content": FORMATS[200]["content"]}})
def reports(
    request: Request,
    caller: ReadCaller,
    db: DbDep,
    portfolio: Id | None = None,
    project: Id | None = None,
    week: Annotated[str | None, Query(description=WEEK_DESCRIPTION, max_length=20)] = None,
    status: Literal["draft", "published"] | None = None,
    format: Format = "json",  # noqa: A002 - the public parameter name
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The week's status report of a portfolio or project (a draft is generated when none is
    stored); without ``week``, the stored reports, newest week first."""
    if week is None:
        if format != "json":
            raise Problem(422, "invalid request: query.format html or pdf needs a week",
                          errors=[{"field": "query.format", "message": "html and pdf need a week", "type": "format"}])
        if portfolio is not None and project is not None:
            _scope(portfolio, project, "query")
        sel: tuple[Scope | None, int | None] = ("portfolio", portfolio) if portfolio is not None else \
            ("project", project) if project is not None else (None, None)
        rows = svc.list_reports(db, caller.org_id, scope=sel[0], scope_id=sel[1], status=status, limit=limit)
        return Response(orjson.dumps([r.public(with_data=False) for r in rows]), media_type="application/json")
    scope, scope_id = _scope(portfolio, project, "query")
    wk = _week(week, "query")
    report = _generated(lambda: svc.get_or_generate(db, caller.org_id, scope, scope_id, wk,
                                                    renderer=renderer(request)), "query")
    return respond(report, format, request)


@router.post("", response_model=ReportPublic, status_code=200)
def regenerate(request: Request, body: ReportGenerate, caller: WriteCaller, db: DbDep) -> Response:
    """Generate the week's draft (again) from the current figures, keeping its commentary;
    a published report never changes (409)."""
    scope, scope_id = _scope(body.portfolio, body.project, "body")
    wk = _week(body.week, "body")
    report = _generated(lambda: svc.generate(db, caller.org_id, scope, scope_id, wk, renderer=renderer(request))[0],
                        "body")
    return respond(report, "json", request)


@router.get("/{report_id}", response_class=Response, response_model=None, responses=FORMATS)
def get_report(request: Request, report_id: Id, caller: ReadCaller, db: DbDep,
               format: Format = "json") -> Response:  # noqa: A002 - the public parameter name
    """One stored report: a published one exactly as it was published."""
    return respond(svc.get(db, caller.org_id, report_id), format, request)


@router.patch("/{report_id}", response_model=ReportPublic)
def patch_report(request: Request, report_id: Id, body: Annotated[ReportPatch, Body()], caller: WriteCaller,
                 db: DbDep) -> Response:
    """A draft's commentary; a published report's is final (409)."""
    report = svc.set_commentary(db, caller.org_id, report_id, body.commentary, renderer=renderer(request))
    return respond(report, "json", request)


def _actor(db: Database, token_id: int) -> str:
    with db.session() as s:
        return actor_name(s, token_id)


@router.post("/{report_id}/publish", response_model=ReportPublic)
def publish_report(request: Request, report_id: Id, caller: WriteCaller, db: DbDep) -> Response:
    """Publish a draft: its final HTML and PDF (with the commentary) are stored and
    ``report.ready`` is sent to subscribed endpoints; published already: 409."""
    report = svc.publish(db, caller.org_id, report_id, by=_actor(db, caller.token_id), renderer=renderer(request))
    return respond(report, "json", request)
