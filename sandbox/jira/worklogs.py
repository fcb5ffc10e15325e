"""Worklog mutations: log, update, delete; keep the issue's time spent, the worklog feeds
and the changelog in step, and fire the webhooks the deployment fires.

The changelog entry a change records is ``timespent`` (seconds, from -> to) and, on
Server/Data Center, ``WorklogId`` (the worklog's id: only ``to`` when logged, only ``from``
once deleted; a comment-only edit records just the id). The webhooks that announce it carry
the same entry (``events.worklog_changed``), so a poll reads what a webhook said.
"""

from __future__ import annotations

from sandbox.jira.events import worklog_changed
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


def _worklog_id_item(before: int | None, after: int | None) -> ChangeItem:
    """Server/DC changelogs name the worklog a time change came from."""
    old, new = fmt_num(before), fmt_num(after)
    return ChangeItem("WorklogId", "WorklogId", old, old, new, new)


def _history_items(
    state: JiraState, issue: IssueRec, old: int, wl: WorklogRec, change: str, *, spent: bool = True
) -> list[ChangeItem]:
    """The changelog entry of a worklog change: the time spent, and on Server/DC its id."""
    items = [spent_item(issue, old)] if spent else []
    if not state.config.is_cloud:
        items.append(
            _worklog_id_item(
                None if change == "created" else wl.id, None if change == "deleted" else wl.id
            )
        )
    return items


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
    """Log ``seconds`` on an issue; fires ``issue_work_logged`` (module docstring)."""
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
        items = _history_items(state, issue, old, wl, "created")
        history = record_history(state, issue, author_id, when, items)
        state.touch_issue(issue, when)
        worklog_changed(state, "created", wl, issue, author_id, history, when)
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
        items = _history_items(state, issue, old, wl, "updated", spent=seconds is not None)
        history = record_history(state, issue, wl.author, when, items)
        state.touch_issue(issue, when)
        worklog_changed(state, "updated", wl, issue, wl.author, history, when)
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
        items = _history_items(state, issue, old, wl, "deleted")
        history = record_history(state, issue, wl.author, when, items)
        state.touch_issue(issue, when)
        worklog_changed(state, "deleted", wl, issue, wl.author, history, when)
