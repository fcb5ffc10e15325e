"""Projects (budget, planned dates, rate), portfolios and organization settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import errors
from service.portfolio.schemas import (
    MoneyOut,
    OrganizationPublic,
    OrganizationUpdate,
    PortfolioCreate,
    PortfolioPublic,
    PortfolioUpdate,
    ProjectPublic,
    ProjectSettings,
    ProjectUpdate,
)
from service.state_events.transitions import DEFAULT_THRESHOLDS, evaluate_projects
from service.store.rollups import lock_sources, rezone
from service.tables import Organization, Portfolio, PortfolioProject, Project, table
from service.views.risk import effective_thresholds

__all__ = [
    "row_id",
    "table",
    "list_projects",
    "get_project",
    "project_detail",
    "update_project",
    "project_public",
    "apply_project_settings",
    "set_project_portfolios",
    "list_portfolios",
    "get_portfolio",
    "create_portfolio",
    "update_portfolio",
    "delete_portfolio",
    "portfolio_public",
    "set_portfolio_projects",
    "get_organization",
    "update_organization",
    "organization_public",
    "commit",
    "invalid",
    "owned",
]


def row_id(value: int | None) -> int:
    """A stored row's id (never None once flushed)."""
    assert value is not None
    return value



def _float(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


def invalid(field: str, message: str) -> errors.Invalid:
    """Bad input in one field, worded as the schema's own validation errors are."""
    return errors.Invalid(f"invalid request: {field}: {message}", field=field, reason=message)


def owned(s: Session, model: Any, ident: int, org_id: int, what: str) -> Any:
    row = s.get(model, ident)
    if row is None or row.org_id != org_id:
        raise errors.NotFound(f"{what} {ident} not found")
    return row


# --- projects -------------------------------------------------------------------------------------


def _memberships(s: Session, by: str, ids: list[int]) -> dict[int, list[int]]:
    """Portfolio membership in one query: ``by="project"`` gives ``{project id: portfolio ids}``,
    ``by="portfolio"`` gives ``{portfolio id: project ids}``, each list ascending."""
    PP = table(PortfolioProject)
    key, other = (PP.c.project_id, PP.c.portfolio_id) if by == "project" else (PP.c.portfolio_id, PP.c.project_id)
    out: dict[int, list[int]] = {i: [] for i in ids}
    if ids:
        for k, v in s.execute(sa.select(key, other).where(key.in_(ids)).order_by(other)):
            out[k].append(v)
    return out


def _portfolio_ids(s: Session, project_ids: list[int]) -> dict[int, list[int]]:
    return _memberships(s, "project", project_ids)


def project_public(p: Project, portfolio_ids: list[int]) -> ProjectPublic:
    budget = (
        MoneyOut(amount=float(p.budget_amount), currency=p.budget_currency) if p.budget_amount is not None else None
    )
    return ProjectPublic(
        id=row_id(p.id),
        source_id=p.source_id,
        external_id=p.external_id,
        key=p.key,
        name=p.name,
        url=p.url,
        budget=budget,
        planned_start=p.planned_start,
        planned_end=p.planned_end,
        hourly_rate=_float(p.hourly_rate),
        budget_thresholds=sorted(p.budget_thresholds or DEFAULT_THRESHOLDS),
        risk_thresholds=effective_thresholds(p.risk_thresholds),
        portfolio_ids=portfolio_ids,
    )


def list_projects(s: Session, org_id: int) -> list[ProjectPublic]:
    rows = s.exec(
        select(Project).where(Project.org_id == org_id, col(Project.deleted_at).is_(None)).order_by(col(Project.id))
    ).all()
    pf = _portfolio_ids(s, [row_id(p.id) for p in rows])
    return [project_public(p, pf[row_id(p.id)]) for p in rows]


def project_detail(s: Session, org_id: int, project_id: int) -> ProjectPublic:
    p = get_project(s, org_id, project_id)
    return project_public(p, _portfolio_ids(s, [project_id])[project_id])


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
    if "budget_thresholds" in given:
        p.budget_thresholds = sorted(set(body.budget_thresholds)) if body.budget_thresholds else None
    if "risk_thresholds" in given:  # validated by the schema (service.views.risk.validate_thresholds)
        p.risk_thresholds = body.risk_thresholds or None
    if p.planned_start and p.planned_end and p.planned_end < p.planned_start:
        raise invalid("planned_end", f"{p.planned_end} is before planned_start {p.planned_start}")


def set_project_portfolios(s: Session, org_id: int, project_id: int, portfolio_ids: list[int]) -> None:
    for pf in portfolio_ids:
        owned(s, Portfolio, pf, org_id, "portfolio")
    PP = table(PortfolioProject)
    s.execute(sa.delete(PP).where(PP.c.project_id == project_id))
    if portfolio_ids:
        s.execute(
            sa.insert(PP),
            [{"portfolio_id": pf, "project_id": project_id} for pf in dict.fromkeys(portfolio_ids)],
        )


def update_project(s: Session, org_id: int, project_id: int, body: ProjectUpdate) -> ProjectPublic:
    p = get_project(s, org_id, project_id)
    apply_project_settings(p, body)
    if p.source_id is not None:  # before the row's update: the order every writer locks in
        lock_sources(s.connection(), [p.source_id])
    s.add(p)
    if body.portfolio_ids is not None:
        set_project_portfolios(s, org_id, project_id, body.portfolio_ids)
    s.flush()
    evaluate_projects(s.connection(), org_id, [project_id])  # a new budget or threshold may cross one
    return project_public(p, _portfolio_ids(s, [project_id])[project_id])


# --- portfolios -----------------------------------------------------------------------------------


def _portfolio_public(pf: Portfolio, project_ids: list[int]) -> PortfolioPublic:
    return PortfolioPublic(id=row_id(pf.id), name=pf.name, description=pf.description, project_ids=project_ids)


def portfolio_public(s: Session, pf: Portfolio) -> PortfolioPublic:
    return _portfolio_public(pf, _memberships(s, "portfolio", [row_id(pf.id)])[row_id(pf.id)])


def list_portfolios(s: Session, org_id: int) -> list[PortfolioPublic]:
    rows = s.exec(select(Portfolio).where(Portfolio.org_id == org_id).order_by(col(Portfolio.id))).all()
    members = _memberships(s, "portfolio", [row_id(pf.id) for pf in rows])  # one query, not one per portfolio
    return [_portfolio_public(pf, members[row_id(pf.id)]) for pf in rows]


def get_portfolio(s: Session, org_id: int, portfolio_id: int) -> Portfolio:
    return owned(s, Portfolio, portfolio_id, org_id, "portfolio")


def set_portfolio_projects(s: Session, org_id: int, portfolio_id: int, project_ids: list[int]) -> None:
    for pid in project_ids:
        owned(s, Project, pid, org_id, "project")
    PP = table(PortfolioProject)
    s.execute(sa.delete(PP).where(PP.c.portfolio_id == portfolio_id))
    if project_ids:
        s.execute(
            sa.insert(PP),
            [{"portfolio_id": portfolio_id, "project_id": p} for p in dict.fromkeys(project_ids)],
        )


def _name_free(s: Session, org_id: int, name: str, but: int | None = None) -> None:
    q = select(Portfolio.id).where(Portfolio.org_id == org_id, Portfolio.name == name)
    if s.exec(q).first() not in (None, but):
        raise errors.Conflict(f"a portfolio named {name!r} already exists")


def create_portfolio(s: Session, org_id: int, body: PortfolioCreate) -> PortfolioPublic:
    _name_free(s, org_id, body.name)
    pf = Portfolio(org_id=org_id, name=body.name, description=body.description)
    s.add(pf)
    s.flush()
    set_portfolio_projects(s, org_id, row_id(pf.id), body.project_ids)
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
    s.execute(sa.delete(table(PortfolioProject)).where(table(PortfolioProject).c.portfolio_id == pf.id))
    s.delete(pf)
    s.flush()


# --- organization ---------------------------------------------------------------------------------


def organization_public(org: Organization) -> OrganizationPublic:
    return OrganizationPublic(
        id=row_id(org.id),
        name=org.name,
        timezone=org.timezone,
        currency=org.currency,
        default_hourly_rate=_float(org.default_hourly_rate),
    )


def get_organization(s: Session, org_id: int) -> Organization:
    org = s.get(Organization, org_id)
    if org is None:
        raise errors.NotFound(f"organization {org_id} not found")
    return org


def update_organization(s: Session, org_id: int, body: OrganizationUpdate) -> OrganizationPublic:
    org = get_organization(s, org_id)
    given = body.model_fields_set
    zone = org.timezone
    for name in ("timezone", "currency"):
        if name in given:
            if getattr(body, name) is None:
                raise invalid(name, "cannot be null")
            setattr(org, name, getattr(body, name))
    if "default_hourly_rate" in given:
        org.default_hourly_rate = body.default_hourly_rate
    s.add(org)
    s.flush()
    if org.timezone != zone:  # the worklogs' local days move, and their rates with them
        rezone(s.connection(), org_id)
    return organization_public(org)


def commit(s: Session) -> None:
    """Commit, turning a uniqueness race into ``errors.Conflict``."""
    try:
        s.commit()
    except IntegrityError as exc:
        s.rollback()
        raise errors.Conflict("conflicting change: the name or date is already taken") from exc
