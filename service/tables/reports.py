"""What a PM writes beside the computed figures (issue 23): the risk register and status reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.tables.base import ID, _fk, _json, utcnow


class RiskItem(SQLModel, table=True):
    """One entry of a project's risk register, kept by a PM (API and dashboard)."""

    __tablename__ = "risk_item"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    project_id: int = _fk("project.id")
    title: str = Field(max_length=300)
    description: str | None = Field(default=None, sa_type=sa.Text)
    # The owner: a person of the organization, or a name when the owner is no synced person.
    owner_person_id: int | None = _fk("person.id", nullable=True, ondelete="SET NULL")
    owner_name: str | None = Field(default=None, max_length=300)
    probability: int  # 1 (rare) .. 5 (almost certain)
    impact: int  # 1 (negligible) .. 5 (severe)
    mitigation: str | None = Field(default=None, sa_type=sa.Text)
    status: str = Field(default="open", max_length=20)  # open | mitigating | accepted | closed
    review_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    created_by: str | None = Field(default=None, max_length=200)
    updated_by: str | None = Field(default=None, max_length=200)


class StatusReport(SQLModel, table=True):
    """A weekly status report of a portfolio or a project, stored as a snapshot.

    ``data`` holds every figure the report shows as computed when it was generated, and ``html``
    / ``pdf`` its rendering: a past report never changes when budgets, plans or sources change
    later. ``scope_id`` has no foreign key on purpose (the report outlives a deleted project);
    ``scope_name`` keeps the name it had. A ``draft`` takes a PM's ``commentary`` until it is
    ``published``; after that the row is final.
    """

    __tablename__ = "status_report"
    __table_args__ = (
        sa.UniqueConstraint("org_id", "scope", "scope_id", "week_start", name="uq_status_report_week"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    scope: str = Field(max_length=10)  # portfolio | project
    scope_id: int = Field(sa_type=ID)
    scope_name: str = Field(default="", max_length=300)
    week_start: date  # the Monday of the ISO week reported, in the organization's zone
    status: str = Field(default="draft", max_length=12)  # draft | published
    commentary: str | None = Field(default=None, sa_type=sa.Text)
    data: Any = _json(nullable=False)
    html: str | None = Field(default=None, sa_type=sa.Text)
    pdf: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    generated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    published_by: str | None = Field(default=None, max_length=200)
