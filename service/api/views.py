"""``/api/v1/views/{progress,budget,milestones,flow,workload,risk,quality}``: the portfolio views.

Definitions: ``shared/design/METRICS.md``; each response repeats the ones it used.
Query parameters: ``portfolio``, ``project``, ``source``, ``assignee`` (ids in the
caller's organization, else 404), ``group_by`` (project | source | milestone |
person), ``as_of`` (a date — the end of that day in the organization's time zone —
or an ISO 8601 datetime; default now; dates from 1970-01-01 to 9000-12-31: ``service.timerange``;
after today in the organization's time zone: 422, type ``as_of_after_today``)
and ``format`` (json | csv).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from service.api.deps import DbDep, ReadCaller
from service.api.problems import Problem
from service.api.responses import CSV_CONTENT, VIEW_MODELS
from service.ids import Id
from service.timerange import AS_OF_DESCRIPTION, AsOfAfterToday, OutOfRange, parse_as_of
from service.views import NotFound, UnsupportedParameter, ViewParams, compute_view, to_csv

router = APIRouter(prefix="/api/v1/views", tags=["views"])


def _as_of(value: str | None) -> date | datetime | None:
    """``as_of`` by the one parser (``service.timerange``); a malformed or out-of-range value is
    a 422 naming the field."""
    try:
        return parse_as_of(value)
    except OutOfRange as exc:
        raise _as_of_problem(exc) from None


def _as_of_problem(exc: OutOfRange) -> Problem:
    return Problem(
        422,
        f"invalid request: query.as_of {exc.message}",
        errors=[{"field": "query.as_of", "message": exc.message, "type": f"as_of_{exc.kind}"}],
    )


def _respond(name: str, org_id: int, db: Any, params: ViewParams, fmt: str) -> Response:
    try:
        result = compute_view(db, org_id, name, params)
    except NotFound as exc:
        raise Problem(404, str(exc)) from None
    except AsOfAfterToday as exc:  # after today in the organization's zone (METRICS.md): refused
        raise _as_of_problem(exc) from None
    except UnsupportedParameter as exc:  # a parameter this view does not take (the risk view's group_by)
        raise Problem(422, f"invalid request: {exc.field}: {exc.message}",
                      errors=[{"field": exc.field, "message": exc.message, "type": "unsupported"}]) from None
    if fmt == "csv":
        return Response(
            to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(orjson.dumps(result, option=orjson.OPT_NON_STR_KEYS), media_type="application/json")


def _make(name: str, summary: str) -> None:
    def view(
        caller: ReadCaller,
        db: DbDep,
        portfolio: Id | None = None,
        project: Id | None = None,
        source: Id | None = None,
        assignee: Annotated[Id | None, Query(description="A person id.")] = None,
        group_by: Literal["project", "source", "milestone", "person"] | None = None,
        as_of: Annotated[str | None, Query(
            description=AS_OF_DESCRIPTION,
            json_schema_extra={"anyOf": [{"type": "string", "format": "date"},
                                         {"type": "string", "format": "date-time"}]},
        )] = None,
        format: Literal["json", "csv"] = "json",  # noqa: A002 - the public parameter name
    ) -> Response:
        params = ViewParams(
            portfolio=portfolio,
            project=project,
            source=source,
            assignee=assignee,
            group_by=group_by,
            as_of=_as_of(as_of),
        )
        return _respond(name, caller.org_id, db, params, format)

    view.__name__ = f"{name}_view"
    view.__doc__ = summary
    router.add_api_route(
        f"/{name}", view, methods=["GET"], summary=summary, response_class=Response, response_model=None,
        responses={200: {"model": VIEW_MODELS[name], "description": "JSON, or CSV with format=csv.",
                         "content": CSV_CONTENT}},
    )


_make(
    "progress",
    "Percent complete (count, estimate, time), status breakdown, weekly throughput, daily burn-up.",
)
_make(
    "budget",
    "BAC, AC, consumed share, burn rate, runway, exhaustion date, EVM, daily cumulative cost.",
)
_make("milestones", "Milestones with open/done counts, percent complete, overdue, at risk and slip.")
_make("flow", "Lead and cycle time (p50/p85/p95), WIP, throughput.")
_make(
    "workload",
    "Per person across tools: open tasks and estimate, overdue tasks, hours logged this week.",
)
_make(
    "risk",
    "Per project and in total: stale, blocked, scope creep, schedule and budget, milestones, concentration, "
    "each with its evidence and threshold, and the RAG status they set.",
)
_make(
    "quality",
    "Defect inflow and outflow per ISO week, open defects and their age, bug share of throughput, defects "
    "reopened, escaped defects per released version.",
)
