"""Jira's paged streams: the page types and one paginator per stream, yielding pages.

- Search (``search_pages``): Cloud pages ``/search/jql`` by ``nextPageToken``, Data Center
  ``/search`` by ``startAt`` up to ``total``.
- Worklog feeds (``worklog_feed_pages``): ``/worklog/updated`` and ``/worklog/deleted``,
  each page resuming from the previous page's ``until``.
- Offset lists (``offset_pages``): ``/project/search`` and ``/issue/{id}/changelog`` (a
  ``PageBean`` with ``isLast``) and ``/issue/{id}/worklog`` (the older shape: ``total``).

A paginator is given the client's one-page read and only decides what to ask for next,
so every request still goes through the client's retry and error translation. A stream
that does not advance is a ``Fatal`` error, never an endless loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from connectors.errors import Fatal

__all__ = ["SearchPage", "WorklogFeedPage", "offset_pages", "search_pages", "worklog_feed_pages"]


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
