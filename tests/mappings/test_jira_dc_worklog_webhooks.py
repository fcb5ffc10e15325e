"""Jira Server/Data Center worklog changes (``jira:worklog_updated``) -> effects.

The payloads are constructed from VENDOR_FACTS A10 around a captured Server issue
(``tests/mappings/jira_dc_worklog_constructed.py``): no such delivery was captured.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mappings.jira import SUPPORTED_EVENTS, effects_from_webhook
from mappings.jira.webhook import DC_WORKLOG_EVENT, DC_WORKLOG_EVENT_TYPES
from mappings.model import Effect, Ignored, TaskUpsert, WorklogDelete, WorklogUpsert
from tests.mappings.jira_data import SITE, profile
from tests.mappings.jira_dc_worklog_constructed import ISSUE_ID, constructed_dc_worklog_event

AT = datetime(2019, 8, 14, 3, 6, 40, tzinfo=UTC)  # the constructed payloads' timestamp


def _run(payload: dict[str, Any]) -> list[Effect]:
    return effects_from_webhook(payload, site_url=SITE, profile=profile())


def _issue(effect: object) -> TaskUpsert:
    assert isinstance(effect, TaskUpsert)
    assert effect.task.external_id == ISSUE_ID
    return effect


@pytest.mark.parametrize("type_name", ["issue_work_logged", "issue_worklog_updated"])
def test_logged_or_updated_worklog_upserts_the_issue_and_asks_to_fetch_the_worklog(type_name: str) -> None:
    issue, worklog = _run(constructed_dc_worklog_event(type_name, "10500", spent=(120, 3720)))
    assert _issue(issue).task.spent_seconds == 3720  # the issue's time tracking is current at once
    assert isinstance(worklog, WorklogUpsert) and worklog.complete is False  # only its id is known
    assert (worklog.worklog.external_id, worklog.worklog.task_external_id) == ("10500", ISSUE_ID)


def test_deleted_worklog_is_a_worklog_delete_of_the_named_id() -> None:
    issue, deleted = _run(constructed_dc_worklog_event("issue_worklog_deleted", "10500", spent=(3720, 120)))
    assert _issue(issue).task.spent_seconds == 120
    assert deleted == WorklogDelete(external_id="10500", task_external_id=ISSUE_ID)


def test_the_issue_is_versioned_by_its_updated_time_for_the_monotonic_guard() -> None:
    issue, _ = _run(constructed_dc_worklog_event("issue_work_logged"))
    # fields.updated of the captured issue: 2019-08-14T11:02:33.678+0800
    assert _issue(issue).task.updated_at == datetime(2019, 8, 14, 3, 2, 33, 678000, tzinfo=UTC)


def test_the_changelog_is_kept_as_history_at_the_event_time() -> None:
    issue, _ = _run(constructed_dc_worklog_event("issue_work_logged", changelog_id="10600"))
    kept = {(c.external_id, c.field, c.from_value, c.to_value, c.changed_at) for c in _issue(issue).changes}
    assert ("10600:0", "timespent", "120", "3720", AT) in kept
    assert ("10600:1", "WorklogId", None, "10500", AT) in kept


def test_without_an_event_type_the_changelog_tells_a_deletion_from_a_write() -> None:
    gone = constructed_dc_worklog_event(None, "77")
    gone["changelog"]["items"][1].update({"from": "77", "to": None})
    assert _run(gone)[1] == WorklogDelete(external_id="77", task_external_id=ISSUE_ID)
    written = constructed_dc_worklog_event(None, "78")
    (marker,) = [e for e in _run(written) if isinstance(e, WorklogUpsert)]
    assert marker.worklog.external_id == "78" and not marker.complete


def test_changelog_without_a_worklog_id_still_applies_the_issue_and_says_why() -> None:
    payload = constructed_dc_worklog_event("issue_work_logged")
    payload["changelog"]["items"] = payload["changelog"]["items"][:1]  # timespent only
    issue, why = _run(payload)
    _issue(issue)
    assert isinstance(why, Ignored) and "WorklogId" in why.reason


@pytest.mark.parametrize("ident", ["../../admin", "²", "١٢٣", "9" * 19])
def test_a_worklog_id_that_is_not_a_number_is_not_fetched(ident: str) -> None:
    """Unicode digits pass str.isdigit() and then fail int() in the client: the whole inbox batch
    failed on one (review); a 19-digit id is beyond Jira's 64-bit ids."""
    issue, why = _run(constructed_dc_worklog_event("issue_worklog_updated", ident))
    _issue(issue)
    assert isinstance(why, Ignored) and "not a Jira worklog id" in why.reason


def test_without_an_issue_nothing_is_applied() -> None:
    payload = constructed_dc_worklog_event("issue_work_logged")
    del payload["issue"]
    (why,) = _run(payload)
    assert isinstance(why, Ignored) and DC_WORKLOG_EVENT in why.reason


def test_dc_worklog_event_is_in_the_handled_table_with_its_three_types() -> None:
    assert DC_WORKLOG_EVENT == "jira:worklog_updated" and DC_WORKLOG_EVENT in SUPPORTED_EVENTS
    assert DC_WORKLOG_EVENT_TYPES == {
        "issue_work_logged": "written",
        "issue_worklog_updated": "written",
        "issue_worklog_deleted": "deleted",
    }


@pytest.mark.parametrize(
    "changelog",
    [
        None,
        "x",
        [],
        {"id": "1", "items": None},
        {"id": "1", "items": [None, 3, "WorklogId", {"field": None}, {"field": 5, "to": "1"}]},
        {"id": "1", "items": [{"field": "WorklogId", "from": [1], "to": {"a": 1}}]},
        {"id": "1", "items": [{"field": "WorklogId", "from": True, "to": 1.5}]},
    ],
)
def test_odd_changelogs_never_raise_and_keep_the_issue(changelog: Any) -> None:
    payload = constructed_dc_worklog_event("issue_worklog_updated")
    payload["changelog"] = changelog
    effects = _run(payload)
    _issue(effects[0])
    assert effects[1:] and all(isinstance(e, Ignored) for e in effects[1:])


def test_a_worklog_id_given_as_a_number_in_any_case_of_field_name_is_read() -> None:
    payload = constructed_dc_worklog_event("issue_work_logged")
    payload["changelog"]["items"] = [{"field": "worklogid", "from": None, "to": 42}]
    _, marker = _run(payload)
    assert isinstance(marker, WorklogUpsert) and marker.worklog.external_id == "42"
