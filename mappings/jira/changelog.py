"""Jira changelog histories -> ``Change`` records.

Sources (https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-changelog-get):
``issue.changelog.histories`` from ``expand=changelog`` (newest first, capped at
20 on search/jql: ``changelog_truncated`` tells), ``GET /issue/{key}/changelog``
pages (``values``, oldest first), ``POST /rest/api/3/changelog/bulkfetch`` pages
(``issueChangeLogs[].changeHistories``, Cloud only: ``histories_from_bulk_changelog``),
and a webhook's top-level ``changelog {id, items}`` (no time, no author: the caller
supplies the payload's ``timestamp`` and ``user``).

Each item becomes one ``Change`` with ``external_id = f"{history_id}:{index}"``
so re-reading the same history is idempotent. Tracked fields get a normal name;
anything else keeps Jira's own field name.

A move to another project is an item of field ``project`` whose ``from``/``to`` are the
project ids (``fromString``/``toString`` its names; captured: pinpoint
``jira__issue_updated.project``, beside a ``Key`` item TES-82 -> GOLD-208): kept as ids in
``from_value``/``to_value`` and ``from_id``/``to_id``, the id taskhub stores as the project's
external id, so a view can replay which project an issue was in. Rows stored before kept the
names and no ids (a stored row is never rewritten: inserts skip known ids).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from mappings.jira.catalogue import StatusBook
from mappings.jira.values import opt_datetime, opt_int, opt_str, person_ref
from mappings.model import CategoryRule, Change, PersonRef, StatusCategory

__all__ = [
    "History",
    "histories_from_issue",
    "histories_from_bulk_changelog",
    "changelog_truncated",
    "normalize_field",
    "changes_from_histories",
    "first_change_into",
    "last_change_into",
    "last_move_after",
]

# Rich-text bodies are not tracked, only the fact they changed (v3 changelogs
# also put an ADF document id in ``from``/``to``).
_TEXT_FIELDS = {"description", "environment", "comment"}


@dataclass(frozen=True)
class History:
    id: str
    created: datetime | None
    author: PersonRef | None
    items: list[dict[str, Any]] = field(default_factory=list)


def _history(raw: Any) -> History | None:
    if not isinstance(raw, dict):
        return None
    ident = opt_str(raw.get("id"))
    items = raw.get("items")
    if ident is None or not isinstance(items, list):
        return None
    return History(
        id=ident,
        created=opt_datetime(raw.get("created")),
        author=person_ref(raw.get("author")),
        items=[i for i in items if isinstance(i, dict)],
    )


def histories_from_issue(issue: dict[str, Any]) -> list[History]:
    """The histories embedded in a REST issue (``changelog.histories`` or ``.values``)."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, dict):
        return []
    raw = changelog.get("histories")
    if not isinstance(raw, list):
        raw = changelog.get("values")
    if not isinstance(raw, list):
        return []
    return [h for h in (_history(r) for r in raw) if h is not None]


def last_move_after(issue: dict[str, Any], after: datetime | None, key: str | None = None) -> datetime | None:
    """When the issue was last moved to another project (a history with a ``project`` item), if
    that is after ``after`` (``None``: any time; without a zone: UTC, as SQLite gives a stored
    time), else ``None``: read from the histories the REST issue embeds. With ``key`` (the key it
    was last seen with), only a move out of that key's project counts: an issue moved out and back
    since, then out of the scope by a status, did not leave when it came back (``None``: the
    caller's own time)."""
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    moves = [h for h in histories_from_issue(issue)
             if h.created is not None and any(i.get("field") == "project" for i in h.items)]
    last = max(moves, key=lambda h: h.created or datetime.min.replace(tzinfo=UTC), default=None)
    if last is None or last.created is None or (after is not None and last.created <= after):
        return None
    if key is not None:
        old = next((i.get("fromString") for i in last.items if i.get("field") == "Key"), None)
        if not isinstance(old, str) or old.rpartition("-")[0] != key.rpartition("-")[0]:
            return None
    return last.created


def changelog_truncated(issue: dict[str, Any]) -> bool:
    """Whether the issue's embedded changelog holds fewer histories than it has.

    search/jql embeds at most the latest 20 (``total`` says how many exist); the rest
    comes from ``POST /rest/api/3/changelog/bulkfetch`` (Cloud) or
    ``GET /issue/{id}/changelog`` (Data Center).
    """
    changelog = issue.get("changelog") if isinstance(issue, dict) else None
    if not isinstance(changelog, dict):
        return False
    raw = changelog.get("histories")
    if not isinstance(raw, list):
        raw = changelog.get("values")
    shown = len(raw) if isinstance(raw, list) else 0
    total = opt_int(changelog.get("total"))
    return total is not None and total > shown


def histories_from_bulk_changelog(page: Any) -> dict[str, list[History]]:
    """One ``BulkChangelogResponseBean`` page -> {issue id: its histories on this page}.

    Pages are ordered by change time then issue id, so one issue's histories may span
    pages: merge them (``changes_from_histories`` drops repeated history items). The
    next page is asked with the page's ``nextPageToken`` (absent or null on the last).
    Raises ``ValueError`` when ``page`` is not such a page.
    """
    logs = page.get("issueChangeLogs") if isinstance(page, dict) else None
    if not isinstance(logs, list):
        raise ValueError(
            "a bulk changelog page is an object with 'issueChangeLogs' "
            "(POST /rest/api/3/changelog/bulkfetch)"
        )
    out: dict[str, list[History]] = {}
    for log in logs:
        if not isinstance(log, dict):
            continue
        issue_id = opt_str(log.get("issueId"))
        raw = log.get("changeHistories")
        if issue_id is None or not isinstance(raw, list):
            continue
        found = [h for h in (_history(r) for r in raw) if h is not None]
        out.setdefault(issue_id, []).extend(found)
    return out


@dataclass(frozen=True)
class FieldPlanView:
    """The custom field ids the changelog reader needs to recognise."""

    story_points: tuple[str, ...] = ()
    story_points_names: tuple[str, ...] = ()
    sprint: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def normalize_field(item: dict[str, Any], plan: FieldPlanView) -> str:
    """Jira changelog item -> common field name (status, assignee, due_date, ...)."""
    if _str(item.get("fieldtype")) == "custom":  # a custom field named "Project" is not the project
        name = _str(item.get("field"))
        norm = _normalize(name, _str(item.get("fieldId")), plan)
        return f"{name} (custom field)" if norm == "project" else norm
    return _normalize(_str(item.get("field")), _str(item.get("fieldId")), plan)


@lru_cache(maxsize=4096)  # a site has a few hundred (field, fieldId) pairs; items repeat them
def _normalize(name: str, fid: str, plan: FieldPlanView) -> str:
    low, lid = name.strip().casefold(), fid.strip().casefold()
    if "status" in (low, lid):
        return "status"
    if "assignee" in (low, lid):
        return "assignee"
    if "duedate" in (low, lid):
        return "due_date"
    if "timeoriginalestimate" in (low, lid):
        return "estimate"
    if "resolution" in (low, lid):
        return "resolution"
    if lid == "fixversions" or low in ("fix version", "fixversions"):
        return "milestone"
    if lid == "project" or (not lid and low == "project"):  # a move to another project
        return "project"
    if low == "sprint" or lid == "sprint" or (fid and fid in plan.sprint):
        return "sprint"
    if (fid and fid in plan.story_points) or low in plan.story_points_names:
        return "points"
    if low == "link" and lid in ("", "link", "issuelinks"):  # "This issue is blocked by ABC-1"
        return "link"
    if low == "flagged" or (fid and fid in plan.flagged):
        return "flagged"
    return name or fid or "unknown"


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text if text != "" else None


def _flag(text: Any, raw: Any) -> str:
    value = text if text is not None else raw
    return "true" if isinstance(value, str) and value.strip() not in ("", "[]") else "false"


def _values(norm: str, item: dict[str, Any]) -> tuple[str | None, str | None]:
    """Which of ``from``/``fromString`` to keep, per tracked field."""
    if norm == "assignee":
        return (
            _text(item.get("tmpFromAccountId")) or _text(item.get("from")),
            _text(item.get("tmpToAccountId")) or _text(item.get("to")),
        )
    if norm in ("milestone", "estimate", "project"):  # version ids / seconds / project ids
        return _text(item.get("from")), _text(item.get("to"))
    if norm == "due_date":  # "2020-08-04" (fromString has a time appended)
        return (
            _text(item.get("from")) or (_text(item.get("fromString")) or "")[:10] or None,
            _text(item.get("to")) or (_text(item.get("toString")) or "")[:10] or None,
        )
    if norm.casefold() in _TEXT_FIELDS:
        return None, None
    if norm == "flagged":  # "Impediment" set / "" cleared -> "true" / "false"
        return _flag(item.get("fromString"), item.get("from")), _flag(item.get("toString"), item.get("to"))
    # status / resolution / sprint / points / everything else: the display string.
    from_s, to_s = item.get("fromString"), item.get("toString")
    return (
        _text(from_s) if from_s is not None else _text(item.get("from")),
        _text(to_s) if to_s is not None else _text(item.get("to")),
    )


def changes_from_histories(
    task_external_id: str,
    histories: Iterable[History],
    *,
    book: StatusBook,
    plan: FieldPlanView,
    default_time: datetime | None = None,
) -> list[Change]:
    """All items of all histories as ``Change`` records, oldest first.

    A history without a readable time takes ``default_time``; without either
    it is skipped (a change that cannot be placed in time is useless).
    Duplicate ``(history id, index)`` pairs are kept once.
    """
    out: list[Change] = []
    seen: set[str] = set()
    for history in histories:
        when = history.created or default_time
        if when is None:
            continue
        for index, item in enumerate(history.items):
            external_id = f"{history.id}:{index}"
            if external_id in seen:
                continue
            seen.add(external_id)
            norm = normalize_field(item, plan)
            from_value, to_value = _values(norm, item)
            from_cat: StatusCategory | None = None
            to_cat: StatusCategory | None = None
            from_rule: CategoryRule | None = None
            to_rule: CategoryRule | None = None
            from_id: str | None = None
            to_id: str | None = None
            if norm == "status":  # from/to are status ids, fromString/toString names then
                from_id, to_id = _text(item.get("from")), _text(item.get("to"))
                from_cat, from_rule = book.categorize(from_id, item.get("fromString"))
                to_cat, to_rule = book.categorize(to_id, item.get("toString"))
            elif norm in ("link", "project"):  # link: the other issue's key; project: its id
                from_id, to_id = _text(item.get("from")), _text(item.get("to"))
            out.append(
                Change(
                    task_external_id=task_external_id,
                    external_id=external_id,
                    field=norm,
                    from_value=from_value,
                    to_value=to_value,
                    from_category=from_cat,
                    to_category=to_cat,
                    from_id=from_id,
                    to_id=to_id,
                    from_rule=from_rule,
                    to_rule=to_rule,
                    changed_at=when,
                    author=history.author,
                )
            )
    out.sort(key=lambda c: c.changed_at)  # stable: items keep their order within a history
    return out


def first_change_into(changes: list[Change], category: StatusCategory) -> datetime | None:
    for change in changes:  # oldest first
        if change.field == "status" and change.to_category == category:
            return change.changed_at
    return None


def last_change_into(changes: list[Change], category: StatusCategory) -> datetime | None:
    for change in reversed(changes):
        if change.field == "status" and change.to_category == category:
            return change.changed_at
    return None
