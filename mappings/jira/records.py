"""Jira versions -> ``Milestone`` and worklogs -> ``Worklog``.

Versions: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-project-versions/
(``releaseDate``/``startDate`` are ``yyyy-mm-dd``; ``userReleaseDate`` is in the
site's display format and is never parsed).
Worklogs: https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-worklogs/
(``started``, ``timeSpentSeconds``, ``issueId``; old Server responses carry only
the display string ``timeSpent`` such as ``"18w 2d"``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from mappings.jira.values import (
    opt_date,
    opt_datetime,
    opt_int,
    opt_str,
    parse_jira_duration,
    person_ref,
)
from mappings.model import Milestone, Worklog, WorklogUpsert

__all__ = ["map_version", "map_worklog", "worklog_upsert"]


def map_version(
    version: dict[str, Any],
    *,
    project_external_id: str | None = None,
    source_id: int | None = None,
) -> Milestone:
    """Map one Jira version to a ``Milestone``; raises ``ValueError`` without an ``id``.

    ``completed_at`` is the release date at midnight UTC when the version is
    released (Jira keeps no release time). The version's own ``projectId``
    wins over ``project_external_id``.
    """
    ident = opt_str(version.get("id")) if isinstance(version, dict) else None
    if ident is None:
        raise ValueError("Jira version has no 'id'")
    release = opt_date(version.get("releaseDate"))
    released = version.get("released") is True
    name = version.get("name")
    description = version.get("description")
    return Milestone(
        source_id=source_id,
        external_id=ident,
        project_external_id=opt_str(version.get("projectId")) or project_external_id,
        name=name if isinstance(name, str) else "",
        description=description if isinstance(description, str) and description else None,
        start_date=opt_date(version.get("startDate")),
        due_date=release,
        released=released,
        completed_at=(
            datetime(release.year, release.month, release.day, tzinfo=UTC)
            if released and release
            else None
        ),
        archived=version.get("archived") is True,
    )


# Last resort for the issue of a worklog that lacks issueId (old Server pages):
# its REST path, /rest/api/N/issue/<numeric issue id>/worklog/<id>. Only the
# path is read; the host part of ``self`` is never used.
_SELF_ISSUE = re.compile(r"/issue/(\d+)/worklog/")


def _issue_of(worklog: dict[str, Any], issue_id: str | None) -> str | None:
    found = opt_str(worklog.get("issueId")) or issue_id
    if found is None and isinstance(worklog.get("self"), str):
        match = _SELF_ISSUE.search(worklog["self"])
        found = match.group(1) if match else None
    return found


def _seconds(worklog: dict[str, Any]) -> tuple[int | None, bool]:
    """(seconds, exact): exact False when derived from the display string."""
    seconds = opt_int(worklog.get("timeSpentSeconds"))
    if seconds is not None:
        return max(seconds, 0), True
    text = worklog.get("timeSpent")
    if isinstance(text, str):
        try:
            return parse_jira_duration(text), False
        except ValueError:
            return None, False
    return None, False


def map_worklog(
    worklog: dict[str, Any],
    *,
    issue_id: str | None = None,
    source_id: int | None = None,
) -> Worklog:
    """Map one Jira worklog; raises ``ValueError`` when id, issue, start or time is missing.

    The issue comes from the worklog's ``issueId``, else from ``issue_id``, else
    from the issue id in the path of its REST ``self`` link.
    Without ``timeSpentSeconds`` the display string ``timeSpent`` is read with
    Jira's default 8-hour day and 5-day week.
    """
    if not isinstance(worklog, dict):
        raise ValueError("Jira worklog is not an object")
    ident = opt_str(worklog.get("id"))
    task = _issue_of(worklog, issue_id)
    started = opt_datetime(worklog.get("started"))
    seconds, _ = _seconds(worklog)
    missing = [
        name
        for name, value in (
            ("id", ident),
            ("issueId", task),
            ("started", started),
            ("timeSpent", seconds),
        )
        if value is None
    ]
    if missing:
        raise ValueError(f"Jira worklog lacks {', '.join(missing)}")
    assert ident is not None and task is not None and started is not None and seconds is not None
    return Worklog(
        source_id=source_id,
        external_id=ident,
        task_external_id=task,
        author=person_ref(worklog.get("author")),
        started_at=started,
        seconds=seconds,
        created_at=opt_datetime(worklog.get("created")),
        updated_at=opt_datetime(worklog.get("updated")),
    )


def worklog_upsert(
    worklog: dict[str, Any],
    *,
    issue_id: str | None = None,
    source_id: int | None = None,
    fallback_time: datetime | None = None,
) -> WorklogUpsert | None:
    """A ``WorklogUpsert`` even from an incomplete worklog; ``None`` without a worklog id.

    When ``started``, the seconds or the issue id are missing (webhook payloads
    are not formally documented), the worklog is filled with placeholders
    (``started_at`` = created/updated/``fallback_time``, ``seconds`` = 0,
    ``task_external_id`` = ``""``) and flagged ``complete=False``: the consumer
    must fetch the worklog (``POST /rest/api/3/worklog/list``) before storing it.
    Seconds read from the display string also count as incomplete.
    """
    if not isinstance(worklog, dict) or opt_str(worklog.get("id")) is None:
        return None
    seconds, exact = _seconds(worklog)
    try:
        mapped = map_worklog(worklog, issue_id=issue_id, source_id=source_id)
        return WorklogUpsert(worklog=mapped, complete=exact)
    except ValueError:
        pass
    started = (
        opt_datetime(worklog.get("started"))
        or opt_datetime(worklog.get("created"))
        or opt_datetime(worklog.get("updated"))
        or fallback_time
    )
    if started is None:
        return None
    placeholder = Worklog(
        source_id=source_id,
        external_id=str(opt_str(worklog.get("id"))),
        task_external_id=_issue_of(worklog, issue_id) or "",
        author=person_ref(worklog.get("author")),
        started_at=started,
        seconds=seconds or 0,
        created_at=opt_datetime(worklog.get("created")),
        updated_at=opt_datetime(worklog.get("updated")),
    )
    return WorklogUpsert(worklog=placeholder, complete=False)
