"""Jira webhook events in the inbox → effects.

Issue events carry the whole issue: mapped directly, under the monotonic guard on
``fields.updated``; the changelog's status transitions are categorized by status id through
the site's status catalogue the sync caches (``site_info["statuses"]``). A worklog the
payload does not carry in full (a Cloud ``worklog_*`` event lacking fields; every logged
or edited worklog of a Server/Data Center ``jira:worklog_updated``, which names only its
id) is fetched with one ``POST /rest/api/N/worklog/list`` per 1000 ids for the whole
batch (Data Center has the endpoint under ``/rest/api/2`` too). A worklog Jira no longer
returns is gone: a ``WorklogDelete``. Everything else is recorded as ignored with the
mapping's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from connectors.errors import NotFound
from mappings.jira import effects_from_webhook, map_worklog
from mappings.model import Effect, Ignored, WorklogDelete, WorklogUpsert
from service.ingest.inbox import ClaimedEvent, HandlerContext, Outcome
from service.sources import source_secrets
from service.sync.jira import make_jira_client, site_catalogue, site_fields
from service.sync.runner import source_profile

__all__ = ["handle"]


def _outcome(effects: list[Effect]) -> Outcome:
    real = [e for e in effects if not isinstance(e, Ignored)]
    if real:
        return Outcome("done", effects=effects)
    reasons = "; ".join(dict.fromkeys(e.reason for e in effects if isinstance(e, Ignored))) or "no effect"
    return Outcome("ignored", reason=reasons, effects=effects)


def _to_fetch(effect: Effect) -> bool:
    return isinstance(effect, WorklogUpsert) and not effect.complete


def handle(ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
    source = ctx.source
    profile = source_profile(source)
    fields = site_fields(source.site_info)
    catalogue = site_catalogue(source.site_info)  # cached by the sync; it reloads it when it lacks an id
    site_url = (source.base_url or "").rstrip("/")
    per_event: list[list[Effect] | str] = []
    incomplete: dict[str, None] = {}
    for ev in events:
        try:
            payload = orjson.loads(ev.body)
        except orjson.JSONDecodeError as exc:  # verified at ingest; only a corrupted row gets here
            per_event.append(f"body is not JSON: {exc}")
            continue
        if not isinstance(payload, dict):
            per_event.append("body is not a JSON object")
            continue
        effects = effects_from_webhook(
            payload, site_url=site_url, profile=profile, fields=fields, catalogue=catalogue
        )
        per_event.append(effects)
        for e in effects:
            if isinstance(e, WorklogUpsert) and not e.complete and _worklog_id(e.worklog.external_id):
                incomplete[e.worklog.external_id] = None
    fetched = _fetch_worklogs(ctx, list(incomplete)) if incomplete else {}
    outcomes = []
    for item in per_event:
        if isinstance(item, str):
            outcomes.append(Outcome("ignored", reason=item))
            continue
        effects = [_completed(e, fetched, source.id) if _to_fetch(e) else e for e in item]
        outcomes.append(_outcome(effects))
    return outcomes


def _worklog_id(ident: str) -> bool:
    """A Jira worklog id: ASCII digits that fit a 64-bit id ('²'.isdigit() is True too)."""
    return ident.isascii() and ident.isdigit() and len(ident) <= 18


def _completed(
    marker: Effect, fetched: dict[str, dict[str, Any]] | None, source_id: int | None
) -> Effect:
    """The stored form of a worklog named by a webhook, from what Jira answered for it."""
    assert isinstance(marker, WorklogUpsert)
    ident = marker.worklog.external_id
    if not _worklog_id(ident):
        return Ignored(reason=f"worklog id {ident!r} is not a Jira worklog id; nothing to fetch")
    if fetched is None:
        return Ignored(reason=f"worklog {ident} could not be read: Jira answered 404 to worklog/list")
    raw = fetched.get(ident)
    if raw is None:  # deleted (or hidden from the API user) since the event
        return WorklogDelete(external_id=ident, task_external_id=marker.worklog.task_external_id or None)
    try:
        return WorklogUpsert(worklog=map_worklog(raw, source_id=source_id))
    except ValueError as exc:
        return Ignored(reason=f"worklog {ident} as Jira returned it could not be mapped: {exc}")


def _fetch_worklogs(ctx: HandlerContext, ids: list[str]) -> dict[str, dict[str, Any]] | None:
    """``{id: worklog}`` of those still there; None when the endpoint itself is not found."""
    secrets = source_secrets(ctx.settings, ctx.source)
    client = make_jira_client(ctx.settings, ctx.source, secrets, max_attempts=3, max_wait=10.0)
    try:
        found = client.worklog_list(ids)
    except NotFound:
        return None
    return {str(w.get("id")): w for w in found if isinstance(w, dict)}
