"""Issue fields: the field table (id -> name, navigable, renderer), ``fields=`` selection,
the issue JSON (``IssueBean``) and the ``GET /field`` catalogue with site-specific ids.

Story points, sprint and epic link are custom fields whose ids differ per site
(``records.STORY_POINTS_FIELD`` ...); clients discover them through ``/field``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sandbox.jira.records import (
    DONE_RESOLUTION,
    EPIC_LINK_FIELD,
    FLAGGED_FIELD,
    FLAGGED_OPTION,
    ISSUE_TYPES,
    LINK_TYPES,
    SPRINT_FIELD,
    STORY_POINTS_FIELD,
    IssueRec,
)
from sandbox.jira.serialize import (
    ISSUE_EXPAND,
    Ctx,
    fmt_dt,
    fmt_duration,
    render_history,
    render_issuetype,
    render_priority,
    render_project,
    render_sprint,
    render_status,
    render_user,
    render_version,
    render_worklog,
    rich_text,
    tz_of,
)

__all__ = ["FIELDS", "FieldSelection", "render_issue", "field_catalog"]


def _parent(ctx: Ctx, parent: IssueRec) -> dict[str, Any]:
    return {
        "id": str(parent.id),
        "key": parent.key,
        "self": ctx.rest(f"issue/{parent.id}"),
        "fields": {
            "summary": parent.summary,
            "status": render_status(ctx, parent.status_id),
            "priority": render_priority(ctx, parent.priority_id),
            "issuetype": render_issuetype(ctx, parent.type_id),
        },
    }


def _timetracking(issue: IssueRec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if issue.original_estimate is not None:
        out["originalEstimate"] = fmt_duration(issue.original_estimate)
    if issue.remaining_estimate is not None:
        out["remainingEstimate"] = fmt_duration(issue.remaining_estimate)
    if issue.time_spent:
        out["timeSpent"] = fmt_duration(issue.time_spent)
    if issue.original_estimate is not None:
        out["originalEstimateSeconds"] = issue.original_estimate
    if issue.remaining_estimate is not None:
        out["remainingEstimateSeconds"] = issue.remaining_estimate
    if issue.time_spent:
        out["timeSpentSeconds"] = issue.time_spent
    return out


def _progress(issue: IssueRec) -> dict[str, Any]:
    spent = issue.time_spent
    total = spent + (issue.remaining_estimate or 0)
    out: dict[str, Any] = {"progress": spent, "total": total}
    if total:
        out["percent"] = int(spent * 100 / total)
    return out


# field id -> (name, navigable, renderer). Order = the order fields appear in issues.
Renderer = Callable[[Ctx, IssueRec], Any]


def _worklog_field(ctx: Ctx, issue: IssueRec) -> dict[str, Any]:
    ids = issue.worklog_ids or []
    shown = [ctx.state.worklogs[i] for i in ids[:20] if i in ctx.state.worklogs]
    return {
        "startAt": 0,
        "maxResults": 20,
        "total": len(ids),
        "worklogs": [render_worklog(ctx, w) for w in shown],
    }


def _project_of(ctx: Ctx, issue: IssueRec) -> dict[str, Any]:
    return render_project(ctx, ctx.state.projects[issue.project_id])


def _parent_of(ctx: Ctx, issue: IssueRec) -> Any:
    parent = ctx.state.issues.get(issue.parent_id) if issue.parent_id else None
    return _parent(ctx, parent) if parent else None


def _epic_link(ctx: Ctx, issue: IssueRec) -> Any:
    # Deprecated Epic Link: set for stories under an epic, kept beside "parent".
    parent = ctx.state.issues.get(issue.parent_id) if issue.parent_id else None
    if parent is not None and ISSUE_TYPES[parent.type_id].name == "Epic":
        return parent.key
    return None


def _versions_of(ctx: Ctx, issue: IssueRec) -> list[dict[str, Any]]:
    return [
        render_version(ctx, ctx.state.versions[v])
        for v in issue.fix_version_ids
        if v in ctx.state.versions
    ]


def _affects_versions(ctx: Ctx, issue: IssueRec) -> list[dict[str, Any]]:
    return [
        render_version(ctx, ctx.state.versions[v])
        for v in issue.affects_version_ids
        if v in ctx.state.versions
    ]


def _linked_issue(ctx: Ctx, other: IssueRec) -> dict[str, Any]:
    """The other issue of a link, in the short form ``issuelinks`` gives (summary, status,
    priority, issue type)."""
    return {
        "id": str(other.id),
        "key": other.key,
        "self": ctx.rest(f"issue/{other.id}"),
        "fields": {
            "summary": other.summary,
            "status": render_status(ctx, other.status_id),
            "priority": render_priority(ctx, other.priority_id),
            "issuetype": render_issuetype(ctx, other.type_id),
        },
    }


def _issuelinks(ctx: Ctx, issue: IssueRec) -> list[dict[str, Any]]:
    """``fields.issuelinks``: the holder on a link's source side sees ``outwardIssue`` (it
    "blocks" the other), on its destination side ``inwardIssue`` ("is blocked by")."""
    out = []
    for link_id in issue.link_ids or ():
        link = ctx.state.links.get(link_id)
        if link is None:
            continue
        outward = link.source_id == issue.id
        other = ctx.state.issues.get(link.destination_id if outward else link.source_id)
        if other is None:
            continue
        ltype = LINK_TYPES[link.type_name]
        out.append({
            "id": str(link.id),
            "self": ctx.rest(f"issueLink/{link.id}"),
            "type": {"id": ltype.id, "name": ltype.name, "inward": ltype.inward, "outward": ltype.outward,
                     "self": ctx.rest(f"issueLinkType/{ltype.id}")},
            ("outwardIssue" if outward else "inwardIssue"): _linked_issue(ctx, other),
        })
    return out


def _flagged(ctx: Ctx, issue: IssueRec) -> Any:
    if not issue.flagged:
        return None
    return [{"self": ctx.rest(f"customFieldOption/{FLAGGED_OPTION['id']}"), **FLAGGED_OPTION}]


def _sprints_of(ctx: Ctx, issue: IssueRec) -> Any:
    sprints = [
        render_sprint(ctx, ctx.state.sprints[s]) for s in issue.sprint_ids if s in ctx.state.sprints
    ]
    return sprints or None


FIELDS: dict[str, tuple[str, bool, Renderer]] = {
    "statuscategorychangedate": (
        "Status Category Changed",
        True,
        lambda c, i: fmt_dt(i.status_changed, tz_of(c)),
    ),
    "issuetype": ("Issue Type", True, lambda c, i: render_issuetype(c, i.type_id)),
    "parent": ("Parent", True, _parent_of),
    "timespent": ("Time Spent", True, lambda c, i: i.time_spent or None),
    "project": ("Project", True, _project_of),
    "fixVersions": ("Fix versions", True, _versions_of),
    "aggregatetimespent": ("Σ Time Spent", True, lambda c, i: i.time_spent or None),
    "resolution": (
        "Resolution",
        True,
        lambda c, i: (
            {"self": c.rest("resolution/10000"), **DONE_RESOLUTION} if i.resolved else None
        ),
    ),
    "resolutiondate": ("Resolved", True, lambda c, i: fmt_dt(i.resolved, tz_of(c))),
    "workratio": (
        "Work Ratio",
        True,
        lambda c, i: int(i.time_spent * 100 / i.original_estimate) if i.original_estimate else -1,
    ),
    "created": ("Created", True, lambda c, i: fmt_dt(i.created, tz_of(c))),
    SPRINT_FIELD: ("Sprint", True, _sprints_of),
    "priority": ("Priority", True, lambda c, i: render_priority(c, i.priority_id)),
    "labels": ("Labels", True, lambda c, i: list(i.labels)),
    STORY_POINTS_FIELD: ("Story Points", True, lambda c, i: i.story_points),
    "customfield_10019": ("Rank", True, lambda c, i: f"0|i{i.id:05x}:"),
    "timeestimate": ("Remaining Estimate", True, lambda c, i: i.remaining_estimate),
    "aggregatetimeoriginalestimate": (
        "Σ Original Estimate",
        True,
        lambda c, i: i.original_estimate,
    ),
    "versions": ("Affects versions", True, _affects_versions),
    "issuelinks": ("Linked Issues", True, _issuelinks),
    FLAGGED_FIELD: ("Flagged", True, _flagged),
    "assignee": (
        "Assignee",
        True,
        lambda c, i: render_user(c, c.state.users.get(i.assignee or "")),
    ),
    "updated": ("Updated", True, lambda c, i: fmt_dt(i.updated, tz_of(c))),
    "status": ("Status", True, lambda c, i: render_status(c, i.status_id)),
    "components": ("Components", True, lambda c, i: []),
    "timeoriginalestimate": ("Original estimate", True, lambda c, i: i.original_estimate),
    "description": ("Description", True, lambda c, i: rich_text(c, i.description)),
    EPIC_LINK_FIELD: ("Epic Link", True, _epic_link),
    "timetracking": ("Time tracking", False, lambda c, i: _timetracking(i)),
    "aggregatetimeestimate": ("Σ Remaining Estimate", True, lambda c, i: i.remaining_estimate),
    "summary": ("Summary", True, lambda c, i: i.summary),
    "creator": ("Creator", True, lambda c, i: render_user(c, c.state.users.get(i.reporter))),
    "subtasks": ("Sub-tasks", True, lambda c, i: []),
    "reporter": ("Reporter", True, lambda c, i: render_user(c, c.state.users.get(i.reporter))),
    "aggregateprogress": ("Σ Progress", True, lambda c, i: _progress(i)),
    "environment": ("Environment", True, lambda c, i: None),
    "duedate": ("Due date", True, lambda c, i: i.duedate),
    "progress": ("Progress", True, lambda c, i: _progress(i)),
    "worklog": ("Log Work", False, _worklog_field),
    "comment": (
        "Comment",
        False,
        lambda c, i: {
            "comments": [],
            "self": c.rest(f"issue/{i.id}/comment"),
            "maxResults": 0,
            "total": 0,
            "startAt": 0,
        },
    ),
}


class FieldSelection:
    """Which fields to return, parsed from ``fields=`` values (comma lists, repeated)."""

    def __init__(self, values: Iterable[str] | None, default: str = "id") -> None:
        tokens = [t.strip() for v in (values or []) for t in str(v).split(",") if t.strip()]
        if not tokens:
            tokens = [default]
        self.all = "*all" in tokens
        self.navigable = "*navigable" in tokens
        self.exclude = {t[1:] for t in tokens if t.startswith("-")}
        self.include = {t for t in tokens if not t.startswith(("-", "*"))}
        if self.exclude and not (self.all or self.navigable) and not self.include:
            self.navigable = True  # "-description" alone means navigable minus description
        self.ids_only = not self.all and not self.navigable and self.include <= {"id", "key"}

    def wants(self, field_id: str, navigable: bool) -> bool:
        if field_id in self.exclude:
            return False
        if self.all or (self.navigable and navigable):
            return True
        return field_id in self.include


def render_issue(
    ctx: Ctx,
    issue: IssueRec,
    selection: FieldSelection,
    *,
    expand: Iterable[str] = (),
    changelog_cap: int | None = None,
) -> dict[str, Any]:
    """An issue as ``IssueBean``; ``changelog_cap`` keeps only the newest N histories.

    The embedded changelog lists the newest history first, as Jira does (A5; captured:
    realdata/jira-rest/jirametrics/testdata/SP-10.json); ``/changelog`` pages and the bulk
    changelog go oldest first."""
    if selection.ids_only and "key" not in selection.include and "changelog" not in expand:
        return {"id": str(issue.id)}
    fields = {
        fid: render(ctx, issue)
        for fid, (_name, navigable, render) in FIELDS.items()
        if selection.wants(fid, navigable)
    }
    out: dict[str, Any] = {
        "expand": ISSUE_EXPAND,
        "id": str(issue.id),
        "self": ctx.rest(f"issue/{issue.id}"),
        "key": issue.key,
        "fields": fields,
    }
    if "changelog" in expand:
        histories = issue.histories or []
        total = len(histories)
        shown = histories if changelog_cap is None else histories[-changelog_cap:]
        out["changelog"] = {
            "startAt": 0,
            "maxResults": len(shown),
            "total": total,
            "histories": [render_history(ctx, h) for h in reversed(shown)],
        }
    return out


_SYSTEM_SCHEMA = {
    "summary": {"type": "string"},
    "issuetype": {"type": "issuetype"},
    "status": {"type": "status"},
    "priority": {"type": "priority"},
    "assignee": {"type": "user"},
    "reporter": {"type": "user"},
    "creator": {"type": "user"},
    "labels": {"type": "array", "items": "string"},
    "parent": {"type": "issuelink"},
    "fixVersions": {"type": "array", "items": "version"},
    "versions": {"type": "array", "items": "version"},
    "duedate": {"type": "date"},
    "created": {"type": "datetime"},
    "updated": {"type": "datetime"},
    "resolutiondate": {"type": "datetime"},
    "project": {"type": "project"},
    "timetracking": {"type": "timetracking"},
    "worklog": {"type": "array", "items": "worklog"},
}
_CUSTOM_SCHEMA = {
    STORY_POINTS_FIELD: ("number", None, "com.atlassian.jira.plugin.system.customfieldtypes:float"),
    SPRINT_FIELD: ("array", "json", "com.pyxis.greenhopper.jira:gh-sprint"),
    EPIC_LINK_FIELD: ("any", None, "com.pyxis.greenhopper.jira:gh-epic-link"),
    "customfield_10019": ("any", None, "com.pyxis.greenhopper.jira:gh-lexo-rank"),
    FLAGGED_FIELD: ("array", "option", "com.atlassian.jira.plugin.system.customfieldtypes:multicheckboxes"),
}


def field_catalog(ctx: Ctx) -> list[dict[str, Any]]:
    """GET /field: system and custom fields with their site-specific ids."""
    out = []
    for fid, (name, navigable, _render) in FIELDS.items():
        custom = fid.startswith("customfield_")
        entry: dict[str, Any] = {
            "id": fid,
            "key": fid,
            "name": name,
            "custom": custom,
            "orderable": fid not in ("created", "updated", "resolutiondate", "status"),
            "navigable": navigable,
            "searchable": True,
        }
        if custom:
            num = fid.split("_")[1]
            entry["clauseNames"] = [f"cf[{num}]", name]
            typ, items, plugin = _CUSTOM_SCHEMA[fid]
            schema: dict[str, Any] = {"type": typ, "custom": plugin, "customId": int(num)}
            if items:
                schema["items"] = items
            entry["schema"] = schema
        else:
            entry["clauseNames"] = [fid]
            schema = dict(_SYSTEM_SCHEMA.get(fid, {"type": "any"}))
            schema["system"] = fid
            entry["schema"] = schema
        out.append(entry)
    return out
