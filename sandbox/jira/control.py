"""Control API of the sandbox (``/_sandbox/...``, JSON, no auth): drive the site from
tests, the demo and benchmarks. Not part of Jira.

Times in bodies (``at``, ``created``, ``started``) are epoch milliseconds or ISO-8601.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from sandbox.jira import mutations
from sandbox.jira.api import register_webhook
from sandbox.jira.generator import generate
from sandbox.jira.limits import FaultRule
from sandbox.jira.respond import jira_json, state_of

__all__ = ["router", "to_ms"]

router = APIRouter(prefix="/_sandbox")


def to_ms(value: Any) -> int | None:
    """Epoch ms from an int/float (ms) or an ISO-8601 string (naive = UTC)."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    data = await request.json()
    return data if isinstance(data, dict) else {}


def _bad(exc: Exception) -> Response:
    status = getattr(exc, "status", 400)
    return jira_json({"error": str(exc)}, status)


def _issue_ref(issue: Any) -> dict[str, Any]:
    return {"id": str(issue.id), "key": issue.key, "updated": issue.updated}


@router.get("/stats")
def stats(request: Request) -> Response:
    return jira_json(state_of(request).stats.snapshot())


@router.post("/stats/reset")
def stats_reset(request: Request) -> Response:
    state_of(request).stats.reset()
    return jira_json({"ok": True})


@router.get("/config")
def get_config(request: Request) -> Response:
    return jira_json(asdict(state_of(request).config))


@router.post("/config")
async def set_config(request: Request) -> Response:
    """Patch config fields, e.g. ``{"time_zone": "UTC", "deployment": "DataCenter"}``."""
    try:
        config = state_of(request).configure(**await _body(request))
    except (KeyError, TypeError) as exc:
        return _bad(exc)
    return jira_json(asdict(config))


@router.post("/faults")
async def set_faults(request: Request) -> Response:
    """``{"error_rate": 0.1, "latency_ms": 20, "rules": [{"status": 503, "count": 2, ...}]}``."""
    body = await _body(request)
    plan = state_of(request).faults
    if "error_rate" in body:
        plan.error_rate = float(body["error_rate"])
    if "latency_ms" in body:
        plan.latency_ms = float(body["latency_ms"])
    for rule in body.get("rules", []):
        plan.rules.append(FaultRule(**rule))
    return jira_json(
        {"error_rate": plan.error_rate, "latency_ms": plan.latency_ms, "rules": len(plan.rules)}
    )


@router.post("/storm")
async def storm(request: Request) -> Response:
    """The next ``count`` requests answer 429 with ``Retry-After: retry_after``."""
    body = await _body(request)
    state_of(request).faults.storm(
        int(body.get("count", 3)), float(body.get("retry_after", 1)), body.get("path")
    )
    return jira_json({"ok": True})


@router.delete("/faults")
def clear_faults(request: Request) -> Response:
    plan = state_of(request).faults
    plan.rules.clear()
    plan.error_rate = 0.0
    plan.latency_ms = 0.0
    return jira_json({"ok": True})


@router.post("/seed")
async def seed(request: Request) -> Response:
    body = await _body(request)
    return jira_json(generate(state_of(request), **body))


@router.post("/users")
async def add_user(request: Request) -> Response:
    body = await _body(request)
    state = state_of(request)
    name = body.get("name") or body["displayName"].split()[0].lower()
    account = body.get("accountId") or f"557058:{zlib.crc32(name.encode()):012d}"
    user = state.add_user(
        account,
        body["displayName"],
        body.get("email", f"{name}@example.com"),
        name,
        email_visible=bool(body.get("emailVisible", False)),
    )
    return jira_json({"accountId": user.account_id, "name": user.name, "key": user.key})


@router.post("/projects")
async def create_project(request: Request) -> Response:
    body = await _body(request)
    try:
        project = mutations.create_project(
            state_of(request), body["key"], body.get("name"), lead=body.get("lead")
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json({"id": str(project.id), "key": project.key, "name": project.name}, 201)


_CREATE_FIELDS = (
    "type",
    "status",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "parent",
    "fix_versions",
    "sprints",
    "duedate",
    "description",
    "story_points",
    "original_estimate",
    "remaining_estimate",
    "actor",
)


@router.post("/issues")
async def create_issue(request: Request) -> Response:
    body = await _body(request)
    kwargs = {k: body[k] for k in _CREATE_FIELDS if k in body}
    try:
        issue = mutations.create_issue(
            state_of(request),
            body["project"],
            body.get("summary", "Sandbox issue"),
            created=to_ms(body.get("created")),
            **kwargs,
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json(_issue_ref(issue), 201)


@router.post("/issues/{id_or_key}")
async def edit_issue(id_or_key: str, request: Request) -> Response:
    """``{"changes": {"assignee": ..., "duedate": ...}, "at": ..., "actor": ...}``."""
    body = await _body(request)
    try:
        issue = mutations.edit_issue(
            state_of(request),
            id_or_key,
            body.get("changes", {}),
            at=to_ms(body.get("at")),
            actor=body.get("actor"),
        )
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json(_issue_ref(issue))


@router.post("/issues/{id_or_key}/transition")
async def transition(id_or_key: str, request: Request) -> Response:
    body = await _body(request)
    try:
        issue = mutations.transition_issue(
            state_of(request),
            id_or_key,
            body["status"],
            at=to_ms(body.get("at")),
            actor=body.get("actor"),
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json(_issue_ref(issue))


@router.post("/issues/{id_or_key}/move")
async def move_issue(id_or_key: str, request: Request) -> Response:
    """``{"project": "KEY", "at": ..., "actor": ...}``: Jira's Move to another project."""
    body = await _body(request)
    try:
        issue = mutations.move_issue(
            state_of(request),
            id_or_key,
            str(body["project"]),
            at=to_ms(body.get("at")),
            actor=body.get("actor"),
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json(_issue_ref(issue))


@router.post("/links")
async def create_link(request: Request) -> Response:
    """``{"source": "PRJ-1", "destination": "PRJ-2", "type": "Blocks", "at": ..., "actor": ...}``:
    ``source`` blocks ``destination``."""
    body = await _body(request)
    try:
        link = mutations.link_issues(
            state_of(request),
            body["source"],
            body["destination"],
            body.get("type", "Blocks"),
            at=to_ms(body.get("at")),
            actor=body.get("actor"),
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json({"id": str(link.id)}, 201)


@router.delete("/links/{link_id}")
def delete_link(link_id: int, request: Request) -> Response:
    try:
        mutations.delete_link(state_of(request), link_id)
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json({"ok": True})


@router.delete("/issues/{id_or_key}")
def delete_issue(id_or_key: str, request: Request) -> Response:
    try:
        mutations.delete_issue(state_of(request), id_or_key)
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json({"ok": True})


@router.post("/issues/{id_or_key}/worklogs")
async def log_work(id_or_key: str, request: Request) -> Response:
    body = await _body(request)
    try:
        wl = mutations.log_work(
            state_of(request),
            id_or_key,
            int(body["seconds"]),
            author=body.get("author"),
            started=to_ms(body.get("started")),
            comment=body.get("comment", ""),
            at=to_ms(body.get("at")),
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json({"id": str(wl.id), "issueId": str(wl.issue_id), "updated": wl.updated}, 201)


@router.post("/worklogs/{worklog_id}")
async def update_worklog(worklog_id: int, request: Request) -> Response:
    body = await _body(request)
    try:
        wl = mutations.update_worklog(
            state_of(request),
            worklog_id,
            seconds=body.get("seconds"),
            comment=body.get("comment"),
            at=to_ms(body.get("at")),
        )
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json({"id": str(wl.id), "updated": wl.updated})


@router.delete("/worklogs/{worklog_id}")
def delete_worklog(worklog_id: int, request: Request) -> Response:
    try:
        mutations.delete_worklog(state_of(request), worklog_id)
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json({"ok": True})


@router.post("/versions")
async def create_version(request: Request) -> Response:
    body = await _body(request)
    try:
        version = mutations.create_version(
            state_of(request),
            body["project"],
            body["name"],
            release_date=body.get("releaseDate"),
            start_date=body.get("startDate"),
            released=bool(body.get("released", False)),
            description=body.get("description", ""),
        )
    except (mutations.SandboxError, KeyError) as exc:
        return _bad(exc)
    return jira_json({"id": str(version.id), "name": version.name}, 201)


@router.post("/versions/{version_id}/release")
async def release_version(version_id: int, request: Request) -> Response:
    body = await _body(request)
    try:
        version = mutations.release_version(
            state_of(request),
            version_id,
            released=bool(body.get("released", True)),
            release_date=body.get("releaseDate"),
        )
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json({"id": str(version.id), "released": version.released})


@router.delete("/versions/{version_id}")
def delete_version(version_id: int, request: Request) -> Response:
    try:
        mutations.delete_version(state_of(request), version_id)
    except mutations.SandboxError as exc:
        return _bad(exc)
    return jira_json({"ok": True})


@router.post("/webhooks")
async def add_webhook(request: Request) -> Response:
    """Register an admin webhook ``{"url", "secret"?, "events"?}``."""
    body = await _body(request)
    if not body.get("url"):
        return jira_json({"error": "url is required"}, 400)
    hook = register_webhook(state_of(request), body["url"], body.get("secret"), body.get("events"))
    return jira_json({"id": hook.id, "url": hook.url, "events": hook.events}, 201)


@router.get("/deliveries")
def deliveries(request: Request) -> Response:
    state = state_of(request)
    attempts = state.dispatcher.attempts if state._dispatcher is not None else []
    return jira_json(list(attempts))


@router.post("/flush")
async def flush(request: Request) -> Response:
    body = await _body(request)
    # Wait off the event loop: deliveries may target a receiver served by this process.
    idle = await asyncio.to_thread(state_of(request).flush, float(body.get("timeout", 10)))
    return jira_json({"idle": idle})
