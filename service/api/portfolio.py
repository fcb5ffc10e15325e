"""``/api/v1/projects``, ``/people``, ``/portfolios``, ``/organization``: the PM-side data.

Reads need the ``read`` scope, changes ``write`` (organization settings: ``admin``).
Every query is scoped to the caller's organization; another organization's ids are 404.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from service import portfolio as svc
from service.api.deps import AdminCaller, ReadCaller, SessionDep, WriteCaller
from service.ids import Id
from service.portfolio import (
    IdentityLink,
    OrganizationPublic,
    OrganizationUpdate,
    PersonPublic,
    PersonUpdate,
    PortfolioCreate,
    PortfolioPublic,
    PortfolioUpdate,
    ProjectPublic,
    ProjectUpdate,
    RateCreate,
    RatePublic,
)
from service.portfolio.schemas import PeopleSuggestions
from service.portfolio.suggestions import accept_suggestion, list_suggestions, reject_suggestion
from service.state_events.transitions import evaluate_organization

router = APIRouter(prefix="/api/v1")


# --- projects
# ---------------------------------------------------------------------------------------


@router.get("/projects", response_model=list[ProjectPublic], tags=["projects"])
def list_projects(caller: ReadCaller, session: SessionDep) -> list[ProjectPublic]:
    return svc.list_projects(session, caller.org_id)


@router.get("/projects/{project_id}", response_model=ProjectPublic, tags=["projects"])
def get_project(project_id: Id, caller: ReadCaller, session: SessionDep) -> ProjectPublic:
    return svc.project_detail(session, caller.org_id, project_id)


@router.patch("/projects/{project_id}", response_model=ProjectPublic, tags=["projects"])
def update_project(project_id: Id, body: ProjectUpdate, caller: WriteCaller, session: SessionDep) -> ProjectPublic:
    """Set the budget, planned dates, default hourly rate and portfolios (``null`` clears a "
    "field)."""
    out = svc.update_project(session, caller.org_id, project_id, body)
    svc.commit(session)
    return out


# --- people
# -----------------------------------------------------------------------------------------


@router.get("/people", response_model=list[PersonPublic], tags=["people"])
def list_people(caller: ReadCaller, session: SessionDep) -> list[PersonPublic]:
    return svc.list_people(session, caller.org_id)


@router.get("/people/suggestions", response_model=PeopleSuggestions, tags=["people"])
def people_suggestions(caller: ReadCaller, session: SessionDep) -> PeopleSuggestions:
    """Pairs of persons who are probably one human in two tools, with the evidence for each,
    strongest first (``rules`` states how they are matched)."""
    return list_suggestions(session, caller.org_id)


@router.post("/people/suggestions/{suggestion_id}/accept", response_model=PersonPublic, tags=["people"])
def accept_people_suggestion(suggestion_id: str, caller: WriteCaller, session: SessionDep) -> PersonPublic:
    """Merge the pair as the link call does; answers the person that stays. A person already
    merged or removed is a 404, a pair no longer suggested a 409."""
    out = accept_suggestion(session, caller.org_id, suggestion_id)
    svc.commit(session)
    return out


@router.post("/people/suggestions/{suggestion_id}/reject", status_code=204, tags=["people"])
def reject_people_suggestion(suggestion_id: str, caller: WriteCaller, session: SessionDep) -> Response:
    """Remember that the two are different people (per identity pair): never offered again."""
    reject_suggestion(session, caller.org_id, suggestion_id, f"token {caller.token_id}")
    svc.commit(session)
    return Response(status_code=204)


@router.get("/people/{person_id}", response_model=PersonPublic, tags=["people"])
def get_person(person_id: Id, caller: ReadCaller, session: SessionDep) -> PersonPublic:
    return svc.person_public(session, svc.get_person(session, caller.org_id, person_id))


@router.patch("/people/{person_id}", response_model=PersonPublic, tags=["people"])
def update_person(person_id: Id, body: PersonUpdate, caller: WriteCaller, session: SessionDep) -> PersonPublic:
    out = svc.update_person(session, caller.org_id, person_id, body)
    svc.commit(session)
    return out


@router.post("/people/{person_id}/identities/link", response_model=PersonPublic, tags=["people"])
def link_identity(person_id: Id, body: IdentityLink, caller: WriteCaller, session: SessionDep) -> PersonPublic:
    """Move an identity onto this person (a person left without identities merges into this one)."""
    out = svc.link_identity(session, caller.org_id, person_id, body)
    evaluate_organization(session.connection(), caller.org_id)  # hours change hands: their rates may differ
    svc.commit(session)
    return out


@router.post(
    "/people/{person_id}/identities/{identity_id}/unlink",
    status_code=201,
    response_model=PersonPublic,
    tags=["people"],
)
def unlink_identity(person_id: Id, identity_id: Id, caller: WriteCaller, session: SessionDep) -> PersonPublic:
    """Split an identity off into a new person; answers the new person."""
    out = svc.unlink_identity(session, caller.org_id, person_id, identity_id)
    evaluate_organization(session.connection(), caller.org_id)
    svc.commit(session)
    return out


@router.get("/people/{person_id}/rates", response_model=list[RatePublic], tags=["people"])
def list_rates(person_id: Id, caller: ReadCaller, session: SessionDep) -> list[RatePublic]:
    return svc.list_rates(session, caller.org_id, person_id)


@router.post("/people/{person_id}/rates", status_code=201, response_model=RatePublic, tags=["people"])
def add_rate(person_id: Id, body: RateCreate, caller: WriteCaller, session: SessionDep) -> RatePublic:
    """Add a cost rate effective from a date (until the next one takes over)."""
    out = svc.add_rate(session, caller.org_id, person_id, body)
    evaluate_organization(session.connection(), caller.org_id)  # AC moves: budget events, in this transaction
    svc.commit(session)
    return out


@router.delete("/people/{person_id}/rates/{rate_id}", status_code=204, tags=["people"])
def delete_rate(person_id: Id, rate_id: Id, caller: WriteCaller, session: SessionDep) -> Response:
    svc.delete_rate(session, caller.org_id, person_id, rate_id)
    evaluate_organization(session.connection(), caller.org_id)
    svc.commit(session)
    return Response(status_code=204)


# --- portfolios
# -------------------------------------------------------------------------------------


@router.get("/portfolios", response_model=list[PortfolioPublic], tags=["portfolios"])
def list_portfolios(caller: ReadCaller, session: SessionDep) -> list[PortfolioPublic]:
    return svc.list_portfolios(session, caller.org_id)


@router.post("/portfolios", status_code=201, response_model=PortfolioPublic, tags=["portfolios"])
def create_portfolio(body: PortfolioCreate, caller: WriteCaller, session: SessionDep) -> PortfolioPublic:
    out = svc.create_portfolio(session, caller.org_id, body)
    svc.commit(session)
    return out


@router.get("/portfolios/{portfolio_id}", response_model=PortfolioPublic, tags=["portfolios"])
def get_portfolio(portfolio_id: Id, caller: ReadCaller, session: SessionDep) -> PortfolioPublic:
    return svc.portfolio_public(session, svc.get_portfolio(session, caller.org_id, portfolio_id))


@router.patch("/portfolios/{portfolio_id}", response_model=PortfolioPublic, tags=["portfolios"])
def update_portfolio(
    portfolio_id: Id, body: PortfolioUpdate, caller: WriteCaller, session: SessionDep
) -> PortfolioPublic:
    """Rename, describe, or replace the member projects (``project_ids``)."""
    out = svc.update_portfolio(session, caller.org_id, portfolio_id, body)
    svc.commit(session)
    return out


@router.delete("/portfolios/{portfolio_id}", status_code=204, tags=["portfolios"])
def delete_portfolio(portfolio_id: Id, caller: WriteCaller, session: SessionDep) -> Response:
    svc.delete_portfolio(session, caller.org_id, portfolio_id)
    svc.commit(session)
    return Response(status_code=204)


# --- organization
# -----------------------------------------------------------------------------------


@router.get("/organization", response_model=OrganizationPublic, tags=["organization"])
def get_organization(caller: ReadCaller, session: SessionDep) -> OrganizationPublic:
    return svc.organization_public(svc.get_organization(session, caller.org_id))


@router.patch("/organization", response_model=OrganizationPublic, tags=["organization"])
def update_organization(body: OrganizationUpdate, caller: AdminCaller, session: SessionDep) -> OrganizationPublic:
    """Time zone (for "today" and overdue), currency of costs, default hourly cost rate."""
    out = svc.update_organization(session, caller.org_id, body)
    evaluate_organization(session.connection(), caller.org_id)  # a default rate or a zone moves figures
    svc.commit(session)
    return out
