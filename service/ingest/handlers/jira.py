"""Jira webhook events in the inbox → effects.

Issue events carry the whole issue: mapped directly, under the monotonic guard on
``fields.updated``. Worklog events that lack fields are completed with one
``/worklog/list`` call for the whole batch. Everything else is recorded as
ignored with the mapping's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from connectors.errors import NotFound
from mappings.jira import effects_from_webhook, map_worklog
from mappings.model import Effect, Ignored, WorklogUpsert
from service.ingest.inbox import ClaimedEvent, HandlerContext, Outcome
from service.sources import source_secrets
from service.sync.jira import make_jira_client, site_fields
from service.sync.runner import source_profile

__all__ = ["handle"]


def _outcome(effects: list[Effect]) -> Outcome:
    real = [e for e in effects if not isinstance(e, Ignored)]
    if real:
        return Outcome("done", effects=effects)
    reasons = "; ".join(dict.fromkeys(e.reason for e in effects if isinstance(e, Ignored))) or "no effect"
    return Outcome("ignored", reason=reasons, effects=effects)


def handle(ctx: HandlerContext, events: Sequence[ClaimedEvent]) -> list[Outcome]:
    source = ctx.source
    profile = source_profile(source)
    fields = site_fields(source.site_info)
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
        effects = effects_from_webhook(payload, site_url=site_url, profile=profile, fields=fields)
        per_event.append(effects)
        for e in effects:
            if isinstance(e, WorklogUpsert) and not e.complete:
                incomplete[e.worklog.external_id] = None
    fetched = _fetch_worklogs(ctx, list(incomplete)) if incomplete else {}
    outcomes = []
    for item in per_event:
        if isinstance(item, str):
            outcomes.append(Outcome("ignored", reason=item))
            continue
        effects = []
        for e in item:
            if isinstance(e, WorklogUpsert) and not e.complete:
                raw = fetched.get(e.worklog.external_id)
                if raw is None:
                    effects.append(Ignored(reason=f"worklog {e.worklog.external_id} no longer exists in Jira"))
                else:
                    effects.append(WorklogUpsert(worklog=map_worklog(raw, source_id=source.id)))
            else:
                effects.append(e)
        outcomes.append(_outcome(effects))
    return outcomes


def _fetch_worklogs(ctx: HandlerContext, ids: list[str]) -> dict[str, dict[str, Any]]:
    secrets = source_secrets(ctx.settings, ctx.source)
    client = make_jira_client(ctx.settings, ctx.source, secrets, max_attempts=3, max_wait=10.0)
    try:
        found = client.worklog_list(ids)
    except NotFound:
        return {}
    return {str(w.get("id")): w for w in found}
