"""Worklog mutations: log, update, delete; keep the issue's time spent, the worklog feeds
and the changelog in step, and fire ``worklog_*`` plus ``jira:issue_updated``."""

from __future__ import annotations

from sandbox.jira.events import issue_event, worklog_event
from sandbox.jira.lookups import SandboxError, fmt_num, need_issue, record_history, user_id
from sandbox.jira.records import ChangeItem, IssueRec, WorklogRec
from sandbox.jira.state import JiraState

__all__ = ["log_work", "update_worklog", "delete_worklog"]


def spent_item(issue: IssueRec, old: int) -> ChangeItem:
    return ChangeItem(
        "timespent",
        "timespent",
        fmt_num(old or None),
        fmt_num(old or None),
        fmt_num(issue.time_spent),
        fmt_num(issue.time_spent),
    )


def log_work(
    state: JiraState,
    id_or_key: str | int,
    seconds: int,
    *,
    author: str | None = None,
    started: int | None = None,
    comment: str = "",
    at: int | None = None,
    emit: bool = True,
) -> WorklogRec:
    """Log ``seconds`` on an issue: worklog_created + jira:issue_updated (issue_work_logged)."""
    with state.lock:
        issue = need_issue(state, id_or_key)
        when = at if at is not None else state.now_ms()
        author_id = user_id(state, author) or state.myself_id
        wl = WorklogRec(
            state.next_id("worklog"),
            issue.id,
            author_id,
            started if started is not None else when,
            int(seconds),
            when,
            when,
            comment,
        )
        state.index_worklog(wl)
        if issue.worklog_ids is None:
            issue.worklog_ids = []
        issue.worklog_ids.append(wl.id)
        old = issue.time_spent
        issue.time_spent += wl.seconds
        if issue.remaining_estimate is not None:
            issue.remaining_estimate = max(0, issue.remaining_estimate - wl.seconds)
        if not emit:
            return wl
        history = record_history(state, issue, author_id, when, [spent_item(issue, old)])
        state.touch_issue(issue, when)
        worklog_event(state, "worklog_created", wl, when)
        issue_event(
            state, "jira:issue_updated", "issue_work_logged", issue, author_id, history, when
        )
        return wl


def update_worklog(
    state: JiraState,
    worklog_id: int,
    *,
    seconds: int | None = None,
    comment: str | None = None,
    at: int | None = None,
) -> WorklogRec:
    with state.lock:
        wl = state.worklogs.get(int(worklog_id))
        if wl is None:
            raise SandboxError(f"worklog {worklog_id} does not exist", 404)
        when = at if at is not None else state.now_ms()
        issue = state.issues[wl.issue_id]
        old = issue.time_spent
        if seconds is not None:
            issue.time_spent += int(seconds) - wl.seconds
            wl.seconds = int(seconds)
        if comment is not None:
            wl.comment = comment
        state.touch_worklog(wl, when)
        history = (
            record_history(state, issue, wl.author, when, [spent_item(issue, old)])
            if seconds is not None
            else None
        )
        state.touch_issue(issue, when)
        worklog_event(state, "worklog_updated", wl, when)
        issue_event(
            state, "jira:issue_updated", "issue_worklog_updated", issue, wl.author, history, when
        )
        return wl


def delete_worklog(state: JiraState, worklog_id: int, *, at: int | None = None) -> None:
    with state.lock:
        wl = state.worklogs.get(int(worklog_id))
        if wl is None:
            raise SandboxError(f"worklog {worklog_id} does not exist", 404)
        when = at if at is not None else state.now_ms()
        issue = state.issues[wl.issue_id]
        old = issue.time_spent
        issue.time_spent -= wl.seconds
        if issue.worklog_ids and wl.id in issue.worklog_ids:
            issue.worklog_ids.remove(wl.id)
        state.unindex_worklog(wl, when)
        history = record_history(state, issue, wl.author, when, [spent_item(issue, old)])
        state.touch_issue(issue, when)
        worklog_event(state, "worklog_deleted", wl, when)
        issue_event(
            state, "jira:issue_updated", "issue_worklog_deleted", issue, wl.author, history, when
        )
