"""Admin webhooks fired by sandbox mutations: payload shape (as captured), signature,
identifier, retries, duplicates, reordering, and non-blocking control calls."""

from __future__ import annotations

import json
import time

import pytest
import requests

from connectors.jira.webhooks import dedupe_key, verify_signature
from mappings.jira import effects_from_webhook
from mappings.model import TaskUpsert
from sandbox.jira import JiraState
from sandbox.jira.api import register_webhook
from sandbox.jira.mutations import (
    SandboxError,
    create_issue,
    create_project,
    create_version,
    delete_issue,
    edit_issue,
    log_work,
    move_issue,
    release_version,
    transition_issue,
)
from tests.mappings.jira_data import SITE, profile
from tests.realdata import REALDATA

CAPTURED = REALDATA / "jira-webhooks" / "pinpoint"


def _captured_keys(name: str) -> set[str]:
    return set(json.loads((CAPTURED / name).read_text()))


def test_issue_events_have_the_top_level_keys_of_captured_payloads(
    jira_state: JiraState, jira_hook_receiver
):
    register_webhook(jira_state, jira_hook_receiver.url, "s3cret")
    issue = create_issue(jira_state, "APOLLO", "hooked", assignee="ada")
    transition_issue(jira_state, issue.key, "In Progress")
    delete_issue(jira_state, issue.key)
    assert jira_state.flush(10)
    created, updated, deleted = jira_hook_receiver.bodies()
    assert set(created) == _captured_keys("jira__issue_created.json")
    assert set(updated) == _captured_keys("jira__issue_updated.json")
    assert set(deleted) - {"issue_event_type_name"} == _captured_keys("jira__issue_deleted.json")
    assert updated["webhookEvent"] == "jira:issue_updated"
    assert set(updated["changelog"]) == {"id", "items"}
    item = updated["changelog"]["items"][0]
    assert (item["field"], item["fromString"], item["toString"]) == (
        "status",
        "To Do",
        "In Progress",
    )
    assert set(updated["issue"]) == {"expand", "id", "self", "key", "fields"}
    assert "/rest/api/2/" in updated["issue"]["self"]  # admin webhooks carry the v2 shape
    assert updated["issue"]["fields"]["status"]["name"] == "In Progress"


def test_deliveries_are_signed_over_the_raw_body(jira_state: JiraState, jira_hook_receiver):
    register_webhook(jira_state, jira_hook_receiver.url, "s3cret")
    edit_issue(jira_state, "APOLLO-1", {"duedate": "2030-01-31"})
    assert jira_state.flush(10)
    headers, body = jira_hook_receiver.received[0]
    assert headers["X-Hub-Signature"].startswith("sha256=")
    assert verify_signature("s3cret", body, headers["X-Hub-Signature"])
    assert not verify_signature("other", body, headers["X-Hub-Signature"])
    assert not verify_signature("s3cret", body + b" ", headers["X-Hub-Signature"])
    assert dedupe_key(headers, body) == headers["X-Atlassian-Webhook-Identifier"]
    item = json.loads(body)["changelog"]["items"][0]
    assert (item["field"], item["to"], item["toString"]) == (
        "duedate",
        "2030-01-31",
        "2030-01-31 00:00:00.0",
    )


def test_worklog_and_version_events(jira_state: JiraState, jira_hook_receiver):
    register_webhook(
        jira_state, jira_hook_receiver.url, None, ["worklog_created", "jira:version_released"]
    )
    log_work(jira_state, "APOLLO-2", 3600, author="grace")
    version = create_version(jira_state, "APOLLO", "9.9", release_date="2030-01-01")
    release_version(jira_state, version.id)
    assert jira_state.flush(10)
    worklog, released = jira_hook_receiver.bodies()
    assert set(worklog) == {"timestamp", "webhookEvent", "worklog"}
    assert worklog["worklog"]["timeSpentSeconds"] == 3600 and worklog["worklog"]["issueId"]
    assert released["webhookEvent"] == "jira:version_released"
    assert released["version"]["released"] is True and released["version"]["name"] == "9.9"
    headers, _ = jira_hook_receiver.received[0]
    assert "X-Hub-Signature" not in headers  # no secret, no signature


def test_failed_deliveries_are_retried_with_the_same_identifier(
    jira_state: JiraState, jira_hook_receiver
):
    jira_state.configure(webhook_backoff_s=0.01)
    jira_hook_receiver.statuses = [500, 429]
    register_webhook(jira_state, jira_hook_receiver.url, "k", ["jira:issue_created"])
    create_issue(jira_state, "APOLLO", "retry me")
    assert jira_state.flush(10)
    received = jira_hook_receiver.received
    assert len(received) == 3
    assert len({h["X-Atlassian-Webhook-Identifier"] for h, _ in received}) == 1
    assert [h.get("X-Atlassian-Webhook-Retry") for h, _ in received] == [None, "1", "2"]


def test_a_client_error_is_not_retried_and_retries_are_bounded(
    jira_state: JiraState, jira_hook_receiver
):
    jira_state.configure(webhook_backoff_s=0.01, webhook_retries=2)
    jira_hook_receiver.statuses = [400, 503, 503, 503]
    register_webhook(jira_state, jira_hook_receiver.url, "k", ["jira:issue_created"])
    create_issue(jira_state, "APOLLO", "bad request")
    create_issue(jira_state, "APOLLO", "outage")
    assert jira_state.flush(10)
    attempts = jira_state.dispatcher.attempts
    assert [a["status"] for a in attempts] == [400, 503, 503, 503]
    assert [a["attempt"] for a in attempts] == [0, 0, 1, 2]


def test_control_calls_do_not_wait_for_slow_receivers(
    jira_state: JiraState, jira_url, jira_hook_receiver
):
    jira_hook_receiver.delay = 1.0
    requests.post(
        f"{jira_url}/_sandbox/webhooks",
        json={"url": jira_hook_receiver.url, "secret": "k"},
        timeout=10,
    )
    began = time.monotonic()
    r = requests.post(
        f"{jira_url}/_sandbox/issues", json={"project": "APOLLO", "summary": "fast"}, timeout=10
    )
    assert r.status_code == 201 and time.monotonic() - began < 0.5
    flushed = requests.post(f"{jira_url}/_sandbox/flush", json={"timeout": 10}, timeout=15).json()
    assert flushed == {"idle": True} and len(jira_hook_receiver.received) == 1


def test_duplicate_delivery_repeats_the_identifier(jira_state: JiraState, jira_hook_receiver):
    jira_state.configure(webhook_duplicate_probability=1.0)
    register_webhook(jira_state, jira_hook_receiver.url, "k", ["jira:issue_updated"])
    for n in range(3):
        edit_issue(jira_state, "APOLLO-3", {"summary": f"v{n}"})
    assert jira_state.flush(10)
    ids = [h["X-Atlassian-Webhook-Identifier"] for h, _ in jira_hook_receiver.received]
    assert len(ids) == 6 and all(ids.count(i) == 2 for i in ids)


def test_reordering_delivers_queued_events_out_of_order(jira_state: JiraState, jira_hook_receiver):
    jira_state.configure(webhook_reorder_probability=1.0)
    jira_hook_receiver.delay = 0.3  # let the later events queue up behind the first
    register_webhook(jira_state, jira_hook_receiver.url, "k", ["jira:issue_updated"])
    for n in range(4):
        edit_issue(jira_state, "APOLLO-3", {"summary": f"v{n}"})
    assert jira_state.flush(10)
    summaries = [b["changelog"]["items"][0]["toString"] for b in jira_hook_receiver.bodies()]
    assert sorted(summaries) == ["v0", "v1", "v2", "v3"]
    assert summaries != ["v0", "v1", "v2", "v3"]


def test_a_move_to_another_project_has_the_captured_changelog_shape(jira_state: JiraState, jira_hook_receiver):
    """Jira's Move (captured: pinpoint ``jira__issue_updated.project``): ``issue_moved``, a
    ``project`` item by the projects' ids with their names as strings, a ``Key`` item without ids
    or fieldId; the issue keeps its id, takes the target's next key, its old key still finds it.
    The mapping stores the move by the projects' ids, which the risk view replays."""
    register_webhook(jira_state, jira_hook_receiver.url, "s3cret")
    target = create_project(jira_state, "ZEUS", "Zeus")
    issue = jira_state.issue("APOLLO-3")
    assert issue is not None
    source = jira_state.projects[issue.project_id]
    moved = move_issue(jira_state, "APOLLO-3", "ZEUS")
    assert (moved.id, moved.key, moved.project_id) == (issue.id, "ZEUS-1", target.id)
    assert jira_state.issue("APOLLO-3") is moved and jira_state.issue("ZEUS-1") is moved
    assert jira_state.flush(10)
    (body,) = jira_hook_receiver.bodies()
    assert (body["webhookEvent"], body["issue_event_type_name"]) == ("jira:issue_updated", "issue_moved")
    items = body["changelog"]["items"]
    assert items[0] == {"field": "project", "fieldtype": "jira", "fieldId": "project", "from": str(source.id),
                        "fromString": source.name, "to": str(target.id), "toString": "Zeus"}
    assert items[-1] == {"field": "Key", "fieldtype": "jira", "from": None, "fromString": "APOLLO-3", "to": None,
                         "toString": "ZEUS-1"}
    captured = json.loads((CAPTURED / "jira__issue_updated.project.json").read_text())
    assert {k for i in captured["changelog"]["items"] for k in i} >= {k for i in items for k in i}
    assert body["issue"]["fields"]["project"]["key"] == "ZEUS"
    (upsert,) = effects_from_webhook(body, site_url=SITE, profile=profile())
    assert isinstance(upsert, TaskUpsert)
    (change,) = [c for c in upsert.changes if c.field == "project"]
    assert (change.from_value, change.to_value) == (str(source.id), str(target.id))
    with pytest.raises(SandboxError, match="already in project"):
        move_issue(jira_state, "ZEUS-1", "ZEUS")
