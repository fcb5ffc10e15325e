"""Changes to the simulated site, as Jira makes them: bump ``updated``, append a changelog
history, and fire admin webhooks (``jira:issue_*``, ``worklog_*``, ``jira:version_*``).

This module is the facade used by the control API and tests; worklog changes live in
``worklogs.py``, field edits in ``edits.py``, webhook payloads in ``events.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sandbox.jira.edits import apply_change
from sandbox.jira.events import issue_event, link_event, version_event
from sandbox.jira.lookups import (
    SandboxError,
    need_issue,
    priority_id,
    record_history,
    status_id,
    type_id,
    user_id,
    version_ids,
)
from sandbox.jira.records import LINK_TYPES, STATUSES, ChangeItem, History, IssueRec, LinkRec, Project, Version
from sandbox.jira.state import JiraState
from sandbox.jira.worklogs import delete_worklog, log_work, update_worklog

__all__ = [
    "SandboxError",
    "create_project",
    "create_version",
    "release_version",
    "delete_version",
    "create_issue",
    "edit_issue",
    "transition_issue",
    "move_issue",
    "delete_issue",
    "link_issues",
    "delete_link",
    "log_work",
    "update_worklog",
    "delete_worklog",
]


def create_project(
    state: JiraState, key: str, name: str | None = None, *, lead: str | None = None
) -> Project:
    with state.lock:
        key = key.upper()
        if key in state.project_by_key:
            raise SandboxError(f"project {key} already exists", 409)
        project = Project(
            state.next_id("project"), key, name or key.title(), lead or state.myself_id
        )
        state.projects[project.id] = project
        state.project_by_key[key] = project.id
        state.project_versions[project.id] = []
        state.revision += 1
        return project


def create_version(
    state: JiraState,
    project_key: str,
    name: str,
    *,
    release_date: str | None = None,
    start_date: str | None = None,
    released: bool = False,
    description: str = "",
    archived: bool = False,
    emit: bool = True,
) -> Version:
    with state.lock:
        project = state.project(project_key)
        if project is None:
            raise SandboxError(f"project {project_key} does not exist", 404)
        version = Version(
            state.next_id("version"),
            project.id,
            name,
            description,
            start_date,
            release_date,
            released,
            archived,
        )
        state.versions[version.id] = version
        state.project_versions[project.id].append(version.id)
        state.revision += 1
        if emit:
            version_event(state, "jira:version_created", version, state.now_ms())
        return version


def release_version(
    state: JiraState, version_id: int, *, released: bool = True, release_date: str | None = None
) -> Version:
    with state.lock:
        version = state.versions.get(int(version_id))
        if version is None:
            raise SandboxError(f"version {version_id} does not exist", 404)
        version.released = released
        if release_date is not None:
            version.release_date = release_date
        state.revision += 1
        event = "jira:version_released" if released else "jira:version_unreleased"
        version_event(state, event, version, state.now_ms())
        return version


def delete_version(state: JiraState, version_id: int) -> None:
    with state.lock:
        version = state.versions.pop(int(version_id), None)
        if version is None:
            raise SandboxError(f"version {version_id} does not exist", 404)
        state.project_versions[version.project_id].remove(version.id)
        for issue in state.issues.values():
            if version.id in issue.fix_version_ids:
                issue.fix_version_ids = tuple(v for v in issue.fix_version_ids if v != version.id)
        state.revision += 1
        version_event(state, "jira:version_deleted", version, state.now_ms())


def create_issue(
    state: JiraState,
    project_key: str,
    summary: str,
    *,
    type: str = "Task",
    status: str = "To Do",
    priority: str = "Medium",
    assignee: str | None = None,
    reporter: str | None = None,
    labels: Sequence[str] = (),
    parent: str | None = None,
    fix_versions: Sequence[str | int] = (),
    sprints: Sequence[int] = (),
    duedate: str | None = None,
    description: str | None = None,
    story_points: float | None = None,
    original_estimate: int | None = None,
    remaining_estimate: int | None = None,
    created: int | None = None,
    actor: str | None = None,
) -> IssueRec:
    """Create an issue (``created``: epoch ms override) and fire ``jira:issue_created``."""
    with state.lock:
        project = state.project(project_key)
        if project is None:
            raise SandboxError(f"project {project_key} does not exist", 404)
        at = created if created is not None else state.now_ms()
        parent_rec = need_issue(state, parent) if parent else None
        issue_id = state.next_id("issue")
        key = f"{project.key}-{project.next_number}"
        project.next_number += 1
        sid = status_id(status, project)
        actor_id = user_id(state, actor) or state.myself_id
        issue = IssueRec(
            id=issue_id,
            key=key,
            project_id=project.id,
            type_id=type_id(type),
            summary=summary,
            status_id=sid,
            priority_id=priority_id(priority),
            reporter=user_id(state, reporter) or actor_id,
            created=at,
            updated=at,
            status_changed=at,
            description=description,
            assignee=user_id(state, assignee),
            labels=tuple(labels),
            parent_id=parent_rec.id if parent_rec else None,
            fix_version_ids=version_ids(state, project, fix_versions),
            sprint_ids=tuple(int(s) for s in sprints),
            duedate=duedate,
            resolved=at if STATUSES[sid].category == "done" else None,
            original_estimate=original_estimate,
            remaining_estimate=remaining_estimate
            if remaining_estimate is not None
            else original_estimate,
            story_points=story_points,
        )
        state.index_issue(issue)
        items = [ChangeItem("status", "status", None, None, sid, STATUSES[sid].name)]
        if issue.assignee:
            u = state.users[issue.assignee]
            items.append(
                ChangeItem("assignee", "assignee", None, None, u.account_id, u.display_name)
            )
        history = History(state.next_id("history"), actor_id, at, tuple(items))
        issue_event(state, "jira:issue_created", "issue_created", issue, actor_id, history, at)
        return issue


def edit_issue(
    state: JiraState,
    id_or_key: str | int,
    changes: dict[str, Any],
    *,
    at: int | None = None,
    actor: str | None = None,
) -> IssueRec:
    """Apply field ``changes`` (summary, description, assignee, priority, labels, duedate,
    fix_versions, sprints, story_points, original_estimate, remaining_estimate, parent, type,
    status) as one changelog history and one ``jira:issue_updated`` event."""
    with state.lock:
        issue = need_issue(state, id_or_key)
        when = at if at is not None else state.now_ms()
        actor_id = user_id(state, actor) or state.myself_id
        project = state.projects[issue.project_id]
        items: list[ChangeItem] = []
        event_type = "issue_updated"
        for name, value in changes.items():
            items.extend(apply_change(state, issue, project, name, value, when))
        if list(changes) == ["assignee"]:
            event_type = "issue_assigned"
        elif "status" in changes:
            event_type = "issue_resolved" if issue.resolved else "issue_generic"
        if not items:
            return issue
        history = record_history(state, issue, actor_id, when, items)
        state.touch_issue(issue, when)
        issue_event(state, "jira:issue_updated", event_type, issue, actor_id, history, when)
        return issue


def transition_issue(
    state: JiraState,
    id_or_key: str | int,
    status: str,
    *,
    at: int | None = None,
    actor: str | None = None,
) -> IssueRec:
    return edit_issue(state, id_or_key, {"status": status}, at=at, actor=actor)


def move_issue(
    state: JiraState,
    id_or_key: str | int,
    project_key: str,
    *,
    at: int | None = None,
    actor: str | None = None,
) -> IssueRec:
    """Move an issue to another project, as Jira's "Move" does: the issue keeps its id and gets
    the next key of the target project (its old key still finds it); its fix versions, which
    belong to the old project, are cleared. One history and one ``jira:issue_updated`` event of
    type ``issue_moved`` (captured: pinpoint ``jira__issue_updated.project``): a ``project`` item
    from / to the projects' ids (their names as strings), a ``Key`` item (no ids, no fieldId:
    old key -> new key), a fixVersions item per version cleared."""
    with state.lock:
        issue = need_issue(state, id_or_key)
        target = state.project(project_key)
        if target is None:
            raise SandboxError(f"project {project_key} does not exist", 404)
        source = state.projects[issue.project_id]
        if target.id == source.id:
            raise SandboxError(f"issue {issue.key} is already in project {target.key}")
        when = at if at is not None else state.now_ms()
        actor_id = user_id(state, actor) or state.myself_id
        old_key, new_key = issue.key, f"{target.key}-{target.next_number}"
        target.next_number += 1
        items = [ChangeItem("project", "project", str(source.id), source.name, str(target.id), target.name)]
        items += [ChangeItem("Fix Version", "fixVersions", str(v), state.versions[v].name, None, None)
                  for v in issue.fix_version_ids]
        items.append(ChangeItem("Key", "", None, old_key, None, new_key))
        issue.project_id, issue.key, issue.fix_version_ids = target.id, new_key, ()
        state.issue_by_key[new_key] = issue.id  # the old key keeps finding it, as in Jira
        history = record_history(state, issue, actor_id, when, items)
        state.touch_issue(issue, when)
        state.revision += 1
        issue_event(state, "jira:issue_updated", "issue_moved", issue, actor_id, history, when)
        return issue


def delete_issue(state: JiraState, id_or_key: str | int, *, actor: str | None = None) -> None:
    with state.lock:
        issue = need_issue(state, id_or_key)
        actor_id = user_id(state, actor) or state.myself_id
        at = state.now_ms()
        for wl_id in list(issue.worklog_ids or []):
            wl = state.worklogs.get(wl_id)
            if wl is not None:
                state.unindex_worklog(wl, at)
        issue_event(state, "jira:issue_deleted", "issue_deleted", issue, actor_id, None, at)
        state.unindex_issue(issue)


def _link_item(other: IssueRec, phrase: str, *, added: bool) -> ChangeItem:
    """The changelog's "Link" item (captured: "This issue is blocked by SP-14", to = the key)."""
    text = f"This issue {phrase} {other.key}"
    if added:
        return ChangeItem("Link", "", None, None, other.key, text)
    return ChangeItem("Link", "", other.key, text, None, None)


def _link_histories(
    state: JiraState, link: LinkRec, actor: str, at: int, *, added: bool
) -> list[tuple[IssueRec, History | None]]:
    ltype = LINK_TYPES[link.type_name]
    source, target = state.issues[link.source_id], state.issues[link.destination_id]
    out = []
    for holder, other, phrase in ((source, target, ltype.outward), (target, source, ltype.inward)):
        ids = holder.link_ids if holder.link_ids is not None else []
        if added and link.id not in ids:
            ids.append(link.id)
        elif not added and link.id in ids:
            ids.remove(link.id)
        holder.link_ids = ids or None
        history = record_history(state, holder, actor, at, [_link_item(other, phrase, added=added)])
        state.touch_issue(holder, at)
        out.append((holder, history))
    return out


def link_issues(
    state: JiraState,
    source: str | int,
    destination: str | int,
    link_type: str = "Blocks",
    *,
    at: int | None = None,
    actor: str | None = None,
) -> LinkRec:
    """Link two issues (``source`` "blocks" ``destination`` for Blocks): a "Link" history on
    each, ``issuelink_created`` and a ``jira:issue_updated`` per issue, as Jira Cloud sends."""
    with state.lock:
        if link_type not in LINK_TYPES:
            raise SandboxError(f"unknown issue link type {link_type!r}")
        a, b = need_issue(state, source), need_issue(state, destination)
        if a.id == b.id:
            raise SandboxError("an issue cannot be linked to itself")
        when = at if at is not None else state.now_ms()
        actor_id = user_id(state, actor) or state.myself_id
        link = LinkRec(state.next_id("link"), link_type, a.id, b.id, when)
        state.links[link.id] = link
        sides = _link_histories(state, link, actor_id, when, added=True)
        link_event(state, "issuelink_created", link, when)
        for holder, history in sides:
            issue_event(state, "jira:issue_updated", "issue_updated", holder, actor_id, history, when)
        return link


def delete_link(state: JiraState, link_id: int, *, at: int | None = None, actor: str | None = None) -> None:
    with state.lock:
        link = state.links.get(int(link_id))
        if link is None:
            raise SandboxError(f"no issue link {link_id}")
        when = at if at is not None else state.now_ms()
        actor_id = user_id(state, actor) or state.myself_id
        sides = _link_histories(state, link, actor_id, when, added=False)
        del state.links[link.id]
        link_event(state, "issuelink_deleted", link, when)
        for holder, history in sides:
            issue_event(state, "jira:issue_updated", "issue_updated", holder, actor_id, history, when)
