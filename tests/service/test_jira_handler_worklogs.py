"""The Jira inbox handler's last step for a worklog a webhook only named: what Jira's
``worklog/list`` answered for it becomes the effect to store (``_completed``)."""

from __future__ import annotations

from datetime import UTC, datetime

from mappings.jira.records import worklog_upsert
from mappings.model import Ignored, WorklogDelete, WorklogUpsert
from service.ingest.handlers.jira import _completed

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _marker(ident: str = "10500", issue: str = "10300") -> WorklogUpsert:
    marker = worklog_upsert({"id": ident, "issueId": issue}, fallback_time=AT)
    assert marker is not None and not marker.complete
    return marker


def test_a_fetched_worklog_is_upserted_complete_from_what_jira_returned() -> None:
    raw = {"id": "10500", "issueId": "10300", "started": "2026-01-05T09:00:00.000+0000",
           "timeSpentSeconds": 5400, "author": {"name": "grace", "displayName": "Grace"}}
    effect = _completed(_marker(), {"10500": raw}, source_id=7)
    assert isinstance(effect, WorklogUpsert) and effect.complete
    assert (effect.worklog.seconds, effect.worklog.task_external_id, effect.worklog.source_id) == (5400, "10300", 7)


def test_a_worklog_jira_left_out_of_its_answer_is_deleted() -> None:
    assert _completed(_marker(), {}, source_id=7) == WorklogDelete(external_id="10500", task_external_id="10300")


def test_an_answer_that_cannot_be_mapped_is_ignored_with_the_reason() -> None:
    effect = _completed(_marker(), {"10500": {"id": "10500", "issueId": "10300"}}, source_id=7)
    assert isinstance(effect, Ignored) and "10500" in effect.reason and "started" in effect.reason


def test_when_the_endpoint_itself_is_not_found_nothing_is_deleted() -> None:
    effect = _completed(_marker(), None, source_id=7)
    assert isinstance(effect, Ignored) and "404" in effect.reason


def test_an_id_that_is_not_a_number_is_never_fetched() -> None:
    effect = _completed(_marker("abc"), {}, source_id=7)
    assert isinstance(effect, Ignored) and "not a Jira worklog id" in effect.reason
