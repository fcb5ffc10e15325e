"""Synced work: tasks, their assignees and milestones, worklogs, changes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from service.tables.base import ID, MONEY, _fk, _json, utcnow


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "external_id", name="uq_task_source_ext"),
        sa.Index("ix_task_org_project", "org_id", "project_id"),
        # completed_at too: the completions in a trailing window are a range (migration 0030).
        sa.Index("ix_task_org_category_completed", "org_id", "status_category", "completed_at"),
        sa.Index("ix_task_org_due", "org_id", "due_date"),
        sa.Index("ix_task_org_synced", "org_id", "synced_at"),
        # The quality view reads an organization's bugs by type (migration 0034).
        sa.Index("ix_task_org_type", "org_id", "type"),
        # The few tasks with a direct cost (budget's direct costs read only them): migration 0005.
        sa.Index(
            "ix_task_org_cost",
            "org_id",
            postgresql_where=sa.text("cost IS NOT NULL"),
            sqlite_where=sa.text("cost IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    # Indexed for the project's ON DELETE SET NULL (a source's deletion deletes its projects).
    project_id: int | None = _fk("project.id", nullable=True, ondelete="SET NULL")
    external_id: str = Field(max_length=100)
    key: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, max_length=500)
    title: str = Field(default="", sa_type=sa.Text)
    type: str = Field(default="task", max_length=20)
    status: str | None = Field(default=None, max_length=200)
    status_category: str = Field(default="todo", max_length=20)
    priority: str | None = Field(default=None, max_length=100)
    assignees: Any = _json()  # list of {tool, external_id, display_name}
    labels: Any = _json()
    milestone_refs: Any = _json()
    parent_external_id: str | None = Field(default=None, max_length=100)
    sprint: str | None = Field(default=None, max_length=300)
    remote_created_at: datetime | None = None
    remote_updated_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    due_date: date | None = None
    start_date: date | None = None
    estimate_points: float | None = None
    estimate_seconds: int | None = Field(default=None, sa_type=sa.BigInteger)
    remaining_seconds: int | None = Field(default=None, sa_type=sa.BigInteger)
    spent_seconds: int | None = Field(default=None, sa_type=sa.BigInteger)
    cost: Decimal | None = Field(default=None, sa_type=MONEY)
    checklist_total: int | None = None
    checklist_done: int | None = None
    is_milestone: bool = False
    archived: bool = False
    # Marked as blocked in the tool (issue 23): Jira's Flagged field set, or a Trello card carrying a
    # label the profile names (``trello.blocked_labels``). Its history is ``change`` rows of field
    # ``flagged`` ("true"/"false").
    flagged: bool = Field(default=False, sa_column=Column(sa.Boolean, nullable=False, server_default=sa.false()))
    # The external ids of the versions the task affects (Jira ``versions``, "Affects versions"):
    # escaped defects (issue 23). Trello has none.
    affected_versions: Any = _json()
    # Its latest activity: the latest of its change rows (any field) and of its alive worklogs (at
    # the later of start and last update), kept by the store's writes (``rollups.keep_activity``);
    # NULL: none. The risk view's stale signal reads it as of now instead of looking both up.
    last_activity_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_reason: str | None = Field(default=None, max_length=20)
    raw: Any = _json()
    synced_at: datetime = Field(default_factory=utcnow)


class TaskAssignee(SQLModel, table=True):
    __tablename__ = "task_assignee"
    task_id: int = Field(
        sa_column=Column(ID, sa.ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    )
    person_id: int = Field(
        sa_column=Column(ID, sa.ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class TaskMilestone(SQLModel, table=True):
    __tablename__ = "task_milestone"
    task_id: int = Field(
        sa_column=Column(ID, sa.ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    )
    milestone_id: int = Field(
        sa_column=Column(ID, sa.ForeignKey("milestone.id", ondelete="CASCADE"), primary_key=True, index=True)
    )


class Worklog(SQLModel, table=True):
    __tablename__ = "worklog"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "external_id", name="uq_worklog_source_ext"),
        # Covering for the views' worklog passes (migrations 0007, 0008): SQLite reads the costed
        # pass from it instead of the wider table rows and sums the days in its order, and a
        # week's hours are one range of it.
        sa.Index(
            "ix_worklog_org_day_cover",
            "org_id",
            "started_day",
            "started_at",
            "person_id",
            "seconds",
            "task_project_id",
            "task_id",
            "task_deleted_at",
            "deleted_at",
            "author_rate",
        ),
        # Covers the latest worklog of a task by as_of (the risk view's stale signal; migration 0029).
        sa.Index("ix_worklog_task_cover", "source_id", "task_external_id", "started_at", "remote_updated_at",
                 "deleted_at"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    task_external_id: str = Field(max_length=100)
    external_id: str = Field(max_length=100)
    person_id: int | None = _fk("person.id", nullable=True, ondelete="SET NULL")
    started_at: datetime
    seconds: int = Field(sa_type=sa.BigInteger)
    remote_updated_at: datetime | None = None
    deleted_at: datetime | None = None
    raw: Any = _json()
    synced_at: datetime = Field(default_factory=utcnow)
    # The worklog's task as stored now (``service.store.rollups.pair_worklogs`` writes these, in
    # every write that moves them): its id (NULL while the task is unknown), project and tombstone. The
    # views' worklog passes filter and group by them without joining 100,000 tasks on a text key.
    task_id: int | None = Field(default=None, sa_type=ID)
    task_project_id: int | None = Field(default=None, sa_type=ID)
    task_deleted_at: datetime | None = None
    # The local date of started_at in the organization's zone and the author's hourly rate in
    # effect that day (NULL: none), written by the store (``service.store.rollups``): the budget
    # view sums the worklogs by day and prices them without a conversion or a lookup per row.
    started_day: date | None = None
    author_rate: float | None = None
    # Hours a Trello card already had at its history horizon: one entry, no author (METRICS.md
    # "Worklogs from Trello"); migration 0017.
    carried_in: bool = False


class Change(SQLModel, table=True):
    __tablename__ = "change"
    __table_args__ = (
        # Also serves the per-task history lookups (source_id, task_external_id): migration 0002.
        sa.UniqueConstraint("source_id", "task_external_id", "external_id", name="uq_change_ext"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    task_external_id: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    field: str = Field(max_length=50)
    from_value: str | None = Field(default=None, sa_type=sa.Text)
    to_value: str | None = Field(default=None, sa_type=sa.Text)
    from_category: str | None = Field(default=None, max_length=20)
    to_category: str | None = Field(default=None, max_length=20)
    # The tool's ids of the old and new value (a Jira status id): a changed status catalogue
    # re-categorizes the stored rows by id (migration 0017; NULL on rows stored before it).
    from_id: str | None = Field(default=None, max_length=50)
    to_id: str | None = Field(default=None, max_length=50)
    changed_at: datetime
    origin: str = Field(default="observed", max_length=20)  # changelog | action | observed


class TaskLink(SQLModel, table=True):
    """One issue link as the task holding it lists it (Jira ``issuelinks``, issue 23).

    A link between A and B is two rows, one held by each side (A "blocks" B: A holds the outward
    row, B the inward one), so each task's links are one lookup. ``role`` is what the link means for
    the holder under the profile (``jira.blocking_links``): ``blocked_by`` (the other task blocks
    this one), ``blocks``, or ``other``. ``created_at`` is when the link was made (the changelog's
    "Link" entry, else when taskhub first saw it); ``deleted_at`` when it was seen gone, so a view
    at ``as_of`` keeps the links that existed then. Trello has no links.
    """

    __tablename__ = "task_link"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "task_external_id", "external_id", name="uq_task_link"),
        sa.Index("ix_task_link_org_role", "org_id", "role"),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    task_external_id: str = Field(max_length=100)
    external_id: str = Field(max_length=100)  # the tool's link id
    link_type: str = Field(max_length=100)  # "Blocks"
    direction: str = Field(max_length=10)  # inward | outward (as the holder sees it)
    phrase: str | None = Field(default=None, max_length=100)  # "is blocked by"
    role: str = Field(default="other", max_length=12)  # blocked_by | blocks | other
    other_external_id: str = Field(max_length=100)
    other_key: str | None = Field(default=None, max_length=100)
    # The other issue's status category as the link payload gave it (it may be outside the scope).
    other_status_category: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utcnow)
    deleted_at: datetime | None = None
    synced_at: datetime = Field(default_factory=utcnow)
