"""Compact in-memory records of the simulated Jira site, and its fixed catalogues.

Issues are stored as slotted records (ids, small tuples, epoch milliseconds) and turned
into Jira JSON only when asked (``serialize.py``), so the sandbox can hold 100k issues.

Catalogue values (status categories, issue types, priorities) follow real Jira Cloud
responses: see /work/shared/realdata/jira-rest/airbyte/issues.json and the platform
OpenAPI document (https://developer.atlassian.com/cloud/jira/platform/rest/v3/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "StatusCategory",
    "Status",
    "IssueType",
    "Priority",
    "STATUS_CATEGORIES",
    "STATUSES",
    "STATUS_BY_NAME",
    "TEAM_MANAGED_PROJECT",
    "STATUS_RENAMES",
    "WORKFLOW",
    "BLOCKED",
    "workflow_status_ids",
    "status_name_at",
    "ISSUE_TYPES",
    "ISSUE_TYPE_BY_NAME",
    "PRIORITIES",
    "PRIORITY_BY_NAME",
    "DONE_RESOLUTION",
    "STORY_POINTS_FIELD",
    "SPRINT_FIELD",
    "EPIC_LINK_FIELD",
    "ChangeItem",
    "History",
    "User",
    "Project",
    "Version",
    "Sprint",
    "IssueRec",
    "WorklogRec",
    "Webhook",
    "LinkType",
    "LinkRec",
    "LINK_TYPES",
    "FLAGGED_FIELD",
    "FLAGGED_OPTION",
]

# Site-specific custom field ids. Deliberately NOT the ids most fixtures show
# (customfield_10016 for story points, customfield_10020 for sprint): clients must
# discover them through GET /field, as on a real site.
STORY_POINTS_FIELD = "customfield_10028"
SPRINT_FIELD = "customfield_10021"
EPIC_LINK_FIELD = "customfield_10014"
# Jira Software's "Flagged": a checkbox field whose one option is "Impediment" (captured:
# realdata/jira-rest/jirametrics/testdata/SP-15.json has it as customfield_10021, the id
# this site gives its sprint field).
FLAGGED_FIELD = "customfield_10032"
FLAGGED_OPTION = {"value": "Impediment", "id": "10019"}


class LinkType(NamedTuple):
    id: str
    name: str
    inward: str
    outward: str


# The site's issue link types, as a fresh Jira Cloud site has them (GET /issueLinkType).
LINK_TYPES = {
    t.name: t
    for t in (
        LinkType("10000", "Blocks", "is blocked by", "blocks"),
        LinkType("10001", "Cloners", "is cloned by", "clones"),
        LinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
        LinkType("10003", "Relates", "relates to", "relates to"),
    )
}


class StatusCategory(NamedTuple):
    id: int
    key: str
    name: str
    color: str


STATUS_CATEGORIES = {
    "new": StatusCategory(2, "new", "To Do", "blue-gray"),
    "indeterminate": StatusCategory(4, "indeterminate", "In Progress", "yellow"),
    "done": StatusCategory(3, "done", "Done", "green"),
}


class Status(NamedTuple):
    id: str
    name: str
    category: str  # key into STATUS_CATEGORIES
    project_key: str | None = None  # Cloud team-managed: the project the status belongs to


# Cloud team-managed projects have their own statuses: the same names as the site's
# ("To Do", "In Progress"...) under other ids, with ``scope: {type: PROJECT, project}``
# in /rest/api/3/status. In Cloud mode the generator makes this project team-managed.
# Its "Blocked" is a to-do status (the team parks blocked work), the site's is a work
# status: one name, two categories, so only the id tells a transition's category.
TEAM_MANAGED_PROJECT = "BEACON"
WORKFLOW = ("To Do", "In Progress", "In Review", "Done")
BLOCKED = "Blocked"  # off the main walk: only entered and left again (generator detours)

STATUSES = {
    s.id: s
    for s in (
        Status("10000", "To Do", "new"),
        Status("3", "In Progress", "indeterminate"),
        Status("10001", "In Review", "indeterminate"),
        Status("10002", "Done", "done"),
        Status("10003", BLOCKED, "indeterminate"),
        Status("10020", "To Do", "new", TEAM_MANAGED_PROJECT),
        Status("10021", "In Progress", "indeterminate", TEAM_MANAGED_PROJECT),
        Status("10022", "In Review", "indeterminate", TEAM_MANAGED_PROJECT),
        Status("10023", "Done", "done", TEAM_MANAGED_PROJECT),
        Status("10024", BLOCKED, "new", TEAM_MANAGED_PROJECT),
    )
}
# Site-wide (company-managed) statuses by lower-case name; team-managed ones share names.
STATUS_BY_NAME = {s.name.lower(): s for s in STATUSES.values() if s.project_key is None}

# A status renamed after issues passed through it: changelogs written before the rename
# keep the old name (fromString/toString), the id stays. Status id -> (old name, rename
# time as days before the generator's anchor).
STATUS_RENAMES = {"10001": ("Code Review", 60)}


def workflow_status_ids(project_key: str | None, team_managed: bool) -> tuple[str, ...]:
    """The status ids of a project's workflow, in ``WORKFLOW`` order, then ``BLOCKED``."""
    scope = project_key if team_managed else None
    by_name = {s.name: s.id for s in STATUSES.values() if s.project_key == scope}
    return tuple(by_name[name] for name in (*WORKFLOW, BLOCKED))


def status_name_at(status_id: str, at_ms: int, anchor_ms: int) -> str:
    """The name a status had at ``at_ms`` (``STATUS_RENAMES``), for generated histories."""
    renamed = STATUS_RENAMES.get(status_id)
    if renamed is not None and at_ms < anchor_ms - renamed[1] * 86_400_000:
        return renamed[0]
    return STATUSES[status_id].name


class IssueType(NamedTuple):
    id: str
    name: str
    subtask: bool
    hierarchy_level: int
    icon: str


ISSUE_TYPES = {
    t.id: t
    for t in (
        IssueType("10000", "Epic", False, 1, "epic.svg"),
        IssueType("10001", "Story", False, 0, "story.svg"),
        IssueType("10002", "Task", False, 0, "task.svg"),
        IssueType("10004", "Bug", False, 0, "bug.svg"),
        IssueType("10003", "Sub-task", True, -1, "subtask.svg"),
    )
}
ISSUE_TYPE_BY_NAME = {t.name.lower(): t for t in ISSUE_TYPES.values()}


class Priority(NamedTuple):
    id: str
    name: str
    icon: str


PRIORITIES = {
    p.id: p
    for p in (
        Priority("1", "Highest", "highest.svg"),
        Priority("2", "High", "high.svg"),
        Priority("3", "Medium", "medium.svg"),
        Priority("4", "Low", "low.svg"),
        Priority("5", "Lowest", "lowest.svg"),
    )
}
PRIORITY_BY_NAME = {p.name.lower(): p for p in PRIORITIES.values()}

DONE_RESOLUTION = {
    "id": "10000",
    "name": "Done",
    "description": "Work has been completed on this issue.",
}


class ChangeItem(NamedTuple):
    """One changed field of a changelog history (Jira ``ChangeDetails``)."""

    field: str
    field_id: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None
    fieldtype: str = "jira"


class History(NamedTuple):
    """One changelog entry: who changed what, when (epoch ms)."""

    id: int
    author: str  # User.account_id
    created: int
    items: tuple[ChangeItem, ...]


@dataclass(slots=True)
class User:
    account_id: str  # Cloud id; DC uses name/key instead
    display_name: str
    email: str
    name: str  # DC username
    key: str  # DC user key (JIRAUSER10100)
    time_zone: str = "America/Los_Angeles"
    active: bool = True
    # Jira Cloud's profile visibility: the user's email is in the API's user objects only when
    # the user lets anyone see it (most do not); Data Center always shows it.
    email_visible: bool = False


@dataclass(slots=True)
class Project:
    id: int
    key: str
    name: str
    lead: str  # account id
    next_number: int = 1
    team_managed: bool = False  # Cloud "next-gen": its own statuses (TEAM_MANAGED_PROJECT)


@dataclass(slots=True)
class Version:
    id: int
    project_id: int
    name: str
    description: str = ""
    start_date: str | None = None  # yyyy-mm-dd
    release_date: str | None = None
    released: bool = False
    archived: bool = False


@dataclass(slots=True)
class Sprint:
    id: int
    name: str
    state: str  # future | active | closed
    board_id: int
    goal: str = ""
    start_date: int | None = None  # epoch ms
    end_date: int | None = None
    complete_date: int | None = None


@dataclass(slots=True, eq=False)
class IssueRec:
    """One issue, compactly. Times are epoch milliseconds (UTC); dates are ISO strings."""

    id: int
    key: str
    project_id: int
    type_id: str
    summary: str
    status_id: str
    priority_id: str
    reporter: str
    created: int
    updated: int
    status_changed: int
    description: str | None = None
    assignee: str | None = None
    labels: tuple[str, ...] = ()
    parent_id: int | None = None
    fix_version_ids: tuple[int, ...] = ()
    sprint_ids: tuple[int, ...] = ()
    duedate: str | None = None
    resolved: int | None = None
    original_estimate: int | None = None  # seconds
    remaining_estimate: int | None = None
    time_spent: int = 0
    story_points: float | None = None
    histories: list[History] | None = None
    worklog_ids: list[int] | None = None
    flagged: bool = False
    affects_version_ids: tuple[int, ...] = ()  # "Affects versions" (field ``versions``)
    link_ids: list[int] | None = None  # LinkRec ids, both directions


@dataclass(slots=True)
class LinkRec:
    """An issue link: ``source`` (outward side, "blocks") -> ``destination`` ("is blocked by")."""

    id: int
    type_name: str  # key of LINK_TYPES
    source_id: int
    destination_id: int
    created: int


@dataclass(slots=True, eq=False)
class WorklogRec:
    id: int
    issue_id: int
    author: str
    started: int  # epoch ms
    seconds: int
    created: int
    updated: int
    comment: str = ""
    update_author: str | None = None


@dataclass(slots=True)
class Webhook:
    """An admin webhook (Jira ``/rest/webhooks/1.0/webhook``) registered on the site."""

    id: int
    url: str
    secret: str | None = None
    events: list[str] | None = None  # None = every event
    name: str = "sandbox webhook"
    enabled: bool = True
    extra: dict[str, object] = field(default_factory=dict)
