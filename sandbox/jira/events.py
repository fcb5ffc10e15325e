"""Admin-webhook events fired by sandbox mutations (payloads as Jira sends them).

Bodies follow the captured payloads in /work/shared/realdata/jira-webhooks/
(``timestamp, webhookEvent, issue_event_type_name, user, issue, changelog{id, items}``);
the embedded issue and user use the REST v2 shape, as Jira's admin webhooks do.
"""

from __future__ import annotations

from typing import Any

from sandbox.jira.fields import FieldSelection, render_issue
from sandbox.jira.records import LINK_TYPES, History, IssueRec, LinkRec, Version, WorklogRec
from sandbox.jira.serialize import Ctx, render_history, render_user, render_version, render_worklog
from sandbox.jira.state import JiraState

__all__ = [
    "webhook_ctx",
    "issue_event",
    "version_event",
    "link_event",
    "worklog_event",
    "worklog_changed",
    "DC_WORKLOG_EVENT",
]

# Server/Data Center announce every worklog change as this one issue event (VENDOR_FACTS A10).
DC_WORKLOG_EVENT = "jira:worklog_updated"
# What happened -> issue_event_type_name, on both deployments.
_WORKLOG_TYPE_NAMES = {
    "created": "issue_work_logged",
    "updated": "issue_worklog_updated",
    "deleted": "issue_worklog_deleted",
}


def webhook_ctx(state: JiraState) -> Ctx:
    return Ctx(state, "2", state.base_url)


_NAVIGABLE = FieldSelection(["*navigable"])


def issue_event(
    state: JiraState,
    event: str,
    type_name: str | None,
    issue: IssueRec,
    actor: str,
    history: History | None,
    at: int,
) -> None:
    def build() -> dict[str, Any]:
        ctx = webhook_ctx(state)
        body: dict[str, Any] = {"timestamp": at, "webhookEvent": event}
        if type_name:
            body["issue_event_type_name"] = type_name
        body["user"] = render_user(ctx, state.users.get(actor))
        body["issue"] = render_issue(ctx, issue, _NAVIGABLE)
        if history is not None:
            rendered = render_history(ctx, history)
            body["changelog"] = {"id": rendered["id"], "items": rendered["items"]}
        return body

    state.publish(event, build)


def version_event(state: JiraState, event: str, version: Version, at: int) -> None:
    def build() -> dict[str, Any]:
        ctx = webhook_ctx(state)
        return {
            "timestamp": at,
            "webhookEvent": event,
            "version": render_version(ctx, version, today=""),
        }

    state.publish(event, build)


def link_event(state: JiraState, event: str, link: LinkRec, at: int) -> None:
    """``issuelink_created`` / ``issuelink_deleted`` as captured (realdata pinpoint): numeric ids,
    the link type with ``outwardName``/``inwardName``."""
    def build() -> dict[str, Any]:
        ltype = LINK_TYPES[link.type_name]
        return {
            "timestamp": at,
            "webhookEvent": event,
            "issueLink": {
                "id": link.id,
                "sourceIssueId": link.source_id,
                "destinationIssueId": link.destination_id,
                "issueLinkType": {
                    "id": int(ltype.id),
                    "name": ltype.name,
                    "outwardName": ltype.outward,
                    "inwardName": ltype.inward,
                    "isSubTaskLinkType": False,
                    "isSystemLinkType": False,
                },
                "systemLink": False,
            },
        }

    state.publish(event, build)


def worklog_event(state: JiraState, event: str, wl: WorklogRec, at: int) -> None:
    def build() -> dict[str, Any]:
        return {
            "timestamp": at,
            "webhookEvent": event,
            "worklog": render_worklog(webhook_ctx(state), wl),
        }

    state.publish(event, build)


def worklog_changed(
    state: JiraState,
    change: str,
    wl: WorklogRec,
    issue: IssueRec,
    actor: str,
    history: History | None,
    at: int,
) -> None:
    """The webhooks of a worklog ``change`` (created | updated | deleted), per deployment.

    Cloud: ``worklog_<change>`` with the worklog, then ``jira:issue_updated``. Server/DC:
    only ``jira:worklog_updated``, the full issue plus the change's changelog entry
    (``timespent``, ``WorklogId``) and no worklog object: receivers fetch it by id.
    """
    type_name = _WORKLOG_TYPE_NAMES[change]
    if state.config.is_cloud:
        worklog_event(state, f"worklog_{change}", wl, at)
        issue_event(state, "jira:issue_updated", type_name, issue, actor, history, at)
    else:
        issue_event(state, DC_WORKLOG_EVENT, type_name, issue, actor, history, at)
