"""The PM-side data the tools do not hold: budgets, planned dates and rates of projects,
portfolios, people (merged identities, effective-dated cost rates), organization settings.

One module for the API (``service.api.portfolio``) and the file (``taskhub apply``): the
same schemas validate both and the same functions write, so they store the same state.
Functions take the caller's ``Session`` and organization and never commit; the request
or the command does. Ids of another organization are "not found" (404).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from service.api.problems import Problem
from service.tables import (
    Organization,
    Person,
    PersonIdentity,
    PersonRate,
    Portfolio,
    PortfolioProject,
    Project,
    Source,
    Task,
    TaskAssignee,
    Worklog,
)

__all__ = [
    "Currency", "MoneyIn", "ProjectSettings", "ProjectUpdate", "ProjectPublic", "PortfolioCreate", "PortfolioUpdate",
    "PortfolioPublic", "PersonUpdate", "PersonPublic", "IdentityPublic", "IdentityLink", "RateCreate", "RatePublic",
    "OrganizationUpdate", "OrganizationPublic",
    "list_projects", "get_project", "update_project", "project_public",
    "list_portfolios", "get_portfolio", "create_portfolio", "update_portfolio", "delete_portfolio",
    "portfolio_public", "get_organization", "update_organization", "organization_public",
]

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. USD.")]
Rate = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=4, description="Money per hour.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MoneyIn(_In):
    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=4)
    currency: Currency


class MoneyOut(BaseModel):
    amount: float
    currency: str | None


class ProjectSettings(_In):
    """A project's PM data. A field left out is unchanged; ``null`` clears it."""

    budget: MoneyIn | None = Field(default=None, description="The budget at completion (BAC).")
    planned_start: date | None = None
    planned_end: date | None = None
    hourly_rate: Rate | None = Field(default=None, description="Default cost rate for people without their own.")

    @model_validator(mode="after")
    def _dates(self) -> ProjectSettings:
        if self.planned_start and self.planned_end and self.planned_end < self.planned_start:
            raise ValueError(f"planned_end {self.planned_end} is before planned_start {self.planned_start}")
        return self


class ProjectUpdate(ProjectSettings):
    portfolio_ids: list[int] | None = Field(default=None, description="Replaces the project's portfolios.")


class ProjectPublic(BaseModel):
    id: int
    source_id: int | None
    external_id: str
    key: str | None
    name: str
    url: str | None
    budget: MoneyOut | None
    planned_start: date | None
    planned_end: date | None
    hourly_rate: float | None
    portfolio_ids: list[int]


class PortfolioCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    project_ids: list[int] = Field(default_factory=list)


class PortfolioUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    project_ids: list[int] | None = None


class PortfolioPublic(BaseModel):
    id: int
    name: str
    description: str | None
    project_ids: list[int]


class PersonUpdate(_In):
    display_name: str | None = Field(default=None, min_length=1, max_length=300)
    email: str | None = Field(default=None, max_length=300, pattern=r"^[^@\s]+@[^@\s]+$")


class IdentityPublic(BaseModel):
    id: int
    tool: str
    external_id: str
    display_name: str | None
    email: str | None


class RateCreate(_In):
    effective_from: date
    hourly_rate: Rate


class RatePublic(BaseModel):
    id: int
    effective_from: date
    hourly_rate: float


class PersonPublic(BaseModel):
    id: int
    display_name: str
    email: str | None
    identities: list[IdentityPublic]
    rates: list[RatePublic]


class IdentityLink(_In):
    """Name an identity by its id, or by tool and external id."""

    identity_id: int | None = None
    tool: Literal["jira", "trello"] | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_way(self) -> IdentityLink:
        by_ref = self.tool is not None or self.external_id is not None
        if (self.identity_id is None) == (not by_ref) or (by_ref and not (self.tool and self.external_id)):
            raise ValueError("give identity_id, or tool and external_id")
        return self


class OrganizationUpdate(_In):
    timezone: str | None = Field(default=None, description="IANA time zone, e.g. Europe/Berlin.")
    currency: Currency | None = None
    default_hourly_rate: Rate | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


class OrganizationPublic(BaseModel):
    id: int
    name: str
    timezone: str
    currency: str
    default_hourly_rate: float | None


def _float(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


def invalid(field: str, message: str) -> Problem:
    return Problem(422, f"invalid request: {field}: {message}", errors=[{"field": field, "message": message}])


def owned(s: Session, model: Any, ident: int, org_id: int, what: str) -> Any:
    row = s.get(model, ident)
    if row is None or row.org_id != org_id:
        raise Problem(404, f"{what} {ident} not found")
    return row


# --- projects -------------------------------------------------------------------------------------


def _portfolio_ids(s: Session, project_ids: list[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {p: [] for p in project_ids}
    if project_ids:
        PP = PortfolioProject.__table__
        for pf, pj in s.execute(sa.select(PP.c.portfolio_id, PP.c.project_id)
                                .where(PP.c.project_id.in_(project_ids)).order_by(PP.c.portfolio_id)):
            out[pj].append(pf)
    return out


def project_public(p: Project, portfolio_ids: list[int]) -> ProjectPublic:
    budget = MoneyOut(amount=float(p.budget_amount), currency=p.budget_currency) if p.budget_amount is not None else None
    return ProjectPublic(id=p.id, source_id=p.source_id, external_id=p.external_id, key=p.key, name=p.name,  # type: ignore[arg-type]
                         url=p.url, budget=budget, planned_start=p.planned_start, planned_end=p.planned_end,
                         hourly_rate=_float(p.hourly_rate), portfolio_ids=portfolio_ids)


def list_projects(s: Session, org_id: int) -> list[ProjectPublic]:
    rows = s.exec(select(Project).where(Project.org_id == org_id, Project.deleted_at.is_(None))  # type: ignore[union-attr]
                  .order_by(Project.id)).all()
    pf = _portfolio_ids(s, [p.id for p in rows])  # type: ignore[misc]
    return [project_public(p, pf[p.id]) for p in rows]  # type: ignore[index]


def get_project(s: Session, org_id: int, project_id: int) -> Project:
    return owned(s, Project, project_id, org_id, "project")


def apply_project_settings(p: Project, body: ProjectSettings) -> None:
    given = body.model_fields_set
    if "budget" in given:
        p.budget_amount = body.budget.amount if body.budget else None
        p.budget_currency = body.budget.currency if body.budget else None
    for name in ("planned_start", "planned_end", "hourly_rate"):
        if name in given:
            setattr(p, name, getattr(body, name))
    if p.planned_start and p.planned_end and p.planned_end < p.planned_start:
        raise invalid("planned_end", f"{p.planned_end} is before planned_start {p.planned_start}")


def set_project_portfolios(s: Session, org_id: int, project_id: int, portfolio_ids: list[int]) -> None:
    for pf in portfolio_ids:
        owned(s, Portfolio, pf, org_id, "portfolio")
    PP = PortfolioProject.__table__
    s.execute(sa.delete(PP).where(PP.c.project_id == project_id))
    if portfolio_ids:
        s.execute(sa.insert(PP), [{"portfolio_id": pf, "project_id": project_id} for pf in dict.fromkeys(portfolio_ids)])


def update_project(s: Session, org_id: int, project_id: int, body: ProjectUpdate) -> ProjectPublic:
    p = get_project(s, org_id, project_id)
    apply_project_settings(p, body)
    s.add(p)
    if body.portfolio_ids is not None:
        set_project_portfolios(s, org_id, project_id, body.portfolio_ids)
    s.flush()
    return project_public(p, _portfolio_ids(s, [project_id])[project_id])


# --- portfolios -----------------------------------------------------------------------------------


def portfolio_public(s: Session, pf: Portfolio) -> PortfolioPublic:
    PP = PortfolioProject.__table__
    ids = list(s.execute(sa.select(PP.c.project_id).where(PP.c.portfolio_id == pf.id)
                         .order_by(PP.c.project_id)).scalars())
    return PortfolioPublic(id=pf.id, name=pf.name, description=pf.description, project_ids=ids)  # type: ignore[arg-type]


def list_portfolios(s: Session, org_id: int) -> list[PortfolioPublic]:
    rows = s.exec(select(Portfolio).where(Portfolio.org_id == org_id).order_by(Portfolio.id)).all()
    return [portfolio_public(s, pf) for pf in rows]


def get_portfolio(s: Session, org_id: int, portfolio_id: int) -> Portfolio:
    return owned(s, Portfolio, portfolio_id, org_id, "portfolio")


def set_portfolio_projects(s: Session, org_id: int, portfolio_id: int, project_ids: list[int]) -> None:
    for pid in project_ids:
        owned(s, Project, pid, org_id, "project")
    PP = PortfolioProject.__table__
    s.execute(sa.delete(PP).where(PP.c.portfolio_id == portfolio_id))
    if project_ids:
        s.execute(sa.insert(PP), [{"portfolio_id": portfolio_id, "project_id": p} for p in dict.fromkeys(project_ids)])


def _name_free(s: Session, org_id: int, name: str, but: int | None = None) -> None:
    q = select(Portfolio.id).where(Portfolio.org_id == org_id, Portfolio.name == name)
    if s.exec(q).first() not in (None, but):
        raise Problem(409, f"a portfolio named {name!r} already exists")


def create_portfolio(s: Session, org_id: int, body: PortfolioCreate) -> PortfolioPublic:
    _name_free(s, org_id, body.name)
    pf = Portfolio(org_id=org_id, name=body.name, description=body.description)
    s.add(pf)
    s.flush()
    set_portfolio_projects(s, org_id, pf.id, body.project_ids)  # type: ignore[arg-type]
    return portfolio_public(s, pf)


def update_portfolio(s: Session, org_id: int, portfolio_id: int, body: PortfolioUpdate) -> PortfolioPublic:
    pf = get_portfolio(s, org_id, portfolio_id)
    if body.name is not None:
        _name_free(s, org_id, body.name, but=portfolio_id)
        pf.name = body.name
    if "description" in body.model_fields_set:
        pf.description = body.description
    s.add(pf)
    if body.project_ids is not None:
        set_portfolio_projects(s, org_id, portfolio_id, body.project_ids)
    s.flush()
    return portfolio_public(s, pf)


def delete_portfolio(s: Session, org_id: int, portfolio_id: int) -> None:
    pf = get_portfolio(s, org_id, portfolio_id)
    s.execute(sa.delete(PortfolioProject.__table__).where(PortfolioProject.__table__.c.portfolio_id == pf.id))
    s.delete(pf)
    s.flush()


# --- organization ---------------------------------------------------------------------------------


def organization_public(org: Organization) -> OrganizationPublic:
    return OrganizationPublic(id=org.id, name=org.name, timezone=org.timezone, currency=org.currency,  # type: ignore[arg-type]
                              default_hourly_rate=_float(org.default_hourly_rate))


def get_organization(s: Session, org_id: int) -> Organization:
    org = s.get(Organization, org_id)
    if org is None:
        raise Problem(404, f"organization {org_id} not found")
    return org


def update_organization(s: Session, org_id: int, body: OrganizationUpdate) -> OrganizationPublic:
    org = get_organization(s, org_id)
    given = body.model_fields_set
    for name in ("timezone", "currency"):
        if name in given:
            if getattr(body, name) is None:
                raise invalid(name, "cannot be null")
            setattr(org, name, getattr(body, name))
    if "default_hourly_rate" in given:
        org.default_hourly_rate = body.default_hourly_rate
    s.add(org)
    s.flush()
    return organization_public(org)


def commit(s: Session) -> None:
    """Commit, turning a uniqueness race into a 409."""
    try:
        s.commit()
    except IntegrityError as exc:
        s.rollback()
        raise Problem(409, "conflicting change: the name or date is already taken") from exc


# People live in service.people_pm (identities and rates); re-exported for one import.
from service.portfolio_people import (  # noqa: E402
    add_rate,
    delete_rate,
    get_person,
    link_identity,
    list_people,
    person_public,
    replace_rates,
    unlink_identity,
    update_person,
)

__all__ += ["add_rate", "delete_rate", "get_person", "link_identity", "list_people", "person_public",
            "replace_rates", "unlink_identity", "update_person", "commit", "invalid", "owned"]
_unused = (Source, Task, TaskAssignee, Worklog, PersonIdentity, PersonRate, Person)
