"""REST routes of the simulated Jira: site, fields, projects, versions, issues, worklogs.

Reference: https://developer.atlassian.com/cloud/jira/platform/rest/v3/ (v2 has the same
paths with wiki-markup text). Search routes are in ``api_search.py``.
"""

from __future__ import annotations

import bisect
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.jira import mutations
from sandbox.jira.fields import FieldSelection, field_catalog, render_issue
from sandbox.jira.records import Webhook
from sandbox.jira.respond import (
    ISSUE_NOT_FOUND,
    JiraHTTPError,
    ctx_for,
    int_param,
    jira_json,
    state_of,
)
from sandbox.jira.serialize import (
    myself,
    render_history,
    render_project,
    render_user,
    render_version,
    render_worklog,
    server_info,
)

__all__ = ["router"]

router = APIRouter()
V = "/rest/api/{v}"


def _today(request: Request) -> str:
    state = state_of(request)
    now = datetime.fromtimestamp(state.now_ms() / 1000, ZoneInfo(state.config.time_zone))
    return now.strftime("%Y-%m-%d")


@router.get(V + "/serverInfo")
def get_server_info(v: str, request: Request) -> Response:
    return jira_json(server_info(ctx_for(request, v)))


@router.get(V + "/myself")
def get_myself(v: str, request: Request) -> Response:
    return jira_json(myself(ctx_for(request, v)))


@router.get(V + "/user")
def get_user(v: str, request: Request) -> Response:
    """One user (Cloud: ``?accountId=``; Data Center: ``?username=`` or ``?key=``), with the
    email only where the user's profile shows it (Cloud), as every user object."""
    ctx = ctx_for(request, v)
    q = request.query_params
    if ctx.dc:
        ref = q.get("username") or q.get("key")
        user = next((u for u in ctx.state.users.values() if ref in (u.name, u.key)), None) if ref else None
    else:
        if not q.get("accountId"):
            raise JiraHTTPError(400, "The 'accountId' query parameter needs to be provided")
        user = ctx.state.users.get(q["accountId"])
    if user is None:
        raise JiraHTTPError(404, "Specified user does not exist or you do not have required permissions")
    return jira_json(render_user(ctx, user, full=True))


@router.get(V + "/users/search")
def search_users(v: str, request: Request) -> Response:
    """Every user, a page of them (Cloud only; privacy applied to each, as the REST docs say)."""
    ctx = ctx_for(request, v)
    if ctx.dc:
        raise JiraHTTPError(404, "null for uri: " + str(request.url))
    q = request.query_params
    start = max(int_param(q.get("startAt"), "startAt", 0), 0)
    size = min(max(int_param(q.get("maxResults"), "maxResults", 50), 0), 1000)
    with ctx.state.lock:
        users = list(ctx.state.users.values())[start : start + size]
    return jira_json([render_user(ctx, u) for u in users])


@router.get(V + "/field")
def get_fields(v: str, request: Request) -> Response:
    return jira_json(field_catalog(ctx_for(request, v)))


@router.get(V + "/project")
def get_projects(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    with ctx.state.lock:
        return jira_json([render_project(ctx, p, full=True) for p in ctx.state.projects.values()])


@router.get(V + "/project/search")
def search_projects(v: str, request: Request) -> Response:
    ctx = ctx_for(request, v)
    q = request.query_params
    start = int_param(q.get("startAt"), "startAt", 0)
    size = min(int_param(q.get("maxResults"), "maxResults", 50), 100)
    keys = {k.upper() for k in q.getlist("keys")}
    with ctx.state.lock:
        projects = [p for p in ctx.state.projects.values() if not keys or p.key in keys]
        chunk = projects[start : start + size]
        is_last = start + size >= len(projects)
        page: dict[str, Any] = {
            "self": ctx.rest(f"project/search?startAt={start}&maxResults={size}"),
            "maxResults": size,
            "startAt": start,
            "total": len(projects),
            "isLast": is_last,
            "values": [render_project(ctx, p, full=True) for p in chunk],
        }
    if not is_last:
        page["nextPage"] = ctx.rest(f"project/search?startAt={start + size}&maxResults={size}")
    return jira_json(page)


def _project_or_404(request: Request, v: str, key: str) -> Any:
    ctx = ctx_for(request, v)
    project = ctx.state.project(key)
    if project is None:
        raise JiraHTTPError(404, f"No project could be found with key '{key}'.")
    return ctx, project


@router.get(V + "/project/{key}")
def get_project(v: str, key: str, request: Request) -> Response:
    ctx, project = _project_or_404(request, v, key)
    return jira_json(render_project(ctx, project, full=True))


@router.get(V + "/project/{key}/versions")
def get_project_versions(v: str, key: str, request: Request) -> Response:
    """All versions of a project, not paginated (the library's ``project_versions``)."""
    ctx, project = _project_or_404(request, v, key)
    today = _today(request)
    with ctx.state.lock:
        ids = ctx.state.project_versions[project.id]
        return jira_json([render_version(ctx, ctx.state.versions[i], today=today) for i in ids])


@router.get(V + "/project/{key}/version")
def get_project_version_page(v: str, key: str, request: Request) -> Response:
    """Paginated versions (``startAt``, ``maxResults``, ``status``)."""
    ctx, project = _project_or_404(request, v, key)
    q = request.query_params
    start = int_param(q.get("startAt"), "startAt", 0)
    size = int_param(q.get("maxResults"), "maxResults", 50)
    wanted = {s.strip() for s in (q.get("status") or "").split(",") if s.strip()}
    today = _today(request)
    with ctx.state.lock:
        versions = [ctx.state.versions[i] for i in ctx.state.project_versions[project.id]]

        def status(ver: Any) -> str:
            return "archived" if ver.archived else ("released" if ver.released else "unreleased")

        versions = [ver for ver in versions if not wanted or status(ver) in wanted]
        chunk = versions[start : start + size]
        return jira_json(
            {
                "self": ctx.rest(
                    f"project/{project.key}/version?startAt={start}&maxResults={size}"
                ),
                "maxResults": size,
                "startAt": start,
                "total": len(versions),
                "isLast": start + size >= len(versions),
                "values": [render_version(ctx, ver, today=today) for ver in chunk],
            }
        )


def _issue_or_404(request: Request, v: str, id_or_key: str) -> Any:
    ctx = ctx_for(request, v)
    issue = ctx.state.issue(id_or_key)
    if issue is None:
        raise JiraHTTPError(404, ISSUE_NOT_FOUND)
    return ctx, issue


@router.get(V + "/issue/{id_or_key}")
def get_issue(v: str, id_or_key: str, request: Request) -> Response:
    ctx, issue = _issue_or_404(request, v, id_or_key)
    q = request.query_params
    selection = FieldSelection(q.getlist("fields"), default="*all")
    expand = {e.strip() for e in (q.get("expand") or "").split(",") if e.strip()}
    with ctx.state.lock:
        return jira_json(render_issue(ctx, issue, selection, expand=expand))


@router.get(V + "/issue/{id_or_key}/changelog")
def get_changelog(v: str, id_or_key: str, request: Request) -> Response:
    """``PageBeanChangelog``, oldest first, ``maxResults`` capped (100 by default)."""
    ctx, issue = _issue_or_404(request, v, id_or_key)
    q = request.query_params
    cap = ctx.state.config.changelog_page_max
    start = int_param(q.get("startAt"), "startAt", 0)
    size = max(1, min(int_param(q.get("maxResults"), "maxResults", cap), cap))
    with ctx.state.lock:
        histories = issue.histories or []
        chunk = histories[start : start + size]
        is_last = start + size >= len(histories)
        page: dict[str, Any] = {
            "self": ctx.rest(f"issue/{issue.key}/changelog?startAt={start}&maxResults={size}"),
            "maxResults": size,
            "startAt": start,
            "total": len(histories),
            "isLast": is_last,
            "values": [render_history(ctx, h) for h in chunk],
        }
    if not is_last:
        page["nextPage"] = ctx.rest(
            f"issue/{issue.key}/changelog?startAt={start + size}&maxResults={size}"
        )
    return jira_json(page)


@router.get(V + "/issue/{id_or_key}/worklog")
def get_issue_worklogs(v: str, id_or_key: str, request: Request) -> Response:
    """``PageOfWorklogs`` ordered by creation; ``maxResults`` defaults to (and caps at) 5000."""
    ctx, issue = _issue_or_404(request, v, id_or_key)
    q = request.query_params
    cap = ctx.state.config.worklog_page_max
    start = int_param(q.get("startAt"), "startAt", 0)
    size = max(0, min(int_param(q.get("maxResults"), "maxResults", cap), cap))
    after = int_param(q.get("startedAfter"), "startedAfter", -1)
    before = int_param(q.get("startedBefore"), "startedBefore", 1 << 62)
    with ctx.state.lock:
        logs = [ctx.state.worklogs[i] for i in issue.worklog_ids or [] if i in ctx.state.worklogs]
        logs = (
            [w for w in logs if after <= w.started < before]
            if (after >= 0 or before < 1 << 62)
            else logs
        )
        chunk = logs[start : start + size]
        return jira_json(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(logs),
                "worklogs": [render_worklog(ctx, w) for w in chunk],
            }
        )


@router.post(V + "/issue/{id_or_key}/worklog", status_code=201)
async def add_worklog(v: str, id_or_key: str, request: Request) -> Response:
    """Log work (a write: clients must never retry it blindly)."""
    ctx, issue = _issue_or_404(request, v, id_or_key)
    body = await request.json()
    seconds = body.get("timeSpentSeconds")
    if not isinstance(seconds, int) or seconds <= 0:
        raise JiraHTTPError(400, errors={"timeLogged": "You must indicate the time spent working."})
    wl = mutations.log_work(ctx.state, issue.id, seconds, comment=str(body.get("comment") or ""))
    with ctx.state.lock:
        return jira_json(render_worklog(ctx, wl), 201)


def _feed(request: Request, v: str, kind: str) -> Response:
    """``ChangedWorklogs`` since ``since`` (ms, exclusive), oldest first, never the last minute."""
    ctx = ctx_for(request, v)
    state = ctx.state
    since = int_param(request.query_params.get("since"), "since", 0)
    cutoff = state.now_ms() - state.config.worklog_feed_delay_ms
    size = state.config.worklog_feed_page_size
    with state.lock:
        rows = state.worklog_by_updated if kind == "updated" else state.worklog_deleted
        start = bisect.bisect_right(rows, (since, 1 << 62))
        end = bisect.bisect_right(rows, (cutoff, 1 << 62))
        stop = min(start + size, end)
        # Never split one timestamp across pages: "since" is exclusive.
        while start < stop < end and rows[stop][0] == rows[stop - 1][0]:
            stop += 1
        chunk = rows[start:stop]
        last_page = stop >= end
    until = chunk[-1][0] if chunk else since
    return jira_json(
        {
            "values": [{"worklogId": wid, "updatedTime": t, "properties": []} for t, wid in chunk],
            "since": since,
            "until": until,
            "self": ctx.rest(f"worklog/{kind}?since={since}"),
            "nextPage": ctx.rest(f"worklog/{kind}?since={until}"),
            "lastPage": last_page,
        }
    )


@router.get(V + "/worklog/updated")
def worklogs_updated(v: str, request: Request) -> Response:
    return _feed(request, v, "updated")


@router.get(V + "/worklog/deleted")
def worklogs_deleted(v: str, request: Request) -> Response:
    return _feed(request, v, "deleted")


@router.post(V + "/worklog/list")
async def worklog_list(v: str, request: Request) -> Response:
    """Full worklogs for up to 1000 ids (unknown ids are skipped)."""
    ctx = ctx_for(request, v)
    body = await request.json()
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list):
        raise JiraHTTPError(400, "The request body must contain a list of worklog ids.")
    if len(ids) > 1000:
        raise JiraHTTPError(400, "The number of worklog ids requested exceeds the maximum of 1000.")
    with ctx.state.lock:
        found = [ctx.state.worklogs[int(i)] for i in ids if int(i) in ctx.state.worklogs]
        return jira_json([render_worklog(ctx, w) for w in sorted(found, key=lambda w: w.id)])


# --- admin webhooks (https://developer.atlassian.com/server/jira/platform/webhooks/) -----

HOOKS = "/rest/webhooks/1.0/webhook"


def _render_hook(request: Request, hook: Webhook) -> dict[str, Any]:
    base = state_of(request).base_url
    return {
        "self": f"{base}{HOOKS}/{hook.id}",
        "name": hook.name,
        "url": hook.url,
        "events": hook.events or [],
        "enabled": hook.enabled,
        "filters": {"issue-related-events-section": hook.extra.get("jql", "")},
        "excludeBody": False,
    }


@router.get(HOOKS)
def list_hooks(request: Request) -> Response:
    state = state_of(request)
    with state.lock:
        return jira_json([_render_hook(request, h) for h in state.webhooks.values()])


@router.post(HOOKS, status_code=201)
async def create_hook(request: Request) -> Response:
    """Register an admin webhook ``{name, url, events, secret?, filters?}`` (a write)."""
    state = state_of(request)
    body = await request.json()
    if not isinstance(body, dict) or not body.get("url"):
        raise JiraHTTPError(400, errors={"url": "The webhook URL is required."})
    hook = register_webhook(
        state, body["url"], body.get("secret"), body.get("events"), body.get("name")
    )
    return jira_json(_render_hook(request, hook), 201)


@router.delete(HOOKS + "/{hook_id}", status_code=204)
def delete_hook(hook_id: int, request: Request) -> Response:
    state = state_of(request)
    with state.lock:
        if state.webhooks.pop(hook_id, None) is None:
            raise JiraHTTPError(404, f"Webhook {hook_id} does not exist.")
    return Response(status_code=204)


def register_webhook(
    state: Any,
    url: str,
    secret: str | None = None,
    events: list[str] | None = None,
    name: str | None = None,
) -> Webhook:
    with state.lock:
        hook = Webhook(
            state.next_id("webhook"), url, secret or None, events or None, name or "sandbox webhook"
        )
        state.webhooks[hook.id] = hook
        return hook
