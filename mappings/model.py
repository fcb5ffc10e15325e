"""The common task model: tool-agnostic pydantic models, no vendor words.

Mapping functions (``mappings.jira``, ``mappings.trello``) turn vendor JSON into
these; the store turns them into rows. Timestamps are tz-aware UTC; dates that
are dates (due dates, release dates) stay ``date``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "StatusCategory",
    "CategoryRule",
    "TaskType",
    "DeletedReason",
    "PersonRef",
    "MilestoneRef",
    "LinkRef",
    "Task",
    "Project",
    "Portfolio",
    "Milestone",
    "Person",
    "Worklog",
    "Change",
    "Money",
    "TaskUpsert",
    "TaskPatch",
    "TaskDelete",
    "WorklogUpsert",
    "WorklogDelete",
    "MilestoneUpsert",
    "MilestoneDelete",
    "LinkUpsert",
    "LinkDelete",
    "Ignored",
    "Effect",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class StatusCategory(StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    done = "done"


class CategoryRule(StrEnum):
    """What gave a change its category: the tool's catalogue by id (Jira status id ->
    ``statusCategory``), the task's current status (the tool said so on the task itself),
    a profile rule on the name (Jira ``status_overrides``, Trello list rules), or the name
    of a known status (the id was missing or unknown)."""

    id = "id"
    current = "current"
    profile = "profile"
    name = "name"


class TaskType(StrEnum):
    story = "story"
    bug = "bug"
    task = "task"
    epic = "epic"
    subtask = "subtask"
    card = "card"
    other = "other"


class DeletedReason(StrEnum):
    deleted = "deleted"
    archived = "archived"
    out_of_scope = "out_of_scope"


class PersonRef(_Model):
    """One identity of a person in one tool (Jira accountId / DC name, Trello member id).

    Immutable: mappers hand out one shared instance per distinct user (a page names the same
    few people hundreds of times)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: Literal["jira", "trello"]
    external_id: str
    display_name: str | None = None
    email: str | None = None
    # The login name where the tool gives one (Jira Data Center ``name``, Trello ``username``):
    # evidence for people suggestions across tools (``service.portfolio.suggestions``).
    username: str | None = None


class MilestoneRef(_Model):
    external_id: str
    name: str | None = None


class LinkRef(_Model):
    """One issue link as the task holding it sees it (Jira ``issuelinks``); Trello has none.

    ``role`` is what the link means for the holder under the profile (``jira.blocking_links``):
    ``blocked_by`` (the other task blocks this one), ``blocks`` or ``other``."""

    external_id: str  # the tool's link id
    link_type: str  # "Blocks"
    direction: Literal["inward", "outward"]
    phrase: str | None = None  # "is blocked by"
    role: Literal["blocked_by", "blocks", "other"] = "other"
    other_external_id: str
    other_key: str | None = None
    other_status_category: StatusCategory | None = None


class Money(_Model):
    amount: Decimal
    currency: str = Field(min_length=3, max_length=3)


class Task(_Model):
    source_id: int | None = None
    external_id: str
    key: str | None = None
    url: str | None = None
    project_external_id: str | None = None
    project_key: str | None = None
    title: str = ""
    type: TaskType = TaskType.task
    status: str | None = None
    status_category: StatusCategory = StatusCategory.todo
    priority: str | None = None
    assignees: list[PersonRef] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    parent: str | None = None  # external id of the parent / epic
    milestones: list[MilestoneRef] = Field(default_factory=list)
    sprint: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None  # remote version; drives the monotonic guard
    started_at: datetime | None = None
    completed_at: datetime | None = None
    due_date: date | None = None
    start_date: date | None = None
    estimate_points: float | None = None
    estimate_seconds: int | None = None
    remaining_seconds: int | None = None
    spent_seconds: int | None = None
    cost: Decimal | None = None
    checklist_total: int | None = None
    checklist_done: int | None = None
    is_milestone: bool = False
    archived: bool = False
    deleted: bool = False
    # Marked blocked in the tool: Jira's Flagged field, a Trello label the profile names.
    flagged: bool = False
    # Jira ``versions`` ("Affects versions"): the external ids of the versions the task affects.
    affected_versions: list[str] = Field(default_factory=list)
    # The task's issue links; None: the payload does not carry them (the stored links stay).
    links: list[LinkRef] | None = None


class Project(_Model):
    source_id: int | None = None
    external_id: str
    key: str | None = None
    name: str = ""
    url: str | None = None
    budget: Money | None = None
    planned_start: date | None = None
    planned_end: date | None = None
    hourly_rate: Decimal | None = None


class Portfolio(_Model):
    name: str
    project_ids: list[int] = Field(default_factory=list)


class Milestone(_Model):
    source_id: int | None = None
    external_id: str
    project_external_id: str | None = None
    name: str = ""
    description: str | None = None
    start_date: date | None = None
    due_date: date | None = None
    baseline_due_date: date | None = None  # set by the store: the first due date seen
    released: bool = False
    completed_at: datetime | None = None
    archived: bool = False
    updated_at: datetime | None = None


class Person(_Model):
    id: int | None = None
    display_name: str
    email: str | None = None
    identities: list[PersonRef] = Field(default_factory=list)


class Worklog(_Model):
    """Time spent on a task: a Jira worklog, or a change of a Trello card's hours field.

    ``seconds`` is negative only for a correction (a Trello hours field lowered).
    ``carried_in``: the hours a Trello card already had at the history horizon, one
    entry at the horizon with no author (METRICS.md "Worklogs from Trello")."""

    source_id: int | None = None
    external_id: str
    task_external_id: str
    author: PersonRef | None = None
    started_at: datetime
    seconds: int
    carried_in: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Change(_Model):
    """One tracked field change of a task, from a changelog, an action or an observed diff."""

    task_external_id: str
    external_id: str | None = None  # changelog id + item index / action id: dedupe key
    field: str  # status | assignee | due_date | estimate | list | closed | ...
    from_value: str | None = None
    to_value: str | None = None
    from_category: StatusCategory | None = None
    to_category: StatusCategory | None = None
    # The tool's id of the old/new value where it has one (Jira status id in a changelog's
    # from/to): categories can be recomputed from it when the tool's catalogue changes.
    from_id: str | None = None
    to_id: str | None = None
    from_rule: CategoryRule | None = None  # what categorized from_category (None: unknown)
    to_rule: CategoryRule | None = None
    changed_at: datetime
    author: PersonRef | None = None


# --- effects: what a vendor payload means for the store -------------------------------


class TaskUpsert(_Model):
    effect: Literal["task_upsert"] = "task_upsert"
    task: Task
    changes: list[Change] = Field(default_factory=list)
    raw: dict[str, Any] | None = Field(default=None, exclude=True)


class TaskPatch(_Model):
    """A partial update known from an event that carries only part of the task."""

    effect: Literal["task_patch"] = "task_patch"
    external_id: str
    fields: dict[str, Any]
    changes: list[Change] = Field(default_factory=list)
    updated_at: datetime | None = None


class TaskDelete(_Model):
    effect: Literal["task_delete"] = "task_delete"
    external_id: str
    reason: DeletedReason = DeletedReason.deleted
    at: datetime | None = None
    # What the event tells of how the task left (a Trello card moved to a board the source does
    # not mirror: its ``project`` change), stored with the tombstone.
    changes: list[Change] = Field(default_factory=list)


class WorklogUpsert(_Model):
    effect: Literal["worklog_upsert"] = "worklog_upsert"
    worklog: Worklog
    complete: bool = True  # False: the payload lacked fields; fetch the worklog


class WorklogDelete(_Model):
    effect: Literal["worklog_delete"] = "worklog_delete"
    external_id: str
    task_external_id: str | None = None


class MilestoneUpsert(_Model):
    effect: Literal["milestone_upsert"] = "milestone_upsert"
    milestone: Milestone
    raw: dict[str, Any] | None = Field(default=None, exclude=True)


class MilestoneDelete(_Model):
    effect: Literal["milestone_delete"] = "milestone_delete"
    external_id: str


class LinkUpsert(_Model):
    """One side of an issue link an event announced (Jira ``issuelink_created``): the row
    ``task_external_id`` holds. ``at``: when the link was made."""

    effect: Literal["link_upsert"] = "link_upsert"
    task_external_id: str
    link: LinkRef
    at: datetime | None = None


class LinkDelete(_Model):
    """An issue link gone (Jira ``issuelink_deleted``): both sides' rows of the link id."""

    effect: Literal["link_delete"] = "link_delete"
    external_id: str
    at: datetime | None = None


class Ignored(_Model):
    effect: Literal["ignored"] = "ignored"
    reason: str


Effect = Annotated[
    TaskUpsert
    | TaskPatch
    | TaskDelete
    | WorklogUpsert
    | WorklogDelete
    | MilestoneUpsert
    | MilestoneDelete
    | LinkUpsert
    | LinkDelete
    | Ignored,
    Field(discriminator="effect"),
]
