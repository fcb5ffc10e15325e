"""Trello's paged streams: the page type and one paginator per stream, yielding pages.

A board's action log (``/boards/{id}/actions``) is the one paged Trello stream we read:
newest first, at most ``limit`` (1000) actions a page, each older page asked for with
``before=<the oldest id of the previous page>``; ``since`` bounds it below (an action id,
or an ISO date). A page shorter than asked is the last. Like Jira's paginators, this one
is given the client's one-page read and only decides what to ask for next, so every
request keeps the client's pacing, retries and error translation; a stream that does not
advance is a ``Fatal`` error, never an endless loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from connectors.errors import Fatal

__all__ = ["ActionsPage", "action_pages"]

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


@dataclass(frozen=True)
class ActionsPage:
    """One page of a board's action log, newest first.

    ``actions`` holds the page's actions not seen on an earlier page and newer than an
    action-id ``since``; ``before`` is the id the next (older) page is asked under, None
    on the last page.
    """

    actions: list[dict[str, Any]]
    before: str | None
    is_last: bool


def action_pages(
    page: Callable[[str | None], list[dict[str, Any]]],
    *,
    since: str | None,
    page_size: int,
    board_id: str,
    before: str | None = None,
) -> Iterator[ActionsPage]:
    """Every page of one board's actions after ``since`` (None: the whole log) and older
    than ``before`` (None: from the newest; a read resumed where it stopped), newest first.

    ``page(before)`` reads one page of at most ``page_size`` actions older than ``before``
    (None: the newest) and after ``since``; ``board_id`` names the board in the error.
    """
    seen: set[str] = set()
    # ``since`` may also be an ISO date; only an action id can be compared with ids.
    floor = since if since and _OBJECT_ID.match(since) else ""
    while True:
        raw = page(before)
        fresh = [a for a in raw if a["id"] not in seen and a["id"] > floor]
        seen.update(a["id"] for a in fresh)
        if len(raw) < page_size:
            yield ActionsPage(fresh, None, True)
            return
        oldest = raw[-1]["id"]
        if before is not None and oldest >= before:
            raise Fatal(f"Trello actions paging did not advance on board {board_id} (before={before})")
        yield ActionsPage(fresh, oldest, False)
        before = oldest
