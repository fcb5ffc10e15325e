"""Jira's paged streams: the page types and one paginator per stream, yielding pages.

- Search (``search_pages``): Cloud pages ``/search/jql`` by ``nextPageToken``, Data Center
  ``/search`` by ``startAt`` up to ``total``.
- Worklog feeds (``worklog_feed_pages``): ``/worklog/updated`` and ``/worklog/deleted``,
  each page resuming from the previous page's ``until``.
- Offset lists (``offset_pages``): ``/project/search`` and ``/issue/{id}/changelog`` (a
  ``PageBean`` with ``isLast``) and ``/issue/{id}/worklog`` (the older shape: ``total``).
- The bulk changelog (``bulk_changelog_pages``, Cloud only): ``POST /changelog/bulkfetch`` for
  up to 1000 issues a request, each batch followed by ``nextPageToken`` until it is absent.

A paginator is given the client's one-page read and only decides what to ask for next,
so every request still goes through the client's retry and error translation. A stream
that does not advance is a ``Fatal`` error, never an endless loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connectors.errors import Fatal

__all__ = [
    "BULK_CHANGELOG_ISSUES",
    "BULK_CHANGELOG_PAGE",
    "SearchPage",
    "WorklogFeedPage",
    "bulk_changelog_pages",
    "offset_pages",
    "search_pages",
    "worklog_feed_pages",
]

BULK_CHANGELOG_ISSUES = 1000  # issue ids per bulkfetch request (the spec's maximum)
BULK_CHANGELOG_PAGE = 10000  # histories per bulkfetch page (the spec's maximum; default 1000)


@dataclass(frozen=True)
class SearchPage:
    """One search page: Cloud gives ``next_page_token``; DC ``next_start_at`` and ``total``."""

    issues: list[dict[str, Any]]
    next_page_token: str | None
    next_start_at: int | None
    is_last: bool
    total: int | None = None


@dataclass(frozen=True)
class WorklogFeedPage:
    """A page of ``/worklog/updated`` or ``/worklog/deleted``: ``values`` are
    ``{worklogId, updatedTime, properties}``; resume the feed from ``until``."""

    values: list[dict[str, Any]]
    since: int
    until: int
    last_page: bool


def search_pages(
    page: Callable[[str | None, int], SearchPage],
    *,
    token: str | None,
    start_at: int,
    what: str,
) -> Iterator[SearchPage]:
    """Every page of one search, from ``token`` (Cloud) or ``start_at`` (DC) on.

    ``page(token, start_at)`` reads one page; ``what`` names the search in the error
    raised when Jira hands back a token (or offset) it already gave.
    """
    seen: set[str] = set()
    while True:
        current = page(token, start_at)
        yield current
        if current.is_last:
            return
        marker = current.next_page_token or str(current.next_start_at)
        if marker in seen:
            raise Fatal(f"Jira search paging loops (token repeated) for {what}")
        seen.add(marker)
        token, start_at = current.next_page_token, current.next_start_at or 0


def worklog_feed_pages(
    get: Callable[[str, dict[str, Any]], Any], kind: str, since_ms: int
) -> Iterator[WorklogFeedPage]:
    """Every page of ``/worklog/<kind>`` after ``since_ms``; ``get(path, params)`` reads one."""
    since = int(since_ms)
    while True:
        body = get(f"worklog/{kind}", {"since": since})
        values = list(body.get("values", []))
        until = int(body.get("until", since))
        last = bool(body.get("lastPage", True))
        yield WorklogFeedPage(values, since, until, last)
        if last or not values:
            return
        if until <= since:
            raise Fatal(f"Jira worklog/{kind} feed does not advance (since={since})")
        since = until


def offset_pages(
    get: Callable[[str, dict[str, Any]], Any],
    path: str,
    *,
    page_size: int,
    items: str = "values",
    ends_by: Literal["isLast", "total"] = "isLast",
) -> Iterator[list[dict[str, Any]]]:
    """The ``items`` of every page of a ``startAt``-paged list; ``get(path, params)`` reads one.

    An empty page ends the list, and so does, by ``ends_by``, a page whose ``isLast`` is
    true or missing (a ``PageBean``), or having read ``total`` items (``/issue/{id}/worklog``).
    """
    start = 0
    while True:
        body = get(path, {"startAt": start, "maxResults": page_size})
        values = list(body.get(items, []))
        yield values
        start += len(values)
        if not values:
            return
        if body.get("isLast", True) if ends_by == "isLast" else start >= int(body.get("total", 0)):
            return


def bulk_changelog_pages(
    post: Callable[[str, dict[str, Any]], Any],
    issue_ids: Sequence[str],
    *,
    field_ids: Sequence[str] = (),
    page_size: int = BULK_CHANGELOG_PAGE,
    batch: int = BULK_CHANGELOG_ISSUES,
) -> Iterator[dict[str, Any]]:
    """Every page of ``POST /changelog/bulkfetch`` for ``issue_ids``; ``post(path, body)`` reads one.

    The ids go ``batch`` at a time (at most 1000, Jira's limit); each batch is followed by its
    ``nextPageToken`` until a page has none. Pages are yielded as Jira sends them
    (``BulkChangelogResponseBean``: ``issueChangeLogs[{issueId, changeHistories}]``); one
    issue's histories may span pages. A page that is not an object, or a token repeated
    within a batch, is a ``Fatal`` error.
    """
    if not 1 <= batch <= BULK_CHANGELOG_ISSUES:
        raise ValueError(f"a bulk changelog batch holds 1 to {BULK_CHANGELOG_ISSUES} issues, not {batch}")
    ids = list(dict.fromkeys(str(i) for i in issue_ids))
    for start in range(0, len(ids), batch):
        body: dict[str, Any] = {"issueIdsOrKeys": ids[start : start + batch], "maxResults": page_size}
        if field_ids:
            body["fieldIds"] = list(field_ids)
        seen: set[str] = set()
        while True:
            page = post("changelog/bulkfetch", body)
            if not isinstance(page, dict):
                raise Fatal("Jira changelog/bulkfetch answered something other than a JSON object")
            yield page
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token:
                break
            if token in seen:
                raise Fatal("Jira changelog/bulkfetch paging loops (nextPageToken repeated)")
            seen.add(token)
            body = {**body, "nextPageToken": token}
