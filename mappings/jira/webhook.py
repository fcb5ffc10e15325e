"""Jira webhook payload -> effects, with an explicit table of handled and ignored events.

Envelope: ``{"timestamp": <epoch ms>, "webhookEvent": "...", ...}``
(https://developer.atlassian.com/cloud/jira/platform/webhooks/). Issue events
carry the full issue plus a ``changelog {id, items}`` without time or author:
the change time is the payload ``timestamp`` (else ``issue.fields.updated``), the
author the payload ``user``. Old Server payloads have no
``issue_event_type_name``; nothing here depends on it.

Shapes of non-issue events are not formally documented, so every handler reads
defensively and nothing a real payload contains may raise: an unreadable event
becomes ``Ignored`` with the reason.

Worklogs arrive in two shapes (VENDOR_FACTS A10). Cloud: ``worklog_created|updated|deleted``
with a ``worklog`` object. Server/Data Center: ``jira:worklog_updated``, an issue event
whose ``issue_event_type_name`` says what happened (``DC_WORKLOG_EVENT_TYPES``), with the
full issue and a changelog naming the worklog (``{field: "WorklogId", from, to}``) and the
issue's time spent (``{field: "timespent", from, to}``, seconds) but not the worklog
itself. Any worklog a payload does not carry in full is a ``WorklogUpsert`` with
``complete=False``: the consumer fetches it by id before storing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mappings.jira.catalogue import StatusCatalogue
from mappings.jira.changelog import History
from mappings.jira.fields import JiraFieldIds
from mappings.jira.issue import FieldPlan, build_issue_upsert, is_full_issue, link_role, patch_fields
from mappings.jira.records import map_version, worklog_upsert
from mappings.jira.values import epoch_ms_to_datetime, opt_datetime, opt_str, person_ref
from mappings.model import (
    DeletedReason,
    Effect,
    Ignored,
    LinkDelete,
    LinkRef,
    LinkUpsert,
    MilestoneDelete,
    MilestoneUpsert,
    TaskDelete,
    TaskPatch,
    WorklogDelete,
)
from mappings.profile import MappingProfile

__all__ = [
    "effects_from_webhook",
    "SUPPORTED_EVENTS",
    "IGNORED_EVENTS",
    "IGNORED_EVENT_PREFIXES",
    "COMMENT_REASON",
    "DC_WORKLOG_EVENT",
    "DC_WORKLOG_EVENT_TYPES",
]

COMMENT_REASON = "comment events do not change tracked fields"

# Exact event names that are deliberately ignored, with the reason recorded.
IGNORED_EVENTS: dict[str, str] = {
    "comment_created": COMMENT_REASON,
    "comment_updated": COMMENT_REASON,
    "comment_deleted": COMMENT_REASON,
    "issue_property_set": "issue property events do not change tracked fields",
    "issue_property_deleted": "issue property events do not change tracked fields",
}
# Whole event families that are ignored (prefix -> why).
IGNORED_EVENT_PREFIXES: dict[str, str] = {
    "sprint_": "sprints are read from each issue's sprint field",
    "board_": "boards are not tracked",
    "project_": "projects are synced by polling",
    "user_": "people are learned from issues and worklogs",
    "attachment_": "attachments are not tracked",
    "filter_": "filters are not tracked",
    "option_": "Jira option changes are not tracked",
}


@dataclass(frozen=True)
class _Ctx:
    payload: dict[str, Any]
    event: str
    at: datetime | None
    site_url: str
    profile: MappingProfile
    fields: JiraFieldIds | None
    catalogue: StatusCatalogue | None = None


def _issue_upsert(ctx: _Ctx) -> list[Effect]:
    issue = ctx.payload.get("issue")
    if not isinstance(issue, dict) or opt_str(issue.get("id")) is None:
        return [Ignored(reason=f"{ctx.event}: payload has no issue id")]
    updated = opt_datetime((issue.get("fields") or {}).get("updated"))
    when = ctx.at or updated
    extra: list[History] = []
    changelog = ctx.payload.get("changelog")
    if isinstance(changelog, dict) and isinstance(changelog.get("items"), list):
        ident = opt_str(changelog.get("id"))
        if ident is not None:
            extra.append(
                History(
                    id=ident,
                    created=when,
                    author=person_ref(ctx.payload.get("user")),
                    items=[i for i in changelog["items"] if isinstance(i, dict)],
                )
            )
    upsert = build_issue_upsert(
        issue,
        site_url=ctx.site_url,
        profile=ctx.profile,
        fields=ctx.fields,
        catalogue=ctx.catalogue,
        extra_histories=extra,
        default_change_time=when,
    )
    if is_full_issue(issue):
        return [upsert]
    # A summary-form issue (no fields.updated) must not blank what it does not carry.
    return [
        TaskPatch(
            external_id=upsert.task.external_id,
            fields=patch_fields(upsert.task, issue, FieldPlan.build(ctx.fields, ctx.profile).flagged),
            changes=upsert.changes,
            updated_at=ctx.at,
        )
    ]


def _issue_deleted(ctx: _Ctx) -> list[Effect]:
    ident = opt_str((ctx.payload.get("issue") or {}).get("id"))
    if ident is None:
        return [Ignored(reason=f"{ctx.event}: payload has no issue id")]
    return [TaskDelete(external_id=ident, reason=DeletedReason.deleted, at=ctx.at)]


def _worklog(ctx: _Ctx) -> dict[str, Any] | None:
    worklog = ctx.payload.get("worklog")
    return worklog if isinstance(worklog, dict) else None


def _worklog_upsert(ctx: _Ctx) -> list[Effect]:
    worklog = _worklog(ctx)
    upsert = worklog_upsert(worklog, fallback_time=ctx.at) if worklog else None
    if upsert is None:
        return [Ignored(reason=f"{ctx.event}: payload has no readable worklog")]
    return [upsert]


def _worklog_deleted(ctx: _Ctx) -> list[Effect]:
    worklog = _worklog(ctx) or {}
    ident = opt_str(worklog.get("id"))
    if ident is None:
        return [Ignored(reason=f"{ctx.event}: payload has no worklog id")]
    return [WorklogDelete(external_id=ident, task_external_id=opt_str(worklog.get("issueId")))]


# Jira Server/DC's worklog change: one webhook event, told apart by the issue event type.
DC_WORKLOG_EVENT = "jira:worklog_updated"
# issue_event_type_name -> what the worklog named in the changelog became.
DC_WORKLOG_EVENT_TYPES: dict[str, Literal["written", "deleted"]] = {
    "issue_work_logged": "written",
    "issue_worklog_updated": "written",
    "issue_worklog_deleted": "deleted",
}


def _changelog_worklogs(ctx: _Ctx) -> list[tuple[str | None, str | None]]:
    """``(from, to)`` of every ``WorklogId`` item of the payload's changelog."""
    changelog = ctx.payload.get("changelog")
    items = changelog.get("items") if isinstance(changelog, dict) else None
    return [
        (opt_str(item.get("from")), opt_str(item.get("to")))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
        and isinstance(item.get("field"), str)
        and item["field"].casefold() == "worklogid"
    ]


def _dc_worklog(ctx: _Ctx) -> list[Effect]:
    """The issue (guarded like any issue event) plus the named worklog's change.

    A deletion is a ``WorklogDelete``; a logged or edited worklog is an incomplete
    ``WorklogUpsert`` to fetch by id. Without a known event type (a Jira version whose
    name is not in the table) the changelog tells: a worklog id only in ``from`` is gone.
    """
    effects = _issue_upsert(ctx)
    if any(isinstance(e, Ignored) for e in effects):
        return effects
    issue = ctx.payload["issue"]
    issue_id = str(opt_str(issue.get("id")))
    kind = DC_WORKLOG_EVENT_TYPES.get(str(ctx.payload.get("issue_event_type_name")))
    named: dict[str, bool] = {}  # worklog id -> deleted
    for before, after in _changelog_worklogs(ctx):
        deleted = kind == "deleted" or (kind is None and after is None)
        ident = (before or after) if deleted else (after or before)
        if ident is not None:
            named.setdefault(ident, deleted)
    if not named:
        return [*effects, Ignored(reason=f"{ctx.event}: the changelog names no WorklogId")]
    when = ctx.at or opt_datetime((issue.get("fields") or {}).get("updated"))
    for ident, deleted in named.items():
        if not (ident.isascii() and ident.isdigit() and len(ident) <= 18):  # '²'.isdigit() too
            effects.append(Ignored(reason=f"{ctx.event}: WorklogId {ident!r} is not a Jira worklog id"))
        elif deleted:
            effects.append(WorklogDelete(external_id=ident, task_external_id=issue_id))
        else:
            marker = worklog_upsert({"id": ident, "issueId": issue_id}, fallback_time=when)
            effects.append(
                marker
                if marker is not None
                else Ignored(reason=f"{ctx.event}: no time to place worklog {ident}")
            )
    return effects


def _version(ctx: _Ctx) -> dict[str, Any] | None:
    version = ctx.payload.get("version")
    return version if isinstance(version, dict) and opt_str(version.get("id")) else None


def _version_upsert(ctx: _Ctx) -> list[Effect]:
    version = _version(ctx)
    if version is None:
        return [Ignored(reason=f"{ctx.event}: payload has no version id")]
    milestone = map_version(version)
    milestone.updated_at = ctx.at
    return [MilestoneUpsert(milestone=milestone, raw=version)]


def _version_deleted(ctx: _Ctx) -> list[Effect]:
    # A merged version disappears into another one: for us it is deleted.
    version = _version(ctx)
    if version is None:
        return [Ignored(reason=f"{ctx.event}: payload has no version id")]
    return [MilestoneDelete(external_id=str(opt_str(version.get("id"))))]


def _issue_link(ctx: _Ctx) -> dict[str, Any] | None:
    link = ctx.payload.get("issueLink")
    return link if isinstance(link, dict) and opt_str(link.get("id")) else None


def _link_created(ctx: _Ctx) -> list[Effect]:
    """Both sides of a new link: the source issue holds it outward ("blocks"), the destination
    inward ("is blocked by"). The event names the issues by id only: their keys and status
    categories are the store's to fill from the tasks it has."""
    link = _issue_link(ctx)
    if link is None:
        return [Ignored(reason=f"{ctx.event}: payload has no issueLink id")]
    source, target = opt_str(link.get("sourceIssueId")), opt_str(link.get("destinationIssueId"))
    ltype = link.get("issueLinkType")
    ltype = ltype if isinstance(ltype, dict) else {}
    name = opt_str(ltype.get("name"))
    if source is None or target is None or name is None:
        return [Ignored(reason=f"{ctx.event}: issueLink lacks its issues or its type name")]
    inward, outward = opt_str(ltype.get("inwardName")), opt_str(ltype.get("outwardName"))
    ident = str(opt_str(link.get("id")))
    effects: list[Effect] = []
    for holder, other, direction, phrase in (
        (source, target, "outward", outward),
        (target, source, "inward", inward),
    ):
        ref = LinkRef(
            external_id=ident,
            link_type=name[:100],
            direction=direction,
            phrase=phrase[:100] if phrase else None,
            role=link_role(ctx.profile.jira, name, inward, outward, direction),
            other_external_id=other,
        )
        effects.append(LinkUpsert(task_external_id=holder, link=ref, at=ctx.at))
    return effects


def _link_deleted(ctx: _Ctx) -> list[Effect]:
    link = _issue_link(ctx)
    if link is None:
        return [Ignored(reason=f"{ctx.event}: payload has no issueLink id")]
    return [LinkDelete(external_id=str(opt_str(link.get("id"))), at=ctx.at)]


_HANDLERS: dict[str, Callable[[_Ctx], list[Effect]]] = {
    "jira:issue_created": _issue_upsert,
    "jira:issue_updated": _issue_upsert,
    "jira:issue_deleted": _issue_deleted,
    "worklog_created": _worklog_upsert,
    "worklog_updated": _worklog_upsert,
    "worklog_deleted": _worklog_deleted,
    DC_WORKLOG_EVENT: _dc_worklog,
    "jira:version_created": _version_upsert,
    "jira:version_updated": _version_upsert,
    "jira:version_released": _version_upsert,
    "jira:version_unreleased": _version_upsert,
    "jira:version_moved": _version_upsert,
    "jira:version_deleted": _version_deleted,
    "jira:version_merged": _version_deleted,
    "issuelink_created": _link_created,
    "issuelink_deleted": _link_deleted,
}
SUPPORTED_EVENTS: frozenset[str] = frozenset(_HANDLERS)


def _timestamp(payload: dict[str, Any]) -> datetime | None:
    value = payload.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return epoch_ms_to_datetime(value)
        except ValueError:
            return None
    return opt_datetime(value) if isinstance(value, str) else None


def effects_from_webhook(
    payload: dict[str, Any],
    *,
    site_url: str,
    profile: MappingProfile,
    fields: JiraFieldIds | None = None,
    catalogue: StatusCatalogue | None = None,
) -> list[Effect]:
    """What one Jira webhook delivery means for the store (never raises on a payload).

    ``catalogue``: the site's statuses (``status_catalogue``), so that the changelog's
    transitions are categorized by status id."""
    if not isinstance(payload, dict):
        return [Ignored(reason="payload is not a JSON object")]
    event = payload.get("webhookEvent")
    if not isinstance(event, str) or not event:
        return [Ignored(reason="payload has no webhookEvent; not a Jira webhook delivery")]
    if event in IGNORED_EVENTS:
        return [Ignored(reason=IGNORED_EVENTS[event])]
    for prefix, why in IGNORED_EVENT_PREFIXES.items():
        if event.startswith(prefix):
            return [Ignored(reason=f"event '{event}' ignored: {why}")]
    handler = _HANDLERS.get(event)
    if handler is None:
        return [Ignored(reason=f"unsupported event '{event}'")]
    ctx = _Ctx(payload, event, _timestamp(payload), site_url, profile, fields, catalogue)
    try:
        return handler(ctx)
    except ValueError as exc:  # includes pydantic.ValidationError
        return [Ignored(reason=f"{event}: payload could not be mapped: {exc}")]
