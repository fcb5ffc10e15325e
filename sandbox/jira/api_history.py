"""The status catalogue and the bulk changelog: what history is categorized and read with.

- ``GET /rest/api/{2,3}/status``: every status of the site, with its category; on Cloud,
  team-managed projects' own statuses carry ``scope`` (getStatuses,
  https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-workflow-statuses/#api-rest-api-3-status-get).
  Data Center answers on ``/rest/api/2/status`` with the same shape.
- ``GET /rest/api/{2,3}/status/{idOrName}``: one status (404 when unknown).
- ``POST /rest/api/3/changelog/bulkfetch`` (Cloud only, getBulkChangelogs): the histories of
  up to 1000 issues, oldest first across issues (by time, then issue id), optionally only
  the items of up to 10 ``fieldIds``, ``maxResults`` histories a page (default 1000, at
  most 10000), paged with an opaque ``nextPageToken`` (absent on the last page).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.jira.records import STATUSES, History, IssueRec
from sandbox.jira.respond import JiraHTTPError, ctx_for, jira_json
from sandbox.jira.serialize import render_history, render_status, site_statuses

__all__ = ["router", "BULK_ISSUES_MAX", "BULK_FIELDS_MAX", "BULK_PAGE_DEFAULT", "BULK_PAGE_MAX"]

router = APIRouter()
V = "/rest/api/{v}"
BULK_ISSUES_MAX = 1000
BULK_FIELDS_MAX = 10
BULK_PAGE_DEFAULT = 1000
BULK_PAGE_MAX = 10000
_BULK_KEYS = {"issueIdsOrKeys", "fieldIds", "maxResults", "nextPageToken"}


@router.get(V + "/status")
def get_statuses(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    with ctx.state.lock:
        return jira_json([render_status(ctx, sid, listing=True) for sid in site_statuses(ctx)])


@router.get(V + "/status/{id_or_name}")
def get_status(v: str, id_or_name: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    with ctx.state.lock:
        listed = site_statuses(ctx)
        found = [s for s in listed if s == id_or_name] or [
            s for s in listed if STATUSES[s].name.lower() == id_or_name.lower()
        ]
        if not found:
            raise JiraHTTPError(404, f"The status with id '{id_or_name}' does not exist")
        return jira_json(render_status(ctx, found[0], listing=True))


def _bad(message: str) -> JiraHTTPError:
    return JiraHTTPError(400, message)


def _bulk_request(body: Any) -> tuple[list[str], set[str] | None, int, str | None]:
    """``BulkChangelogRequestBean`` checked as the spec states it (400 otherwise)."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object with 'issueIdsOrKeys'.")
    unknown = sorted(set(body) - _BULK_KEYS)
    if unknown:
        raise _bad(f"Unrecognized field '{unknown[0]}' in the request body.")
    ids = body.get("issueIdsOrKeys")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise _bad("issueIdsOrKeys must be a list of 1 to 1000 issue IDs or keys.")
    if len(ids) > BULK_ISSUES_MAX:
        raise _bad(f"The number of issues requested exceeds the maximum of {BULK_ISSUES_MAX}.")
    field_ids = body.get("fieldIds")
    fields: set[str] | None = None
    if field_ids is not None:
        if not isinstance(field_ids, list) or not all(isinstance(f, str) for f in field_ids):
            raise _bad("fieldIds must be a list of field IDs.")
        if len(field_ids) > BULK_FIELDS_MAX or len(set(field_ids)) != len(field_ids):
            raise _bad(f"fieldIds must hold at most {BULK_FIELDS_MAX} distinct field IDs.")
        fields = set(field_ids) or None
    size = body.get("maxResults", BULK_PAGE_DEFAULT)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= BULK_PAGE_MAX:
        raise _bad(f"maxResults must be a number from 1 to {BULK_PAGE_MAX}.")
    token = body.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise _bad("nextPageToken must be a string.")
    return ids, fields, size, token


def _fingerprint(issue_ids: list[int], fields: set[str] | None, size: int) -> str:
    text = f"{issue_ids}|{sorted(fields or ())}|{size}"
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


def _token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{fingerprint}".encode()).decode().rstrip("=")


def _offset(token: str | None, fingerprint: str) -> int:
    if token is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset, mark = raw.split(":", 1)
        if mark != fingerprint:
            raise ValueError(mark)
        return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _bad("The nextPageToken is invalid or belongs to another request.") from None


def _filtered(history: History, fields: set[str] | None) -> History | None:
    if fields is None:
        return history
    items = tuple(it for it in history.items if it.field_id in fields or it.field in fields)
    return history._replace(items=items) if items else None


@router.post(V + "/changelog/bulkfetch")
async def bulk_changelog(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    if ctx.dc:
        raise JiraHTTPError(404, "null for uri: " + str(request.url))
    try:
        body = await request.json()
    except ValueError:
        raise _bad("The request body is not valid JSON.") from None
    refs, fields, size, token = _bulk_request(body)
    state = ctx.state
    with state.lock:
        issues: dict[int, IssueRec] = {}
        for ref in refs:  # unknown or invisible issues are left out, as Jira does
            issue = state.issue(ref.strip())
            if issue is not None:
                issues.setdefault(issue.id, issue)
        fingerprint = _fingerprint(sorted(issues), fields, size)
        start = _offset(token, fingerprint)
        entries = sorted(
            (h.created, issue_id, h.id, h)
            for issue_id, issue in issues.items()
            for h in (_filtered(h, fields) for h in issue.histories or [])
            if h is not None
        )
        chunk = entries[start : start + size]
        grouped: dict[int, list[dict[str, Any]]] = {}
        for _created, issue_id, _hid, history in chunk:
            grouped.setdefault(issue_id, []).append(render_history(ctx, history))
    page: dict[str, Any] = {
        "issueChangeLogs": [
            {"issueId": str(issue_id), "changeHistories": histories} for issue_id, histories in grouped.items()
        ]
    }
    if start + size < len(entries):
        page["nextPageToken"] = _token(start + size, fingerprint)
    return jira_json(page)
