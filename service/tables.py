"""SQLModel tables. Never returned from the API as-is (see service/schemas.py).

Every synced row keys on ``(source_id, external_id)`` and carries ``org_id``;
``remote_updated_at`` drives the monotonic guard; ``raw`` keeps the vendor JSON.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field, SQLModel

__all__ = [
    "Organization",
    "ApiToken",
    "DashboardSession",
    "Source",
    "Project",
    "Portfolio",
    "PortfolioProject",
    "Person",
    "PersonIdentity",
    "PersonRate",
    "Milestone",
    "Task",
    "TaskAssignee",
    "TaskRollup",
    "TaskDayRollup",
    "MilestoneRollup",
    "WorkloadRollup",
    "TaskMilestone",
    "Worklog",
    "Change",
    "InboxEvent",
    "SyncState",
    "SyncRun",
    "stored_id",
    "table",
    "utcnow",
]


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
MONEY = sa.Numeric(18, 4)
# Every key and every column holding one: 64-bit on PostgreSQL (the tables that grow without
# bound pass 2^31 rows in a long-lived deployment, and one range for every id lets the API bound
# all id parameters alike: ``service.ids``; migration 0012), SQLite's INTEGER rowid as before.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def table(model: type[SQLModel]) -> sa.Table:
    """The Core table of a SQLModel table class, typed: SQLModel sets ``__table__`` on the class
    at run time but declares no such attribute, so ``Model.__table__`` is an error for mypy."""
    t = getattr(model, "__table__", None)
    if not isinstance(t, sa.Table):
        raise TypeError(f"{model.__name__} is not a SQLModel table class")
    return t


class _Row(Protocol):
    @property
    def id(self) -> int | None: ...


def stored_id(row: _Row) -> int:
    """The id of a row known to be stored (loaded from the database, or added and flushed).

    The models declare ``id: int | None`` because a new, unsaved object has none yet; code that
    works on a stored row narrows it here once instead of at every use."""
    if row.id is None:
        raise ValueError(f"{type(row).__name__} has no id: it is not stored")
    return row.id


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSONType, nullable=nullable))


def _fk(target: str, *, index: bool = True, nullable: bool = False, ondelete: str = "CASCADE") -> Any:
    return Field(
        default=None,
        sa_column=Column(ID, sa.ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index),
    )


class Organization(SQLModel, table=True):
    __tablename__ = "organization"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    name: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    timezone: str = Field(default="UTC", max_length=64)
    currency: str = Field(default="USD", max_length=3)
    default_hourly_rate: Decimal | None = Field(default=None, sa_type=MONEY)
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    name: str = Field(default="", max_length=200)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    scope: str = Field(max_length=10)  # read | write | admin
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # NULL: never (migration 0013)


class DashboardSession(SQLModel, table=True):
    """A dashboard sign-in (migration 0013). The cookie is sealed and carries a random secret;
    the row is keyed by its SHA-256, so signing out deletes the row and the cookie, even if
    kept, matches nothing. Every page checks it with one primary-key lookup joined to its
    token (revoked or expired tokens end their sessions too)."""

    __tablename__ = "dashboard_session"
    id: str = Field(primary_key=True, max_length=64)
    token_id: int = _fk("api_token.id")
    org_id: int = _fk("organization.id", index=False)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(index=True)


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_source_org_name"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    kind: str = Field(max_length=10)  # jira | trello
    name: str = Field(max_length=200)
    base_url: str | None = Field(default=None, max_length=500)
    deployment: str | None = Field(default=None, max_length=20)  # cloud | datacenter
    credentials_enc: str | None = Field(default=None, sa_type=sa.Text)
    webhook_secret_enc: str | None = Field(default=None, sa_type=sa.Text)
    # The secret a rotation replaced, still accepted until ``webhook_secret_prev_until``
    # (migration 0013): senders configured with it keep working through the overlap.
    webhook_secret_prev_enc: str | None = Field(default=None, sa_type=sa.Text)
    webhook_secret_prev_until: datetime | None = None
    scope: Any = _json()
    mapping_profile: Any = _json()
    poll_interval_seconds: int = Field(default=300)
    enabled: bool = True
    status: str = Field(default="ok", max_length=20)  # ok | degraded
    status_reason: str | None = Field(default=None, sa_type=sa.Text)
    site_info: Any = _json()  # discovered: time zone, field ids, deployment
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


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


class Task(SQLModel, table=True):
    __tablename__ = "task"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "external_id", name="uq_task_source_ext"),
        sa.Index("ix_task_org_project", "org_id", "project_id"),
        sa.Index("ix_task_org_category", "org_id", "status_category"),
        sa.Index("ix_task_org_due", "org_id", "due_date"),
        sa.Index("ix_task_org_synced", "org_id", "synced_at"),
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
    deleted_at: datetime | None = None
    deleted_reason: str | None = Field(default=None, max_length=20)
    raw: Any = _json()
    synced_at: datetime = Field(default_factory=utcnow)


class TaskRollup(SQLModel, table=True):
    """Alive tasks summed per (organization, project, source, status category, class): kept by
    the store in the same transaction as the rows (``service.store.rollups``).

    ``project_id`` 0: no project. ``cls``: 0 never counted (epic, milestone marker), 1 counted,
    2 archived (counted where the source keeps archived cards as done). ``created_hi``: the
    latest creation time ever added to the row (an upper bound; it never decreases). No foreign
    keys: the rows follow the tasks, deleted when their count reaches zero."""

    __tablename__ = "task_rollup"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite: one b-tree, keyed by the primary key
    org_id: int = Field(primary_key=True, sa_type=ID)
    project_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    status_category: str = Field(primary_key=True, max_length=20)
    cls: int = Field(primary_key=True)
    n: int = 0
    pts_n: int = 0
    pts: float = 0.0
    sec_n: int = 0
    sec: int = Field(default=0, sa_type=sa.BigInteger)
    time_n: int = 0
    spent: int = Field(default=0, sa_type=sa.BigInteger)
    remaining: int = Field(default=0, sa_type=sa.BigInteger)
    completed_n: int = 0  # tasks with a completion time (of done ones: flow's "completed known")
    created_hi: datetime | None = None


class TaskDayRollup(SQLModel, table=True):
    """Counted tasks (``cls`` 1 and 2 of ``TaskRollup``) per UTC hour of creation (``kind`` "c")
    and of completion for done tasks (``kind`` "d"); ``known`` false: no such time (the bucket
    is then the epoch). Hours, not days: the organization's zone is applied when read, so a
    zone change needs no rebuild. Kept by the store (``service.store.rollups``)."""

    __tablename__ = "task_day_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    org_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    cls: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=1)
    known: bool = Field(primary_key=True)
    bucket: datetime = Field(primary_key=True)
    n: int = 0


class MilestoneRollup(SQLModel, table=True):
    """Alive tasks linked to each milestone, per class (see ``TaskRollup``), and the done ones:
    kept by the store (``service.store.rollups``)."""

    __tablename__ = "milestone_rollup"
    __table_args__ = (sa.Index("ix_milestone_rollup_org", "org_id"), {"sqlite_with_rowid": False})
    milestone_id: int = Field(primary_key=True, sa_type=ID)
    cls: int = Field(primary_key=True)
    org_id: int = Field(sa_type=ID)
    source_id: int = Field(sa_type=ID)
    tasks: int = 0
    done: int = 0


class WorkloadRollup(SQLModel, table=True):
    """Open tasks (alive, not done, not epics nor milestone markers) summed per (organization,
    project, source, due date, class, assignee, share count): kept by the store
    (``service.store.rollups``). A task is in ``shares`` rows, one per
    assignee, or in one row of person 0 (``shares`` 1) when it has none. ``project_id`` 0: no
    project; ``due_date`` 9999-12-31: no due date; ``cls`` as in ``TaskRollup`` (1 counted, 2
    archived). No foreign keys: the rows follow the tasks, deleted when their count reaches zero."""

    __tablename__ = "workload_rollup"
    __table_args__ = {"sqlite_with_rowid": False}
    org_id: int = Field(primary_key=True, sa_type=ID)
    project_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    due_date: date = Field(primary_key=True)
    cls: int = Field(primary_key=True)
    person_id: int = Field(primary_key=True, sa_type=ID)
    shares: int = Field(primary_key=True)
    n: int = 0
    points: float = 0.0
    seconds: int = Field(default=0, sa_type=sa.BigInteger)


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
        sa.Index("ix_worklog_task", "source_id", "task_external_id"),
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


class WorklogRollup(SQLModel, table=True):
    """Alive worklogs of stored, alive tasks summed per (organization, local day, project,
    source): kept by the store in the same transaction as the rows
    (``service.store.rollups``). ``project_id`` 0: the task has no project. ``rated``:
    Σ seconds × the author's rate that day, over the worklogs that have one; ``unrated``: Σ
    seconds of the others (priced when read, at the project's or the organization's rate).
    ``started_hi``: the latest start ever added to the row (an upper bound; it never
    decreases). No foreign keys: the rows follow the worklogs, deleted when their count reaches
    zero."""

    __tablename__ = "worklog_rollup"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite: one b-tree, in order of days
    org_id: int = Field(primary_key=True, sa_type=ID)
    day: date = Field(primary_key=True)
    project_id: int = Field(primary_key=True, sa_type=ID)
    source_id: int = Field(primary_key=True, sa_type=ID)
    n: int = 0
    seconds: int = Field(default=0, sa_type=sa.BigInteger)
    rated: float = 0.0
    unrated: int = Field(default=0, sa_type=sa.BigInteger)
    started_hi: datetime | None = None


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
    changed_at: datetime
    origin: str = Field(default="observed", max_length=20)  # changelog | action | observed


class InboxEvent(SQLModel, table=True):
    __tablename__ = "inbox_event"
    __table_args__ = (
        sa.UniqueConstraint("source_id", "dedupe_key", name="uq_inbox_dedupe"),
        sa.Index("ix_inbox_claim", "status", "next_attempt_at"),
        # Replay guard (migration 0013): a byte-identical body already received for the source
        # is a duplicate whatever its (unsigned) delivery identifier says.
        # Led by the body's own event time so inserts stay at the index's end (service.ingest.REPLAY);
        # partial: only deliveries whose dedupe key is an unsigned header carry a digest.
        sa.Index("uq_inbox_body", "source_id", "body_ts", "body_digest", unique=True,
                 sqlite_where=sa.text("body_digest IS NOT NULL"),
                 postgresql_where=sa.text("body_digest IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    kind: str = Field(max_length=10)
    dedupe_key: str = Field(max_length=200)
    received_at: datetime = Field(default_factory=utcnow)
    headers: Any = _json()
    body: bytes = Field(sa_type=sa.LargeBinary)
    # The body's event time (ms; 0: none) and the first 64 bits of its SHA-256
    # (``service.ingest.REPLAY``, ``body_digest``). NULL digest: no guard needed (the dedupe key
    # is from the signed body), received before 0013, or a digest collision (the bytes differ).
    body_ts: int | None = Field(default=None, sa_type=sa.BigInteger)
    body_digest: int | None = Field(default=None, sa_type=sa.BigInteger)
    # pending | processing | done | ignored | failed | parked
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    reason: str | None = Field(default=None, sa_type=sa.Text)
    error: str | None = Field(default=None, sa_type=sa.Text)
    processed_at: datetime | None = None


class SyncState(SQLModel, table=True):
    __tablename__ = "sync_state"
    __table_args__ = (sa.UniqueConstraint("source_id", "stream", name="uq_sync_state"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    source_id: int = _fk("source.id", index=False)
    stream: str = Field(max_length=50)
    cursor: str | None = Field(default=None, sa_type=sa.Text)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    last_run_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_run"
    __table_args__ = (sa.Index("ix_sync_run_source", "source_id", "started_at"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    mode: str = Field(max_length=20)  # backfill | incremental | census | webhook
    status: str = Field(default="running", max_length=20)  # running | ok | failed
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    api_calls: int = 0
    items_seen: int = 0
    items_changed: int = 0
    errors: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)
    duration_ms: int | None = None
