"""Jira issue JSON -> common ``Task`` (+ its ``Change`` history).

Reads the ``fields`` block of REST v2/v3 issues (Cloud and Data Center), agile
API issues and webhook issues alike. Field reference:
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get

Vendor quirks handled here:
- ``id`` is the identity; ``key`` changes when an issue moves project.
- The browse URL is built from the site URL: REST ``self`` URLs are moving to
  ``api.atlassian.com/ex/jira/<cloudId>`` (2026) and must not be relied on.
- Users: Cloud ``accountId``; Data Center ``name``/``key``.
- Story points, sprint and epic link are per-site custom fields (see ``fields``).
- Descriptions are wiki text (v2) or ADF (v3) and are not mapped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from mappings.jira.catalogue import StatusBook, StatusCatalogue
from mappings.jira.changelog import (
    FieldPlanView,
    History,
    changes_from_histories,
    first_change_into,
    histories_from_issue,
    last_change_into,
)
from mappings.jira.fields import (
    FALLBACK_EPIC_LINK_FIELDS,
    FALLBACK_FLAGGED_FIELD,
    FALLBACK_SPRINT_FIELDS,
    FALLBACK_STORY_POINTS_FIELDS,
    JiraFieldIds,
    flag_set,
    looks_like_flagged_value,
    looks_like_issue_key,
    looks_like_sprint_value,
    sprint_name,
)
from mappings.jira.status import category_from_key, category_of_status, override_for
from mappings.jira.values import (
    opt_date,
    opt_datetime,
    opt_decimal,
    opt_float,
    opt_int,
    opt_str,
    person_ref,
)
from mappings.model import Change, LinkRef, MilestoneRef, StatusCategory, Task, TaskType, TaskUpsert
from mappings.profile import JiraProfile, MappingProfile

__all__ = [
    "map_issue", "build_issue_upsert", "patch_fields", "is_full_issue", "work_dates", "issue_links",
    "link_role", "FieldPlan",
]


@dataclass(frozen=True)
class FieldPlan:
    """Candidate custom field ids, in order; ``guessed_*`` when they are fallbacks."""

    story_points: tuple[str, ...]
    sprint: tuple[str, ...]
    epic_link: tuple[str, ...]
    cost: str | None
    start_date: tuple[str, ...]
    points_names: tuple[str, ...]
    flagged: tuple[str, ...] = ()
    guessed_points: bool = False
    guessed_sprint: bool = False
    guessed_epic: bool = False
    guessed_flagged: bool = False

    @classmethod
    def build(cls, fields: JiraFieldIds | None, profile: MappingProfile) -> FieldPlan:
        jp = profile.jira
        names = tuple(n.strip().casefold() for n in jp.story_points_names)
        if fields is not None:
            return cls(
                story_points=tuple(fields.story_points),
                sprint=(fields.sprint,) if fields.sprint else (),
                epic_link=(fields.epic_link,) if fields.epic_link else (),
                cost=fields.cost or jp.cost_field,
                start_date=(fields.start_date,) if fields.start_date else (),
                points_names=names,
                flagged=(fields.flagged,) if fields.flagged else (),
            )
        return cls(
            story_points=tuple(jp.story_points_fields) or FALLBACK_STORY_POINTS_FIELDS,
            sprint=(jp.sprint_field,) if jp.sprint_field else FALLBACK_SPRINT_FIELDS,
            epic_link=(jp.epic_link_field,) if jp.epic_link_field else FALLBACK_EPIC_LINK_FIELDS,
            cost=jp.cost_field,
            start_date=(),
            points_names=names,
            flagged=(jp.flagged_field or FALLBACK_FLAGGED_FIELD,),
            guessed_flagged=not jp.flagged_field,
            guessed_points=not jp.story_points_fields,
            guessed_sprint=not jp.sprint_field,
            guessed_epic=not jp.epic_link_field,
        )

    def view(self) -> FieldPlanView:
        return FieldPlanView(
            story_points=self.story_points,
            story_points_names=self.points_names,
            sprint=self.sprint,
            flagged=self.flagged,
        )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_TYPE_NAMES = {
    "story": TaskType.story,
    "user story": TaskType.story,
    "bug": TaskType.bug,
    "defect": TaskType.bug,
    "task": TaskType.task,
    "epic": TaskType.epic,
    "sub-task": TaskType.subtask,
    "subtask": TaskType.subtask,
    "sub task": TaskType.subtask,
}


def _task_type(issuetype: Any, type_map: Mapping[str, str]) -> TaskType:
    itype = _dict(issuetype)
    raw_name = itype.get("name")
    name = raw_name if isinstance(raw_name, str) else ""
    for key, value in type_map.items():
        if key == name or key.strip().casefold() == name.strip().casefold():
            if value in {t.value for t in TaskType}:
                return TaskType(value)
    if itype.get("subtask") is True:
        return TaskType.subtask
    return _TYPE_NAMES.get(name.strip().casefold(), TaskType.other if name else TaskType.task)


def _sprint(f: dict[str, Any], plan: FieldPlan) -> str | None:
    for fid in plan.sprint:
        if fid in f and (not plan.guessed_sprint or looks_like_sprint_value(f[fid])):
            found = sprint_name(f[fid])
            if found:
                return found
    agile = sprint_name(f.get("sprint"))  # Agile API issues carry a "sprint" object
    if agile:
        return agile
    if plan.guessed_sprint or not plan.sprint:
        # Sprint field id unknown: a value shaped like sprints can only be the sprint field.
        for key, value in f.items():
            if key.startswith("customfield_") and looks_like_sprint_value(value):
                return sprint_name(value)
    return None


def _parent(f: dict[str, Any], plan: FieldPlan) -> str | None:
    parent = opt_str(_dict(f.get("parent")).get("id"))
    if parent:
        return parent
    epic = opt_str(_dict(f.get("epic")).get("id"))  # Agile API
    if epic:
        return epic
    for fid in plan.epic_link:
        value = f.get(fid)
        # The deprecated Epic Link field holds the epic's *key*, not its id.
        if isinstance(value, str) and value.strip():
            if not plan.guessed_epic or looks_like_issue_key(value):
                return value.strip()
    return None


def _points(f: dict[str, Any], plan: FieldPlan) -> float | None:
    for fid in plan.story_points:
        value = f.get(fid)
        if plan.guessed_points and not isinstance(value, (int, float)):
            continue
        points = opt_float(value)
        if points is not None:
            return points
    return None


def _seconds(f: dict[str, Any], top: str, tracking: str) -> int | None:
    value = opt_int(f.get(top))
    return value if value is not None else opt_int(_dict(f.get("timetracking")).get(tracking))


def _milestones(value: Any) -> list[MilestoneRef]:
    out: list[MilestoneRef] = []
    for version in value if isinstance(value, list) else []:
        ident = opt_str(_dict(version).get("id"))
        if ident:
            name = version.get("name")
            out.append(
                MilestoneRef(external_id=ident, name=name if isinstance(name, str) else None)
            )
    return out


def _flagged(f: dict[str, Any], plan: FieldPlan) -> bool:
    for fid in plan.flagged:
        value = f.get(fid)
        if plan.guessed_flagged and not looks_like_flagged_value(value):
            continue
        if flag_set(value):
            return True
    return False


def _affected_versions(value: Any) -> list[str]:
    return [ref.external_id for ref in _milestones(value)]


def link_role(
    jp: JiraProfile, link_type: str, inward: str | None, outward: str | None, direction: str
) -> str:
    """What a link means for the issue holding it under ``jira.blocking_links`` (see its
    description): a blocking link's inward holder is ``blocked_by``, its outward one ``blocks``."""
    wanted = {n.strip().casefold() for n in jp.blocking_links}
    names = {x.strip().casefold() for x in (link_type, inward, outward) if isinstance(x, str)}
    if not wanted & names:
        return "other"
    return "blocked_by" if direction == "inward" else "blocks"


def issue_links(value: Any, profile: MappingProfile) -> list[LinkRef]:
    """``fields.issuelinks`` as the issue holding them sees them. An entry with ``inwardIssue``
    is read from the inward side (the holder "is blocked by" the other: ``type.inward``), one
    with ``outwardIssue`` from the outward side (``type.outward``). Entries without an id, a
    type name or the other issue's id are skipped."""
    out: list[LinkRef] = []
    for entry in value if isinstance(value, list) else []:
        e = _dict(entry)
        ident, ltype = opt_str(e.get("id")), _dict(e.get("type"))
        name = ltype.get("name")
        if "inwardIssue" in e:
            direction, other = "inward", _dict(e.get("inwardIssue"))
        else:
            direction, other = "outward", _dict(e.get("outwardIssue"))
        other_id = opt_str(other.get("id"))
        if ident is None or not isinstance(name, str) or not name or other_id is None:
            continue
        inward, outward = ltype.get("inward"), ltype.get("outward")
        phrase = inward if direction == "inward" else outward
        status = _dict(_dict(other.get("fields")).get("status"))
        name_of_status = status.get("name")
        category = override_for(
            name_of_status if isinstance(name_of_status, str) else None, profile.jira.status_overrides
        ) or category_from_key(status.get("statusCategory"))
        out.append(
            LinkRef(
                external_id=ident,
                link_type=name[:100],
                direction=direction,
                phrase=phrase[:100] if isinstance(phrase, str) and phrase else None,
                role=link_role(profile.jira, name, inward, outward, direction),
                other_external_id=other_id,
                other_key=opt_str(other.get("key")),
                other_status_category=category,
            )
        )
    return out


def _first_date(f: dict[str, Any], ids: Sequence[str]) -> date | None:
    for fid in ids:
        found = opt_date(f.get(fid))
        if found:
            return found
    return None


def work_dates(
    category: StatusCategory, fields: Mapping[str, Any], changes: list[Change]
) -> tuple[datetime | None, datetime | None]:
    """When work on an issue started and when it was completed: ``(started, completed)``.

    ``category`` is the issue's current status category, ``fields`` its ``fields`` block,
    ``changes`` its changes oldest first (as ``changes_from_histories`` gives them, or as
    stored). Started: the first transition categorized (by status id through the catalogue,
    else by name) as leading into an in-progress status and, for an issue in progress now,
    the time it entered that category (Cloud's ``statuscategorychangedate``); the earliest
    wins. Completed (a done issue only): its resolution date, else the last transition into
    done, else when it entered its category, else its last update.
    """
    f = _dict(fields)
    category_since = opt_datetime(f.get("statuscategorychangedate"))
    evidence = [first_change_into(changes, StatusCategory.in_progress)]
    if category is StatusCategory.in_progress:
        evidence.append(category_since)
    started = min((t for t in evidence if t is not None), default=None)
    completed = None
    if category is StatusCategory.done:
        completed = (
            opt_datetime(f.get("resolutiondate"))
            or last_change_into(changes, StatusCategory.done)
            or category_since
            or opt_datetime(f.get("updated"))
        )
    return started, completed


def build_issue_upsert(
    issue: dict[str, Any],
    *,
    site_url: str,
    profile: MappingProfile,
    fields: JiraFieldIds | None = None,
    source_id: int | None = None,
    catalogue: StatusCatalogue | None = None,
    extra_histories: Sequence[History] = (),
    default_change_time: datetime | None = None,
) -> TaskUpsert:
    """``map_issue`` plus histories from outside the issue (a webhook's changelog, the
    pages of a bulk changelog fetch for an issue whose embedded changelog was truncated)."""
    external_id = opt_str(issue.get("id")) if isinstance(issue, dict) else None
    if external_id is None:
        raise ValueError("Jira issue has no 'id'; cannot identify the task")
    f = _dict(issue.get("fields"))
    plan = FieldPlan.build(fields, profile)
    overrides = profile.jira.status_overrides

    status = _dict(f.get("status"))
    category = category_of_status(status, overrides)
    project = _dict(f.get("project"))
    book = StatusBook(overrides, catalogue, project_id=opt_str(project.get("id")))
    if status:
        book.learn(status.get("id"), status.get("name"), category)

    histories = [*histories_from_issue(issue), *extra_histories]
    changes = changes_from_histories(
        external_id, histories, book=book, plan=plan.view(), default_time=default_change_time
    )

    key = opt_str(issue.get("key"))
    assignee = person_ref(f.get("assignee"))
    updated = opt_datetime(f.get("updated"))

    started, completed = work_dates(category, f, changes)

    name = status.get("name")
    priority = _dict(f.get("priority")).get("name")
    labels = f.get("labels")
    summary = f.get("summary")
    base = site_url.rstrip("/") if isinstance(site_url, str) else ""
    task = Task(
        source_id=source_id,
        external_id=external_id,
        key=key,
        url=f"{base}/browse/{key}" if key and base else None,
        project_external_id=opt_str(project.get("id")),
        project_key=opt_str(project.get("key")),
        title=summary if isinstance(summary, str) else "",
        type=_task_type(f.get("issuetype"), profile.jira.type_map),
        status=name if isinstance(name, str) else None,
        status_category=category,
        priority=priority if isinstance(priority, str) else None,
        assignees=[assignee] if assignee else [],
        labels=[x for x in labels if isinstance(x, str)] if isinstance(labels, list) else [],
        parent=_parent(f, plan),
        milestones=_milestones(f.get("fixVersions")),
        sprint=_sprint(f, plan),
        created_at=opt_datetime(f.get("created")),
        updated_at=updated,
        started_at=started,
        completed_at=completed,
        due_date=opt_date(f.get("duedate")),
        start_date=_first_date(f, plan.start_date),
        estimate_points=_points(f, plan),
        estimate_seconds=_seconds(f, "timeoriginalestimate", "originalEstimateSeconds"),
        remaining_seconds=_seconds(f, "timeestimate", "remainingEstimateSeconds"),
        spent_seconds=_seconds(f, "timespent", "timeSpentSeconds"),
        cost=opt_decimal(f.get(plan.cost)) if plan.cost else None,
        archived=False,
        deleted=False,
        flagged=_flagged(f, plan),
        affected_versions=_affected_versions(f.get("versions")),
        # No "issuelinks" in the payload (a narrow fields= fetch, a summary form): keep the stored.
        links=issue_links(f.get("issuelinks"), profile) if "issuelinks" in f else None,
    )
    return TaskUpsert(task=task, changes=changes, raw=issue)


def map_issue(
    issue: dict[str, Any],
    *,
    site_url: str,
    profile: MappingProfile,
    fields: JiraFieldIds | None = None,
    source_id: int | None = None,
    catalogue: StatusCatalogue | None = None,
) -> TaskUpsert:
    """Map one Jira issue (REST, agile or webhook shape) to a ``TaskUpsert``.

    ``fields``: the site's custom field ids (``discover_fields``); ``None`` uses
    the documented fallback ids. ``catalogue``: the site's statuses
    (``status_catalogue`` of ``GET /rest/api/N/status``) so that every transition is
    categorized by status id; without it only the current status's id and the names
    are known. Raises ``ValueError`` only when the issue has no ``id``.
    """
    return build_issue_upsert(
        issue,
        site_url=site_url,
        profile=profile,
        fields=fields,
        source_id=source_id,
        catalogue=catalogue,
    )


def is_full_issue(issue: Any) -> bool:
    """Full issue representations carry ``fields.updated``; summary forms do not."""
    return isinstance(issue, dict) and "updated" in _dict(issue.get("fields"))


# Task field -> the Jira fields it is read from (for partial issues).
_PATCH_SOURCES: dict[str, tuple[str, ...]] = {
    "project_external_id": ("project",),
    "project_key": ("project",),
    "title": ("summary",),
    "type": ("issuetype",),
    "status": ("status",),
    "status_category": ("status",),
    "priority": ("priority",),
    "assignees": ("assignee",),
    "labels": ("labels",),
    "milestones": ("fixVersions",),
    "affected_versions": ("versions",),
    "links": ("issuelinks",),
    "created_at": ("created",),
    "due_date": ("duedate",),
    "estimate_seconds": ("timeoriginalestimate", "timetracking"),
    "remaining_seconds": ("timeestimate", "timetracking"),
    "spent_seconds": ("timespent", "timetracking"),
}


def patch_fields(
    task: Task, issue: dict[str, Any], flagged_fields: Sequence[str] = ()
) -> dict[str, Any]:
    """The task fields an issue in *summary form* really carries (for a ``TaskPatch``).
    ``flagged_fields``: the site's Flagged field ids (``FieldPlan.flagged``)."""
    present = set(_dict(issue.get("fields")))
    out: dict[str, Any] = {}
    if present.intersection(flagged_fields):
        out["flagged"] = task.flagged
    if task.key:
        out["key"] = task.key
        out["url"] = task.url
    for name, sources in _PATCH_SOURCES.items():
        if present.intersection(sources):
            out[name] = getattr(task, name)
    return out
