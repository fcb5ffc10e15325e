"""``/api/v1/projects/{id}/risks`` and ``/api/v1/risks``: the risk register (issue 23).

Reads need the ``read`` scope, changes ``write`` (as the other PM data). Another organization's
project, portfolio, person or risk is 404. The rules (score, order, review_overdue) are
``service.portfolio.risks.RISK_RULES``; ``format=csv`` goes through the one CSV writer.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from starlette.responses import Response

from service.api.deps import ReadCaller, SessionDep, WriteCaller
from service.api.responses import CSV_CONTENT
from service.ids import Id
from service.portfolio import commit
from service.portfolio import risks as svc
from service.portfolio.risks import RiskCreate, RiskPublic, RiskUpdate

router = APIRouter(prefix="/api/v1", tags=["risks"])


@router.get("/projects/{project_id}/risks", response_model=list[RiskPublic])
def list_project_risks(project_id: Id, caller: ReadCaller, session: SessionDep,
                       status: Literal["open", "mitigating", "accepted", "closed"] | None = None) -> list[RiskPublic]:
    """The project's risk register, highest score first, closed risks last."""
    return svc.list_risks(session, caller.org_id, project=project_id, status=status)


@router.post("/projects/{project_id}/risks", status_code=201, response_model=RiskPublic)
def create_project_risk(project_id: Id, body: RiskCreate, caller: WriteCaller, session: SessionDep) -> RiskPublic:
    """Add a risk to the project's register; the owner is a person id of the organization or a
    name (not both)."""
    out = svc.create_risk(session, caller.org_id, project_id, body, svc.actor_name(session, caller.token_id))
    commit(session)
    return out


@router.get(
    "/risks", response_model=None, response_class=Response,
    responses={200: {"model": list[RiskPublic], "description": "JSON, or CSV with format=csv.",
                     "content": CSV_CONTENT}},
)
def list_all_risks(
    caller: ReadCaller,
    session: SessionDep,
    project: Id | None = None,
    portfolio: Id | None = None,
    status: Literal["open", "mitigating", "accepted", "closed"] | None = None,
    format: Literal["json", "csv"] = "json",  # noqa: A002 - the public parameter name
) -> Response:
    """The organization's risk registers (of a project, of a portfolio's projects), highest
    score first; ``format=csv`` for a spreadsheet."""
    risks = svc.list_risks(session, caller.org_id, project=project, portfolio=portfolio, status=status)
    if format == "csv":
        return Response(svc.risks_csv(risks), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="risks.csv"'})
    body = "[" + ",".join(r.model_dump_json() for r in risks) + "]"
    return Response(body, media_type="application/json")


@router.get("/risks/{risk_id}", response_model=RiskPublic)
def get_risk(risk_id: Id, caller: ReadCaller, session: SessionDep) -> RiskPublic:
    return svc.risk_public(session, caller.org_id, risk_id)


@router.patch("/risks/{risk_id}", response_model=RiskPublic)
def update_risk(risk_id: Id, body: RiskUpdate, caller: WriteCaller, session: SessionDep) -> RiskPublic:
    """Change a risk (a field left out is unchanged; ``null`` clears an optional one)."""
    out = svc.update_risk(session, caller.org_id, risk_id, body, svc.actor_name(session, caller.token_id))
    commit(session)
    return out


@router.delete("/risks/{risk_id}", status_code=204)
def delete_risk(risk_id: Id, caller: WriteCaller, session: SessionDep) -> Response:
    svc.delete_risk(session, caller.org_id, risk_id)
    commit(session)
    return Response(status_code=204)
