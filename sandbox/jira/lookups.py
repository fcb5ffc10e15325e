"""Shared helpers of the sandbox mutations: resolving names to records, recording history."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.jira.records import (
    ISSUE_TYPE_BY_NAME,
    PRIORITY_BY_NAME,
    STATUS_BY_NAME,
    STATUSES,
    ChangeItem,
    History,
    IssueRec,
    Project,
)
from sandbox.jira.state import JiraState

__all__ = [
    "SandboxError",
    "need_issue",
    "user_id",
    "type_id",
    "priority_id",
    "status_id",
    "version_ids",
    "record_history",
    "fmt_num",
]


class SandboxError(ValueError):
    """A control call that cannot be applied (unknown key, bad value). ``status`` is HTTP."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def need_issue(state: JiraState, id_or_key: str | int) -> IssueRec:
    issue = state.issue(id_or_key)
    if issue is None:
        raise SandboxError(f"issue {id_or_key} does not exist", 404)
    return issue


def user_id(state: JiraState, ref: str | None) -> str | None:
    if ref is None:
        return None
    user = state.find_user(ref)
    if user is None:
        raise SandboxError(f"unknown user {ref!r}")
    return user.account_id


def record_history(
    state: JiraState, issue: IssueRec, actor: str, at: int, items: list[ChangeItem]
) -> History | None:
    if not items:
        return None
    history = History(state.next_id("history"), actor, at, tuple(items))
    if issue.histories is None:
        issue.histories = []
    issue.histories.append(history)
    return history


def type_id(name: str) -> str:
    t = ISSUE_TYPE_BY_NAME.get(name.lower())
    if t is None:
        raise SandboxError(f"unknown issue type {name!r}")
    return t.id


def priority_id(name: str) -> str:
    p = PRIORITY_BY_NAME.get(name.lower())
    if p is None:
        raise SandboxError(f"unknown priority {name!r}")
    return p.id


def status_id(name: str, project: Project | None = None) -> str:
    """A status of the project's workflow by name (a team-managed project has its own)."""
    if project is not None and project.team_managed:
        own = {s.name.lower(): s for s in STATUSES.values() if s.project_key == project.key}
        found = own.get(name.lower())
        if found is None:
            raise SandboxError(
                f"unknown status {name!r} in team-managed project {project.key} "
                f"(known: {', '.join(own)})"
            )
        return found.id
    s = STATUS_BY_NAME.get(name.lower())
    if s is None:
        raise SandboxError(f"unknown status {name!r} (known: {', '.join(STATUS_BY_NAME)})")
    return s.id


def version_ids(state: JiraState, project: Project, refs: Iterable[str | int]) -> tuple[int, ...]:
    out = []
    for ref in refs:
        if str(ref).isdigit() and int(ref) in state.versions:
            out.append(int(ref))
            continue
        match = [v for v in state.project_versions[project.id] if state.versions[v].name == ref]
        if not match:
            raise SandboxError(f"unknown version {ref!r} in project {project.key}")
        out.append(match[0])
    return tuple(out)


def fmt_num(value: float | int | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else str(value)
