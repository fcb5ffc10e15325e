"""Worklog and version webhooks, and robustness against odd payloads.

No worklog or version delivery was recorded, so these wrap *recorded REST
bodies* (whose shape the webhooks carry, per Atlassian's webhook docs) in the
webhook envelope.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from mappings.jira import SUPPORTED_EVENTS, effect_to_json, effects_from_webhook
from mappings.model import (
    Ignored,
    MilestoneDelete,
    MilestoneUpsert,
    TaskUpsert,
    WorklogDelete,
    WorklogUpsert,
)
from tests.mappings.jira_data import SITE, profile, rest, webhook

TS = 1700000000000  # 2023-11-14T22:13:20Z
AT = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def _envelope(event: str, **body: Any) -> dict[str, Any]:
    return {"timestamp": TS, "webhookEvent": event, **body}


def _run(payload: Any) -> list[Any]:
    return effects_from_webhook(payload, site_url=SITE, profile=profile())


def _agile_worklog() -> dict[str, Any]:
    # Has id, issueId, started and timeSpentSeconds.
    return rest("jira-ruby/sprint/1_issues.json")["issues"][0]["fields"]["worklog"][0]


@pytest.mark.parametrize("event", ["worklog_created", "worklog_updated"])
def test_complete_worklog_event_is_upserted(event: str) -> None:
    (effect,) = _run(_envelope(event, worklog=_agile_worklog()))
    assert isinstance(effect, WorklogUpsert) and effect.complete
    w = effect.worklog
    assert (w.external_id, w.task_external_id, w.seconds) == ("100028", "10002", 12000)
    assert w.author is not None and w.author.external_id == "fred"


def test_worklog_event_without_issue_or_seconds_is_flagged_incomplete() -> None:
    worklog = {"id": "555", "created": "2023-11-14T22:13:19.000+0000"}
    (effect,) = _run(_envelope("worklog_created", worklog=worklog))
    assert isinstance(effect, WorklogUpsert) and effect.complete is False
    assert effect.worklog.external_id == "555"
    assert effect.worklog.started_at == datetime(2023, 11, 14, 22, 13, 19, tzinfo=UTC)


def test_worklog_event_with_display_time_only_is_incomplete() -> None:
    worklog = rest("jira-ruby/issue/10002/worklog/10000.json")
    (effect,) = _run(_envelope("worklog_updated", worklog=worklog))
    assert isinstance(effect, WorklogUpsert) and effect.complete is False
    assert effect.worklog.seconds == (18 * 5 + 2) * 8 * 3600


def test_worklog_deleted() -> None:
    (effect,) = _run(_envelope("worklog_deleted", worklog={"id": "100028", "issueId": "10002"}))
    assert effect == WorklogDelete(external_id="100028", task_external_id="10002")


def test_worklog_event_without_worklog_id_is_ignored() -> None:
    (effect,) = _run(_envelope("worklog_created", worklog={"issueId": "1"}))
    assert isinstance(effect, Ignored) and "worklog_created" in effect.reason


@pytest.mark.parametrize(
    "event",
    [
        "jira:version_created",
        "jira:version_updated",
        "jira:version_released",
        "jira:version_unreleased",
        "jira:version_moved",
    ],
)
def test_version_events_upsert_the_milestone(event: str) -> None:
    version = rest("go-jira/project.json")["versions"][0]
    (effect,) = _run(_envelope(event, version=version))
    assert isinstance(effect, MilestoneUpsert)
    m = effect.milestone
    assert (m.external_id, m.name, m.project_external_id) == ("12312506", "0.2.2", "12310505")
    assert (m.due_date, m.released, m.updated_at) == (date(2007, 2, 19), True, AT)


@pytest.mark.parametrize("event", ["jira:version_deleted", "jira:version_merged"])
def test_version_deleted_or_merged_removes_the_milestone(event: str) -> None:
    (effect,) = _run(_envelope(event, version=rest("jira-ruby/version/10000.json")))
    assert effect == MilestoneDelete(external_id="10000")


def test_supported_events_table() -> None:
    assert {
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "worklog_deleted",
        "jira:version_released",
    } <= SUPPORTED_EVENTS
    assert not any(e.startswith(("comment_", "sprint_")) for e in SUPPORTED_EVENTS)


# --- robustness: nothing a payload contains may raise ---------------------------------


ODD_VALUES: list[Any] = [
    None,
    "",
    0,
    -1,
    1.5,
    True,
    [],
    {},
    "garbage",
    [1, "x", None],
    {"x": {"y": []}},
]


@pytest.mark.parametrize(
    "name",
    [
        "pinpoint/jira__issue_created",
        "mattermost/webhook-server-issue-updated-resolved",
        "mattermost/webhook-cloud-issue-created-many-fields",
    ],
)
def test_issue_fields_of_any_type_never_raise(name: str) -> None:
    base = webhook(name)
    issue, fields = base["issue"], base["issue"]["fields"]
    for key in fields:
        for odd in ODD_VALUES:
            # Shallow copies: the mapping never mutates its input.
            payload = {**base, "issue": {**issue, "fields": {**fields, key: odd}}}
            for effect in _run(payload):
                json.dumps(effect_to_json(effect))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("issue"),
        lambda p: p["issue"].pop("id"),
        lambda p: p["issue"].pop("fields"),
        lambda p: p.update(changelog={"id": None, "items": "x"}),
        lambda p: p.update(changelog={"id": "1", "items": [None, 3, {"field": None}]}),
        lambda p: p.update(timestamp="soon"),
        lambda p: p.update(timestamp=10**30),
        lambda p: p.update(issue=[]),
        lambda p: p.update(user="nobody"),
    ],
)
def test_broken_issue_payloads_never_raise(mutate: Any) -> None:
    payload = webhook("pinpoint/jira__issue_updated.resolution")
    mutate(payload)
    effects = _run(payload)
    assert effects
    for effect in effects:
        assert isinstance(effect, (Ignored, TaskUpsert)) or effect.effect == "task_patch"


@pytest.mark.parametrize("payload", [None, [], "x", 3, {"webhookEvent": 5}, {"webhookEvent": ""}])
def test_non_payloads_are_ignored(payload: Any) -> None:
    (effect,) = _run(payload)
    assert isinstance(effect, Ignored)


@pytest.mark.parametrize("event", sorted(SUPPORTED_EVENTS))
def test_supported_events_with_empty_bodies_are_ignored_not_raised(event: str) -> None:
    (effect,) = _run(_envelope(event))
    assert isinstance(effect, Ignored) and event in effect.reason


def test_webhook_changelog_merges_with_the_embedded_issue_changelog() -> None:
    issue = rest("jirametrics/complete_sample/sample_issues/SP-5.json")
    newest = issue["changelog"]["histories"][0]  # id 10072: resolution + status -> Done
    same = _envelope(
        "jira:issue_updated", issue=issue, changelog={"id": "10072", "items": newest["items"]}
    )
    (dup,) = _run(same)
    assert isinstance(dup, TaskUpsert)
    ids = [c.external_id for c in dup.changes]
    assert len(ids) == len(set(ids)) == 11  # the payload's history is already embedded
    extra = {"id": "20000", "items": [{"field": "labels", "fromString": "", "toString": "x"}]}
    (merged,) = _run(_envelope("jira:issue_updated", issue=issue, changelog=extra))
    assert isinstance(merged, TaskUpsert)
    added = [c for c in merged.changes if c.external_id == "20000:0"]
    assert [(c.field, c.to_value, c.changed_at) for c in added] == [("labels", "x", AT)]
    assert len(merged.changes) == 12
