"""JQL fields of the sandbox: how each clause reads an issue record and resolves values
(project keys, statuses, users...) into what the record stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.jira.jql_lexer import JQLError, Value
from sandbox.jira.records import (
    ISSUE_TYPE_BY_NAME,
    STATUS_CATEGORIES,
    STATUSES,
    IssueRec,
)
from sandbox.jira.state import JiraState

__all__ = ["CMP", "DATE_FIELDS", "EMPTY_GETTERS", "RESOLVERS"]


CMP: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}

DATE_FIELDS = {
    "updated": "updated",
    "updateddate": "updated",
    "created": "created",
    "createddate": "created",
    "resolved": "resolved",
    "resolutiondate": "resolved",
    "duedate": "duedate",
    "due": "duedate",
}

EMPTY_GETTERS: dict[str, Callable[[IssueRec], Any]] = {
    "assignee": lambda i: i.assignee,
    "duedate": lambda i: i.duedate,
    "due": lambda i: i.duedate,
    "parent": lambda i: i.parent_id,
    "fixversion": lambda i: i.fix_version_ids,
    "labels": lambda i: i.labels,
    "resolution": lambda i: i.resolved,
    "resolved": lambda i: i.resolved,
    "sprint": lambda i: i.sprint_ids,
}


def _projects(state: JiraState, v: Value, display: str) -> set[Any]:
    project = state.project(v.text)
    if project is None:
        matches = {pr.id for pr in state.projects.values() if pr.name.lower() == v.text.lower()}
        if not matches:
            raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")
        return matches
    return {project.id}


def _issues(state: JiraState, v: Value, display: str) -> set[Any]:
    # Lenient on purpose: an unknown key or id matches nothing instead of failing the query.
    issue = state.issue(v.text)
    return {issue.id} if issue is not None else set()


def _statuses(state: JiraState, v: Value, display: str) -> set[Any]:
    # A name matches every status of that name (team-managed projects repeat them).
    if v.text in STATUSES:
        return {v.text}
    named = {s.id for s in STATUSES.values() if s.name.lower() == v.text.lower()}
    if not named:
        raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")
    return named


def _categories(state: JiraState, v: Value, display: str) -> set[Any]:
    t = v.text.lower()
    for cat in STATUS_CATEGORIES.values():
        if t in (cat.key, cat.name.lower(), str(cat.id)):
            return {cat.key}
    raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")


def _types(state: JiraState, v: Value, display: str) -> set[Any]:
    t = ISSUE_TYPE_BY_NAME.get(v.text.lower())
    if t is None:
        raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")
    return {t.id}


def _users(state: JiraState, v: Value, display: str) -> set[Any]:
    if v.function and v.text == "currentuser":
        return {state.myself_id}
    if not v.quoted and v.text.upper() in ("EMPTY", "NULL"):
        return {None}
    user = state.find_user(v.text)
    if user is None:
        raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")
    return {user.account_id}


def _labels(state: JiraState, v: Value, display: str) -> set[Any]:
    return {v.text}


def _fix_versions(state: JiraState, v: Value, display: str) -> set[Any]:
    ids = {ver.id for ver in state.versions.values() if v.text in (ver.name, str(ver.id))}
    if not ids:
        raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")
    return ids


def _sprints(state: JiraState, v: Value, display: str) -> set[Any]:
    ids = {s.id for s in state.sprints.values() if v.text in (s.name, str(s.id))}
    if not ids:
        raise JQLError(f"The value '{v.text}' does not exist for the field '{display}'.")
    return ids


RESOLVERS: dict[
    str, tuple[Callable[[IssueRec], Any], Callable[[JiraState, Value, str], set[Any]]]
] = {
    "project": (lambda i: i.project_id, _projects),
    "key": (lambda i: i.id, _issues),
    "issuekey": (lambda i: i.id, _issues),
    "id": (lambda i: i.id, _issues),
    "parent": (lambda i: i.parent_id, _issues),
    "status": (lambda i: i.status_id, _statuses),
    "statuscategory": (lambda i: STATUSES[i.status_id].category, _categories),
    "issuetype": (lambda i: i.type_id, _types),
    "type": (lambda i: i.type_id, _types),
    "assignee": (lambda i: i.assignee, _users),
    "reporter": (lambda i: i.reporter, _users),
    "labels": (lambda i: i.labels, _labels),
    "fixversion": (lambda i: i.fix_version_ids, _fix_versions),
    "sprint": (lambda i: i.sprint_ids, _sprints),
}
