"""Jira Server/Data Center worklog webhooks, CONSTRUCTED from the documented shape.

Not captured: no ``jira:worklog_updated`` delivery is in ``/work/shared/realdata``. Built
from VENDOR_FACTS.md A10: ``webhookEvent: "jira:worklog_updated"`` with
``issue_event_type_name`` ``issue_work_logged`` | ``issue_worklog_updated`` |
``issue_worklog_deleted``, the full issue, and a changelog whose items are
``{field: "WorklogId", from, to}`` and ``{field: "timespent", from, to}`` (seconds).

What is real: the ``user`` and the ``issue`` (REST v2 shape, username identities, wiki
text) are those of the captured Server delivery
``mattermost/webhook-server-issue-updated-in-progress.json``; only the issue's time
tracking is set to the changelog's new ``timespent``. What is assumed: the changelog item
layout beyond ``field/from/to`` (``fieldtype``, ``fromString``/``toString`` as Jira's other
changelog items have them), and that an edit names the worklog in both ``from`` and ``to``.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.mappings.jira_data import webhook

__all__ = ["CAPTURED_BASE", "ISSUE_ID", "constructed_dc_worklog_event"]

CAPTURED_BASE = "mattermost/webhook-server-issue-updated-in-progress"
ISSUE_ID = "10300"  # the captured issue's id


def _item(field: str, before: str | None, after: str | None) -> dict[str, Any]:
    return {
        "field": field,
        "fieldtype": "jira",
        "from": before,
        "fromString": before,
        "to": after,
        "toString": after,
    }


def constructed_dc_worklog_event(
    type_name: str | None,
    worklog_id: str = "10500",
    *,
    spent: tuple[int, int] = (120, 3720),
    changelog_id: str = "10600",
    timestamp: int = 1565752000000,  # 2019-08-14T03:06:40Z, after the captured issue's update
) -> dict[str, Any]:
    """One constructed delivery; ``type_name`` None leaves ``issue_event_type_name`` out."""
    base = copy.deepcopy(webhook(CAPTURED_BASE))
    before, after = spent
    deleted = type_name == "issue_worklog_deleted"
    fields = base["issue"]["fields"]
    fields["timespent"] = fields["aggregatetimespent"] = after
    fields["timetracking"] = {**fields.get("timetracking", {}), "timeSpentSeconds": after}
    payload: dict[str, Any] = {
        "timestamp": timestamp,
        "webhookEvent": "jira:worklog_updated",
    }
    if type_name is not None:
        payload["issue_event_type_name"] = type_name
    payload["user"] = base["user"]
    payload["issue"] = base["issue"]
    payload["changelog"] = {
        "id": changelog_id,
        "items": [
            _item("timespent", str(before), str(after)),
            _item(
                "WorklogId",
                worklog_id if type_name != "issue_work_logged" else None,
                None if deleted else worklog_id,
            ),
        ],
    }
    return payload
