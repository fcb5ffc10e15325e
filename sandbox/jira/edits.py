"""Field edits on an issue record, each returning the changelog items Jira would record
(field names and from/to forms as in captured changelogs, e.g. ``duedate`` toString
``2020-08-04 00:00:00.0``, ``Fix Version``, ``Sprint``)."""

from __future__ import annotations

from typing import Any

from sandbox.jira.lookups import (
    SandboxError,
    fmt_num,
    need_issue,
    priority_id,
    status_id,
    type_id,
    user_id,
    version_ids,
)
from sandbox.jira.records import (
    FLAGGED_FIELD,
    FLAGGED_OPTION,
    ISSUE_TYPES,
    PRIORITIES,
    SPRINT_FIELD,
    STATUSES,
    STORY_POINTS_FIELD,
    ChangeItem,
    IssueRec,
    Project,
)
from sandbox.jira.state import JiraState

__all__ = ["apply_change"]


def apply_change(
    state: JiraState, issue: IssueRec, project: Project, name: str, value: Any, when: int
) -> list[ChangeItem]:
    """Set one field; return its changelog items (empty when nothing changed)."""
    if name in ("summary", "description"):
        old = getattr(issue, name)
        if old == value:
            return []
        setattr(issue, name, value)
        return [ChangeItem(name, name, None, old, None, value)]
    if name == "assignee":
        new = user_id(state, value)
        if new == issue.assignee:
            return []
        old_u, new_u = state.users.get(issue.assignee or ""), state.users.get(new or "")
        issue.assignee = new
        return [
            ChangeItem(
                "assignee",
                "assignee",
                old_u.account_id if old_u else None,
                old_u.display_name if old_u else None,
                new_u.account_id if new_u else None,
                new_u.display_name if new_u else None,
            )
        ]
    if name == "priority":
        new = priority_id(value)
        old = issue.priority_id
        if new == old:
            return []
        issue.priority_id = new
        return [
            ChangeItem("priority", "priority", old, PRIORITIES[old].name, new, PRIORITIES[new].name)
        ]
    if name == "type":
        new = type_id(value)
        old = issue.type_id
        if new == old:
            return []
        issue.type_id = new
        return [
            ChangeItem(
                "issuetype", "issuetype", old, ISSUE_TYPES[old].name, new, ISSUE_TYPES[new].name
            )
        ]
    if name == "status":
        new = status_id(value, project)
        old = issue.status_id
        if new == old:
            return []
        issue.status_id = new
        issue.status_changed = when
        items = [ChangeItem("status", "status", old, STATUSES[old].name, new, STATUSES[new].name)]
        done = STATUSES[new].category == "done"
        if done and issue.resolved is None:
            issue.resolved = when
            items.append(ChangeItem("resolution", "resolution", None, None, "10000", "Done"))
        elif not done and issue.resolved is not None:
            issue.resolved = None
            items.append(ChangeItem("resolution", "resolution", "10000", "Done", None, None))
        return items
    if name == "labels":
        new_labels = tuple(value or ())
        if new_labels == issue.labels:
            return []
        old_text = " ".join(issue.labels) or None
        issue.labels = new_labels
        return [ChangeItem("labels", "labels", None, old_text, None, " ".join(new_labels) or None)]
    if name == "duedate":
        if value == issue.duedate:
            return []
        old = issue.duedate
        issue.duedate = value
        return [
            ChangeItem(
                "duedate",
                "duedate",
                old,
                f"{old} 00:00:00.0" if old else None,
                value,
                f"{value} 00:00:00.0" if value else None,
            )
        ]
    if name == "flagged":  # as captured: set "[10019]"/"Impediment", cleared ""/""
        new_flag = bool(value)
        if new_flag == issue.flagged:
            return []
        issue.flagged = new_flag
        option, label = f"[{FLAGGED_OPTION['id']}]", FLAGGED_OPTION["value"]
        if new_flag:
            return [ChangeItem("Flagged", FLAGGED_FIELD, None, None, option, label, "custom")]
        return [ChangeItem("Flagged", FLAGGED_FIELD, option, label, "", "", "custom")]
    if name == "affects_versions":
        new_ids = version_ids(state, project, value or ())
        old_ids = issue.affects_version_ids
        issue.affects_version_ids = new_ids
        items = [
            ChangeItem("Version", "versions", str(v), state.versions[v].name, None, None)
            for v in old_ids
            if v not in new_ids and v in state.versions
        ]
        items += [
            ChangeItem("Version", "versions", None, None, str(v), state.versions[v].name)
            for v in new_ids
            if v not in old_ids
        ]
        return items
    if name == "fix_versions":
        new_ids = version_ids(state, project, value or ())
        old_ids = issue.fix_version_ids
        issue.fix_version_ids = new_ids
        items = [
            ChangeItem("Fix Version", "fixVersions", str(v), state.versions[v].name, None, None)
            for v in old_ids
            if v not in new_ids and v in state.versions
        ]
        items += [
            ChangeItem("Fix Version", "fixVersions", None, None, str(v), state.versions[v].name)
            for v in new_ids
            if v not in old_ids
        ]
        return items
    if name == "sprints":
        new_s = tuple(int(s) for s in value or ())
        if new_s == issue.sprint_ids:
            return []

        def text(ids: tuple[int, ...]) -> str | None:
            return ", ".join(state.sprints[s].name for s in ids if s in state.sprints) or None

        old_s = issue.sprint_ids
        issue.sprint_ids = new_s
        return [
            ChangeItem(
                "Sprint",
                SPRINT_FIELD,
                ", ".join(map(str, old_s)) or None,
                text(old_s),
                ", ".join(map(str, new_s)) or None,
                text(new_s),
                "custom",
            )
        ]
    if name == "story_points":
        if value == issue.story_points:
            return []
        old = issue.story_points
        issue.story_points = value
        return [
            ChangeItem(
                "Story Points",
                STORY_POINTS_FIELD,
                None,
                fmt_num(old),
                None,
                fmt_num(value),
                "custom",
            )
        ]
    if name in ("original_estimate", "remaining_estimate"):
        attr, field = (
            ("original_estimate", "timeoriginalestimate")
            if name == "original_estimate"
            else ("remaining_estimate", "timeestimate")
        )
        old = getattr(issue, attr)
        if old == value:
            return []
        setattr(issue, attr, value)
        return [
            ChangeItem(field, field, fmt_num(old), fmt_num(old), fmt_num(value), fmt_num(value))
        ]
    if name == "parent":
        parent = need_issue(state, value) if value else None
        new_id = parent.id if parent else None
        if new_id == issue.parent_id:
            return []
        old = state.issues.get(issue.parent_id or -1)
        issue.parent_id = new_id
        return [
            ChangeItem(
                "IssueParentAssociation",
                "parent",
                str(old.id) if old else None,
                old.key if old else None,
                str(new_id) if new_id else None,
                parent.key if parent else None,
            )
        ]
    raise SandboxError(f"cannot edit field {name!r}")
