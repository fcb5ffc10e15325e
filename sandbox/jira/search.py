"""Run a parsed JQL query over the site: keyset pages (Cloud ``nextPageToken``) and
offset pages (Data Center ``startAt``/``total``).

``nextPageToken`` is opaque to clients; here it carries the sort key of the last issue
returned, so an issue updated while a client pages (and moved to the end of an
``ORDER BY updated`` scan) is seen again rather than another one being skipped.
``ORDER BY updated`` is served from the ``(updated, id)`` index by binary search; other
orders materialise the sorted match list once per site revision (cached).
"""

from __future__ import annotations

import base64
import bisect
import json
import zlib
from collections.abc import Iterator

from sandbox.jira.jql import JQLError, Query
from sandbox.jira.records import IssueRec
from sandbox.jira.state import JiraState

__all__ = ["keyset_page", "offset_page", "encode_token", "decode_token", "count"]

_FAR = 1 << 62


def _fingerprint(query: Query) -> int:
    return zlib.crc32(f"{query.text.strip()}|{query.order}".encode())


def encode_token(query: Query, last: tuple[int, ...]) -> str:
    raw = json.dumps({"v": 1, "h": _fingerprint(query), "k": list(last)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(query: Query, token: str) -> tuple[int, ...]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if data["v"] != 1 or data["h"] != _fingerprint(query):
            raise ValueError("token of another query")
        return tuple(int(x) for x in data["k"])
    except (ValueError, KeyError, TypeError) as exc:
        raise JQLError("The provided next page token is invalid or expired.") from exc


def _sort_key(order: list[tuple[str, bool]], issue: IssueRec) -> tuple[int, ...]:
    key: list[int] = []
    for name, desc in order:
        value = getattr(issue, name)
        if name == "duedate":
            value = int(value.replace("-", "")) if value else _FAR
        elif value is None:
            value = _FAR
        key.append(-value if desc else value)
    last_desc = order[-1][1] if order else False
    key.append(-issue.id if last_desc else issue.id)
    return tuple(key)


def _effective_order(query: Query) -> list[tuple[str, bool]]:
    # No ORDER BY: Jira sorts by key descending here; we use id (creation) ascending.
    return query.order or [("id", False)]


def _is_updated_scan(query: Query) -> bool:
    return len(query.order) >= 1 and query.order[0][0] == "updated"


def _materialise(state: JiraState, query: Query) -> list[tuple[tuple[int, ...], int]]:
    cache_key = (query.text.strip(), tuple(query.order))
    hit = state.search_cache.get(cache_key)
    if hit is not None and hit[0] == state.revision:
        return hit[1]
    order = _effective_order(query)
    pred = query.predicate
    rows = [
        (_sort_key(order, issue), issue.id)
        for issue in state.issues.values()
        if pred is None or pred(issue)
    ]
    rows.sort()
    if len(state.search_cache) > 16:
        state.search_cache.clear()
    state.search_cache[cache_key] = (state.revision, rows)
    return rows


def _updated_scan(
    state: JiraState, query: Query, after: tuple[int, ...] | None
) -> Iterator[IssueRec]:
    """Issues matching ``query`` in (updated, id) order after the ``after`` key."""
    index = state.by_updated
    desc = query.order[0][1]
    pred = query.predicate
    lower = query.updated_from
    if not desc:
        start = bisect.bisect_left(index, (lower, -1)) if lower is not None else 0
        if after is not None:
            start = max(start, bisect.bisect_right(index, (after[0], after[1])))
        for pos in range(start, len(index)):
            issue = state.issues[index[pos][1]]
            if pred is None or pred(issue):
                yield issue
    else:
        end = len(index) if after is None else bisect.bisect_left(index, (after[0], after[1]))
        for pos in range(end - 1, -1, -1):
            updated, issue_id = index[pos]
            if lower is not None and updated < lower:
                return
            issue = state.issues[issue_id]
            if pred is None or pred(issue):
                yield issue


def keyset_page(
    state: JiraState, query: Query, token: str | None, limit: int
) -> tuple[list[IssueRec], str | None]:
    """One page of at most ``limit`` issues and the token of the next page (None = last)."""
    with state.lock:
        after = decode_token(query, token) if token else None
        if _is_updated_scan(query):
            page: list[IssueRec] = []
            more = False
            for issue in _updated_scan(state, query, after):
                if len(page) == limit:
                    more = True
                    break
                page.append(issue)
            if not more or not page:
                return page, None
            last = page[-1]
            return page, encode_token(query, (last.updated, last.id))
        rows = _materialise(state, query)
        start = 0 if after is None else bisect.bisect_right(rows, (after, _FAR))
        chunk = rows[start : start + limit]
        page = [state.issues[i] for _k, i in chunk]
        if start + limit >= len(rows) or not chunk:
            return page, None
        return page, encode_token(query, chunk[-1][0])


def offset_page(
    state: JiraState, query: Query, start_at: int, limit: int
) -> tuple[list[IssueRec], int]:
    """Data Center paging: issues ``start_at`` .. ``start_at+limit`` and the total."""
    with state.lock:
        rows = _materialise(state, query)
        chunk = rows[start_at : start_at + limit]
        return [state.issues[i] for _k, i in chunk], len(rows)


def count(state: JiraState, query: Query) -> int:
    with state.lock:
        return len(_materialise(state, query))
