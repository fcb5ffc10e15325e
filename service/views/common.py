"""Shared pieces of every view response: the definitions block, group labels, rounding."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from service.timerange import AFTER_TODAY_RULE
from service.views.selection import Selection

__all__ = [
    "DONE_RULE",
    "SCOPE_RULE",
    "STATUS_AS_OF",
    "ESTIMATE_RULE",
    "RATE_RULE",
    "SERIES_MAX_DAYS",
    "definitions",
    "envelope",
    "label",
    "money",
    "share",
    "days",
    "add_rows",
    "day_range",
]

SERIES_MAX_DAYS = 3 * 366  # a series covers at most the last three years (earlier data is its baseline)

DONE_RULE = (
    "done(task) = status_category is done at as_of (Jira: statusCategory.key = done; Trello: "
    "the card's list "
    "is mapped to done by the source's profile, or dueComplete / archived when the profile says so)"
)
SCOPE_RULE = (
    "scope = the tasks of the selection created by as_of and not deleted by then; epics and "
    "milestone marker "
    "cards excluded; archived cards excluded unless the source's profile keeps archived cards "
    "as done; "
    "subtasks counted"
)
STATUS_AS_OF = (
    "status at as_of = the last status change at or before as_of (taken as the state the first "
    "later change "
    "started from), else the first-seen state; a task completed (started) after as_of was not "
    "done (started) then"
)
ESTIMATE_RULE = (
    "story points when any task of the row has points, otherwise estimate_seconds; tasks "
    "without an estimate "
    "in that unit are counted as unestimated, never dropped"
)
RATE_RULE = (
    "hours × the person's rate effective on the worklog's local date, else the project's "
    "hourly_rate, else "
    "the organization's default_hourly_rate; hours with no rate at all are reported as "
    "unrated_hours"
)


def definitions(sel: Selection, **extra: Any) -> dict[str, Any]:
    return {
        "as_of": sel.as_of.isoformat(),
        "as_of_date": sel.as_of_date.isoformat(),
        "timezone": sel.tz_name,
        "today": "as_of_date: the date of as_of in the organization's time zone (a date as_of "
        "means the end of that day); " + AFTER_TODAY_RULE,
        "done_rule": DONE_RULE,
        "scope_rule": SCOPE_RULE,
        "status_at_as_of": STATUS_AS_OF,
        "estimate_unit": ESTIMATE_RULE,
        "rate_source": RATE_RULE,
        "currency": sel.currency,
        **extra,
    }


def envelope(
    view: str,
    sel: Selection,
    defs: dict[str, Any],
    total: dict[str, Any],
    groups: list[dict[str, Any]] | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "view": view,
        "parameters": sel.params.echo(),
        "definitions": defs,
        "total": total,
        "groups": groups if sel.group_by else [],
        **extra,
    }


def label(by: str | None, key: Any, names: dict[Any, str]) -> dict[str, Any]:
    if by is None:
        return {"by": None, "id": None, "name": "total"}
    if key is None:
        none = {"project": "(no project)", "person": "(unassigned)", "milestone": "(no milestone)"}
        return {"by": by, "id": None, "name": none.get(by, "(none)")}
    return {"by": by, "id": key, "name": names.get(key, str(key))}


def money(v: float | None) -> float | None:
    return None if v is None else round(v + 0.0, 2)


def share(v: float | None) -> float | None:
    return None if v is None else round(v + 0.0, 4)


def days(v: float | None) -> float | None:
    return None if v is None else round(v + 0.0, 3)


def add_rows(rows: Iterable[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        for k, v in r.items():
            out[k] = out.get(k, 0.0) + v
    return out


def day_range(start: date, end: date) -> list[date]:
    start = max(start, end - timedelta(days=SERIES_MAX_DAYS - 1))
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]
