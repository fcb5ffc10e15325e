"""``taskhub apply FILE.yaml``: the PM-side data from a file a PM keeps in version control.

The document is validated with the API's schemas and written with the API's functions,
in the caller's session (one transaction: all or nothing). A file states the result:
each person's rates become exactly the listed ones, a declared portfolio's members
become exactly the projects that list it.

    organization: {name: acme, timezone: Europe/Berlin, currency: EUR, default_hourly_rate: 80}
    portfolios:
      - {name: Platform, description: Core services}
    projects:
      - source: jira-cloud          # the source's name, and the project's key or external_id
        key: ALP                    # (or: id: 12)
        budget: {amount: 20000, currency: EUR}
        planned_start: 2026-02-02
        planned_end: 2026-03-27
        hourly_rate: 60
        portfolios: [Platform]
    people:
      - identity: {tool: jira, external_id: 5b10ac8d82e05b22cc7d4ef5}   # (or: id: 3)
        display_name: Ann
        identities: [{tool: trello, external_id: 5a0b...}]             # linked onto this person
        rates:
          - {effective_from: 2026-01-01, hourly_rate: 100}
    milestones:
      - source: jira-cloud          # the source's name, and the milestone's name or external_id
        name: "1.0"                 # (or: external_id: 10001, or: id: 7)
        baseline: 2026-05-01        # the due date slip is measured against; "reset": its current due date
    sources:                        # see service.portfolio.apply_sources (secrets: ${ENV_VAR} only)
      - {kind: jira, name: jira-cloud, base_url: https://acme.atlassian.net, scope: {projects: [ALP]},
         credentials: {type: jira_cloud, email: bot@acme.io, api_token: "${JIRA_TOKEN}"}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator
from sqlmodel import Session, col, select

from service import errors
from service.ids import Id
from service.portfolio import people, projects
from service.portfolio.apply_sources import ApplySource, validation_message
from service.portfolio.milestones import set_baseline
from service.portfolio.projects import row_id
from service.portfolio.schemas import (
    IdentityLink,
    MilestoneBaseline,
    OrganizationUpdate,
    PersonUpdate,
    PortfolioCreate,
    PortfolioUpdate,
    ProjectSettings,
    RateCreate,
    _In,
)
from service.schemas import LongText, Text
from service.state_events.transitions import evaluate_projects
from service.store import rollups
from service.tables import Milestone, Portfolio, Project, Source
from service.timerange import BoundedDate

__all__ = ["ApplyDocument", "ApplyError", "apply_document", "parse_document", "validation_message"]


class ApplyError(ValueError):
    """A problem with the file: ``where`` names the entry, e.g. ``projects[1].planned_end``."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


class IdentityRef(_In):
    tool: Literal["jira", "trello"]
    external_id: Text = Field(min_length=1, max_length=200)


class ApplyOrganization(OrganizationUpdate):
    name: Text | None = Field(default=None, description="Which organization the file is for (or --org).")


class ApplyPortfolio(_In):
    name: Text = Field(min_length=1, max_length=200)
    description: LongText | None = Field(default=None, max_length=5000)


class ApplyProject(ProjectSettings):
    id: int | None = None
    source: Text | None = Field(default=None, description="The source's name.")
    key: Text | None = None
    external_id: Text | None = None
    portfolios: list[Text] | None = Field(default=None, description="Portfolio names; replaces the membership.")

    @model_validator(mode="after")
    def _named(self) -> ApplyProject:
        if self.id is None and not (self.source and (self.key or self.external_id)):
            raise ValueError("name the project by id, or by source and key (or external_id)")
        return self


class ApplyPerson(PersonUpdate):
    id: int | None = None
    identity: IdentityRef | None = Field(default=None, description="The person holding this identity.")
    identities: list[IdentityRef] | None = Field(default=None, description="Identities to link onto the person.")
    rates: list[RateCreate] | None = Field(default=None, description="Replaces the person's rates.")

    @model_validator(mode="after")
    def _named(self) -> ApplyPerson:
        if (self.id is None) == (self.identity is None):
            raise ValueError("name the person by id or by identity {tool, external_id} (one of them)")
        return self


class ApplyMilestone(_In):
    id: Id | None = None
    source: Text | None = Field(default=None, description="The source's name.")
    name: Text | None = None
    external_id: Text | None = None
    baseline: BoundedDate | Literal["reset"] = Field(
        description="The baseline due date, or 'reset' for the milestone's current due date.")

    @model_validator(mode="after")
    def _named(self) -> ApplyMilestone:
        if self.id is None and not (self.source and (self.name or self.external_id)):
            raise ValueError("name the milestone by id, or by source and name (or external_id)")
        return self


class ApplyDocument(_In):
    organization: ApplyOrganization | None = None
    sources: list[ApplySource] = Field(default_factory=list, description=(
        "Applied first, by service.portfolio.apply_sources.apply_sources (not apply_document)."))
    portfolios: list[ApplyPortfolio] = Field(default_factory=list)
    projects: list[ApplyProject] = Field(default_factory=list)
    people: list[ApplyPerson] = Field(default_factory=list)
    milestones: list[ApplyMilestone] = Field(default_factory=list)


def parse_document(data: Any) -> ApplyDocument:
    if not isinstance(data, dict):
        raise ApplyError("", "the file must be a mapping with organization, sources, portfolios, projects, people")
    try:
        return ApplyDocument.model_validate(data)
    except ValidationError as exc:
        raise ApplyError("", validation_message(exc)) from exc


def _project(s: Session, org_id: int, p: ApplyProject) -> Project:
    if p.id is not None:
        return projects.get_project(s, org_id, p.id)
    src = s.exec(select(Source).where(Source.org_id == org_id, Source.name == p.source)).first()
    if src is None:
        raise errors.NotFound(f"no source named {p.source!r}")
    q = select(Project).where(Project.source_id == src.id)
    q = q.where(Project.key == p.key) if p.key else q.where(Project.external_id == p.external_id)
    found = s.exec(q).first()
    if found is None:
        raise errors.NotFound(
            f"source {p.source!r} has no project {p.key or p.external_id!r} (it appears once synced)",
        )
    return found


def _milestone_id(s: Session, org_id: int, m: ApplyMilestone) -> int:
    if m.id is not None:
        return m.id  # another organization's id: set_baseline answers "not found"
    src = s.exec(select(Source).where(Source.org_id == org_id, Source.name == m.source)).first()
    if src is None:
        raise errors.NotFound(f"no source named {m.source!r}")
    q = select(Milestone.id).where(Milestone.source_id == src.id, col(Milestone.deleted_at).is_(None))
    q = q.where(Milestone.name == m.name) if m.name else q.where(Milestone.external_id == m.external_id)
    found = s.exec(q).all()
    what = f"milestone {m.name or m.external_id!r}"
    if not found:
        raise errors.NotFound(f"source {m.source!r} has no {what} (it appears once synced)")
    if len(found) > 1:
        raise errors.Invalid(f"source {m.source!r} has {len(found)} milestones named {m.name!r}: "
                             "name it by external_id or id")
    return row_id(found[0])


def _portfolio_id(s: Session, org_id: int, name: str) -> int:
    pf = s.exec(select(Portfolio).where(Portfolio.org_id == org_id, Portfolio.name == name)).first()
    if pf is None:
        raise errors.NotFound(f"unknown portfolio {name!r}: declare it under portfolios")
    return row_id(pf.id)


def _entry(where: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except errors.DomainError as exc:
        raise ApplyError(where, exc.message.removeprefix("invalid request: ")) from exc


def apply_document(s: Session, org_id: int, doc: ApplyDocument) -> dict[str, int]:
    """Write the document in ``s`` (the caller commits). Raises ``ApplyError``."""
    # People and rates below take the organization-wide lock: take it before the first write, as
    # every writer does, so a sync page of one of these projects cannot wait for us while we wait for it.
    rollups.lock_sources(s.connection(), org_id=org_id)
    if doc.organization is not None:
        body = OrganizationUpdate.model_validate(doc.organization.model_dump(exclude={"name"}, exclude_unset=True))
        _entry("organization", projects.update_organization, s, org_id, body)
    declared: dict[str, int] = {}
    for i, pf in enumerate(doc.portfolios):

        def upsert(pf: ApplyPortfolio = pf) -> int:
            found = s.exec(select(Portfolio).where(Portfolio.org_id == org_id, Portfolio.name == pf.name)).first()
            if found is None:
                return projects.create_portfolio(
                    s, org_id, PortfolioCreate(name=pf.name, description=pf.description)
                ).id
            projects.update_portfolio(s, org_id, row_id(found.id), PortfolioUpdate(description=pf.description))
            return row_id(found.id)

        declared[pf.name] = _entry(f"portfolios[{i}]", upsert)
    members: dict[int, list[int]] = {pid: [] for pid in declared.values()}
    for i, p in enumerate(doc.projects):
        where = f"projects[{i}]"
        row = _entry(where, _project, s, org_id, p)
        settings = ProjectSettings.model_validate(
            p.model_dump(include=set(ProjectSettings.model_fields), exclude_unset=True)
        )
        _entry(where, projects.apply_project_settings, row, settings)
        s.add(row)
        if p.portfolios is not None:
            ids = [_entry(f"{where}.portfolios", _portfolio_id, s, org_id, n) for n in p.portfolios]
            _entry(where, projects.set_project_portfolios, s, org_id, row.id, ids)
            for pid in ids:
                members.setdefault(pid, []).append(row_id(row.id))
    for pid in declared.values():
        projects.set_portfolio_projects(s, org_id, pid, members[pid])
    for i, person in enumerate(doc.people):
        where = f"people[{i}]"
        if person.id is not None:
            pid = _entry(where, people.get_person, s, org_id, person.id).id
        else:
            assert person.identity is not None  # the schema requires id or identity
            ref = IdentityLink(tool=person.identity.tool, external_id=person.identity.external_id)
            pid = _entry(f"{where}.identity", people.find_identity, s, org_id, ref).person_id
        for j, ident in enumerate(person.identities or []):
            link = IdentityLink(tool=ident.tool, external_id=ident.external_id)
            _entry(f"{where}.identities[{j}]", people.link_identity, s, org_id, pid, link)
        update = PersonUpdate.model_validate(person.model_dump(include={"display_name", "email"}, exclude_unset=True))
        _entry(where, people.update_person, s, org_id, pid, update)
        if person.rates is not None:
            _entry(f"{where}.rates", people.replace_rates, s, org_id, pid, person.rates)
    for i, m in enumerate(doc.milestones):
        where = f"milestones[{i}]"
        mid = _entry(where, _milestone_id, s, org_id, m)
        baseline = MilestoneBaseline(due_date=None if m.baseline == "reset" else m.baseline)
        _entry(where, set_baseline, s, org_id, mid, baseline, "taskhub apply")
    s.flush()
    # Budgets, rates and baselines move figures of any project: their events, in this transaction.
    evaluate_projects(s.connection(), org_id, s.exec(select(Project.id).where(Project.org_id == org_id)).all())
    return {
        "organization": int(doc.organization is not None),
        "portfolios": len(doc.portfolios),
        "projects": len(doc.projects),
        "people": len(doc.people),
        "milestones": len(doc.milestones),
    }
