"""The PM side: projects, portfolios, people and their rates, milestones."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from service.tables.base import ID, MONEY, _fk, _json, utcnow


class Project(SQLModel, table=True):
    __tablename__ = "project"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "external_id", name="uq_project_source_ext"),
        sa.Index("ix_project_org", "org_id"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int | None = _fk("source.id", nullable=True, index=False)
    external_id: str = Field(max_length=100)
    key: str | None = Field(default=None, max_length=100)
    name: str = Field(default="", max_length=300)
    url: str | None = Field(default=None, max_length=500)
    budget_amount: Decimal | None = Field(default=None, sa_type=MONEY)
    budget_currency: str | None = Field(default=None, max_length=3)
    planned_start: date | None = None
    planned_end: date | None = None
    hourly_rate: Decimal | None = Field(default=None, sa_type=MONEY)
    # Shares of BAC in % whose crossing fires budget.threshold_crossed; None: 50, 80, 100 (issue 22).
    budget_thresholds: Any = _json()
    # Per-project overrides of the risk view's thresholds (issue 23; keys and defaults in
    # ``service.views.risk``); None: the defaults.
    risk_thresholds: Any = _json()
    raw: Any = _json()
    deleted_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Portfolio(SQLModel, table=True):
    __tablename__ = "portfolio"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_portfolio_org_name"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_type=sa.Text)


class PortfolioProject(SQLModel, table=True):
    __tablename__ = "portfolio_project"
    portfolio_id: int = Field(
        sa_column=Column(ID, sa.ForeignKey("portfolio.id", ondelete="CASCADE"), primary_key=True)
    )
    project_id: int = Field(
        sa_column=Column(ID, sa.ForeignKey("project.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class Person(SQLModel, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    display_name: str = Field(default="", max_length=300)
    email: str | None = Field(default=None, max_length=300, index=True)


class PersonIdentity(SQLModel, table=True):
    __tablename__ = "person_identity"
    __table_args__ = (sa.UniqueConstraint("org_id", "tool", "external_id", name="uq_identity"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    person_id: int = _fk("person.id")
    tool: str = Field(max_length=10)
    external_id: str = Field(max_length=200)
    display_name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=300)
    # The tool's login name where it gives one (Jira Data Center ``name``, Trello ``username``):
    # evidence for people suggestions (0018).
    username: str | None = Field(default=None, max_length=200)


class PersonLinkRejection(SQLModel, table=True):
    """A PM's "these are not the same person" for two identities in different tools.

    Stored per identity pair (``low_identity_id < high_identity_id``), so a rejected suggestion
    stays rejected when either side later gains identities or is merged elsewhere.
    """

    __tablename__ = "person_link_rejection"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "low_identity_id", "high_identity_id", name="uq_link_rejection"),
        sa.CheckConstraint("low_identity_id < high_identity_id", name="ck_link_rejection_order"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    low_identity_id: int = _fk("person_identity.id", index=False)
    high_identity_id: int = _fk("person_identity.id")
    rejected_at: datetime = Field(default_factory=utcnow)
    rejected_by: str | None = Field(default=None, max_length=200)


class PersonRate(SQLModel, table=True):
    __tablename__ = "person_rate"
    __table_args__ = (sa.UniqueConstraint("person_id", "effective_from", name="uq_rate_from"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    person_id: int = _fk("person.id")
    effective_from: date
    hourly_rate: Decimal = Field(sa_type=MONEY)


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "external_id", name="uq_milestone_source_ext"),
        sa.Index("ix_milestone_org_due", "org_id", "due_date"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    project_id: int | None = _fk("project.id", nullable=True, ondelete="SET NULL")
    external_id: str = Field(max_length=100)
    name: str = Field(default="", max_length=300)
    description: str | None = Field(default=None, sa_type=sa.Text)
    start_date: date | None = None
    due_date: date | None = None
    baseline_due_date: date | None = None
    released: bool = False
    completed_at: datetime | None = None
    archived: bool = False
    remote_updated_at: datetime | None = None
    raw: Any = _json()
    deleted_at: datetime | None = None
    deleted_reason: str | None = Field(default=None, max_length=20)
    synced_at: datetime = Field(default_factory=utcnow)


class MilestoneChange(SQLModel, table=True):
    """Every value a milestone's due date, released flag, completion time and baseline have had,
    with when (METRICS.md, Milestones: slip has a series; ``as_of`` uses the due date of that
    moment). ``origin``: ``first_seen`` (the value when taskhub first recorded the milestone:
    what came before is unknown; Jira versions have no history API), ``sync`` (a change seen on a
    poll or a webhook), ``pm`` (a baseline a PM set or reset). Values are ISO text (dates,
    instants) or ``true``/``false``; NULL is "none"."""

    __tablename__ = "milestone_change"
    __table_args__ = (sa.Index("ix_milestone_change_milestone", "milestone_id", "field", "at"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    milestone_id: int = _fk("milestone.id", index=False)
    field: str = Field(max_length=20)  # due_date | released | completed_at | baseline
    at: datetime
    old_value: str | None = Field(default=None, max_length=40)
    new_value: str | None = Field(default=None, max_length=40)
    origin: str = Field(max_length=20)
    actor: str | None = Field(default=None, max_length=200)  # who set a baseline (a token's name, "taskhub apply")
