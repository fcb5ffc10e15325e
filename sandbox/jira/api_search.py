"""Issue search routes.

Cloud (CHANGE-2046, https://developer.atlassian.com/changelog/#CHANGE-2046):
``GET|POST /rest/api/{2,3}/search/jql`` pages with ``nextPageToken``, has no ``total``,
defaults ``fields`` to ``id``, rejects unbounded JQL, returns at most 20 changelog entries
per issue, and gives smaller pages when many fields are requested (100 here; up to 5000
when only id/key are asked for). The old ``/search`` answers **410 Gone**.

Data Center: ``/rest/api/2/search`` with ``startAt``/``maxResults``/``total``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.jira.fields import FieldSelection, render_issue
from sandbox.jira.jql import JQLError, parse_jql
from sandbox.jira.respond import JiraHTTPError, ctx_for, int_param, jira_json
from sandbox.jira.search import count, keyset_page, offset_page

__all__ = ["router", "REMOVED_SEARCH_MESSAGE", "UNBOUNDED_MESSAGE"]

router = APIRouter()
V = "/rest/api/{v}"

REMOVED_SEARCH_MESSAGE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED_MESSAGE = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)


async def _params(request: Request) -> dict[str, Any]:
    """Search parameters from the query string (GET) or the JSON body (POST)."""
    if request.method == "POST":
        body = await request.json()
        if not isinstance(body, dict):
            raise JiraHTTPError(400, "The request body must be a JSON object.")
        fields = body.get("fields")
        expand = body.get("expand")
        return {
            "jql": body.get("jql"),
            "nextPageToken": body.get("nextPageToken"),
            "maxResults": body.get("maxResults"),
            "startAt": body.get("startAt"),
            "fields": fields if isinstance(fields, list) else ([fields] if fields else []),
            "expand": ",".join(expand) if isinstance(expand, list) else (expand or ""),
        }
    q = request.query_params
    return {
        "jql": q.get("jql"),
        "nextPageToken": q.get("nextPageToken"),
        "maxResults": q.get("maxResults"),
        "startAt": q.get("startAt"),
        "fields": q.getlist("fields"),
        "expand": ",".join(q.getlist("expand")),
    }


def _expand(text: str) -> set[str]:
    return {e.strip() for e in text.split(",") if e.strip()}


@router.api_route(V + "/search/jql", methods=["GET", "POST"])
async def search_jql(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    state = ctx.state
    if not state.config.is_cloud:
        raise JiraHTTPError(404, "null for uri: " + str(request.url))
    p = await _params(request)
    selection = FieldSelection(p["fields"], default="id")
    expand = _expand(p["expand"])
    cap = state.config.search_page_max_ids if selection.ids_only else state.config.search_page_max
    limit = max(1, min(int_param(p["maxResults"], "maxResults", 50), cap))
    try:
        query = parse_jql(p["jql"], state)
        if not query.bounded:
            raise JQLError(UNBOUNDED_MESSAGE)
        with state.lock:
            page, token = keyset_page(state, query, p["nextPageToken"], limit)
            issues = [
                render_issue(
                    ctx,
                    i,
                    selection,
                    expand=expand,
                    changelog_cap=state.config.search_changelog_cap,
                )
                for i in page
            ]
    except JQLError as exc:
        raise JiraHTTPError(400, str(exc)) from None
    body: dict[str, Any] = {"issues": issues}
    if token:
        body["nextPageToken"] = token
    body["isLast"] = token is None
    return jira_json(body)


@router.post(V + "/search/approximate-count")
async def approximate_count(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    if not ctx.state.config.is_cloud:
        raise JiraHTTPError(404, "null for uri: " + str(request.url))
    body = await request.json()
    try:
        query = parse_jql((body or {}).get("jql"), ctx.state)
        if not query.bounded:
            raise JQLError(UNBOUNDED_MESSAGE)
        return jira_json({"count": count(ctx.state, query)})
    except JQLError as exc:
        raise JiraHTTPError(400, str(exc)) from None


@router.api_route(V + "/search", methods=["GET", "POST"])
async def search_legacy(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    state = ctx.state
    if state.config.is_cloud:
        raise JiraHTTPError(410, REMOVED_SEARCH_MESSAGE)
    p = await _params(request)
    selection = FieldSelection(p["fields"], default="*navigable")
    if selection.ids_only:
        selection.include.add("key")  # the old search always returns the issue envelope
    expand = _expand(p["expand"])
    start = max(0, int_param(p["startAt"], "startAt", 0))
    limit = max(
        0, min(int_param(p["maxResults"], "maxResults", 50), state.config.dc_search_page_max)
    )
    try:
        query = parse_jql(p["jql"], state)  # DC accepts unbounded JQL
        with state.lock:
            page, total = offset_page(state, query, start, limit)
            issues = [render_issue(ctx, i, selection, expand=expand) for i in page]
    except JQLError as exc:
        raise JiraHTTPError(400, str(exc)) from None
    return jira_json(
        {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": limit,
            "total": total,
            "issues": issues,
        }
    )
