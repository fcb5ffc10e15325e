"""The simulated Data Center announces worklog changes as Jira Server/DC does
(VENDOR_FACTS A10): one ``jira:worklog_updated`` issue event per change, told apart by
``issue_event_type_name``, with the full issue and the changelog entry naming the worklog;
no ``worklog_*`` events and no worklog object. Cloud keeps its own events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.jira import JiraConfig, JiraState, generate
from sandbox.jira.api import register_webhook
from sandbox.jira.mutations import delete_worklog, log_work, update_worklog
from tests.mappings.jira_dc_worklog_constructed import constructed_dc_worklog_event


@pytest.fixture
def dc_state() -> Iterator[JiraState]:
    state = JiraState(JiraConfig(deployment="DataCenter", worklog_feed_delay_ms=0))
    generate(state, projects=1, issues_per_project=5, seed=11)
    yield state
    state.close()


def _one(state: JiraState, receiver: Any, before: int) -> dict[str, Any]:
    assert state.flush(10)
    bodies = receiver.bodies()
    assert len(bodies) == before + 1, bodies[before:]
    body: dict[str, Any] = bodies[-1]
    return body


def _items(body: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {i["field"]: (i["from"], i["to"]) for i in body["changelog"]["items"]}


def test_log_update_and_delete_each_fire_one_jira_worklog_updated(dc_state: JiraState, jira_hook_receiver):
    register_webhook(dc_state, jira_hook_receiver.url, "s3cret")  # every event
    key = "APOLLO-2"
    issue = dc_state.issue(key)
    assert issue is not None
    spent = issue.time_spent

    wl = log_work(dc_state, key, 3600, author="grace")
    logged = _one(dc_state, jira_hook_receiver, 0)
    update_worklog(dc_state, wl.id, seconds=5400)
    updated = _one(dc_state, jira_hook_receiver, 1)
    update_worklog(dc_state, wl.id, comment="only words")
    reworded = _one(dc_state, jira_hook_receiver, 2)
    delete_worklog(dc_state, wl.id)
    deleted = _one(dc_state, jira_hook_receiver, 3)

    bodies = [logged, updated, reworded, deleted]
    assert {b["webhookEvent"] for b in bodies} == {"jira:worklog_updated"}
    assert [b["issue_event_type_name"] for b in bodies] == [
        "issue_work_logged", "issue_worklog_updated", "issue_worklog_updated", "issue_worklog_deleted"]
    for b in bodies:
        assert set(b) == {"timestamp", "webhookEvent", "issue_event_type_name", "user", "issue", "changelog"}
        assert b["issue"]["id"] == str(issue.id) and "/rest/api/2/" in b["issue"]["self"]
    wid = str(wl.id)
    assert _items(logged) == {"timespent": (_num(spent), str(spent + 3600)), "WorklogId": (None, wid)}
    assert _items(updated) == {"timespent": (str(spent + 3600), str(spent + 5400)), "WorklogId": (wid, wid)}
    assert _items(reworded) == {"WorklogId": (wid, wid)}
    assert _items(deleted) == {"timespent": (str(spent + 5400), str(spent)), "WorklogId": (wid, None)}
    assert logged["issue"]["fields"]["timespent"] == spent + 3600
    assert deleted["issue"]["fields"]["timespent"] == (spent or None)


def _num(seconds: int) -> str | None:
    return str(seconds) if seconds else None


def test_the_webhook_changelog_is_the_issue_history_a_poll_reads(dc_state: JiraState, jira_hook_receiver):
    register_webhook(dc_state, jira_hook_receiver.url)
    wl = log_work(dc_state, "APOLLO-3", 600)
    body = _one(dc_state, jira_hook_receiver, 0)
    issue = dc_state.issue("APOLLO-3")
    assert issue is not None and issue.histories
    last = issue.histories[-1]
    assert body["changelog"]["id"] == str(last.id)
    assert [(i.field, i.to) for i in last.items] == [("timespent", _num(issue.time_spent)), ("WorklogId", str(wl.id))]


def test_the_sandbox_body_has_the_shape_of_the_constructed_fixture(dc_state: JiraState, jira_hook_receiver):
    register_webhook(dc_state, jira_hook_receiver.url)
    log_work(dc_state, "APOLLO-1", 600)
    sent = _one(dc_state, jira_hook_receiver, 0)
    fixture = constructed_dc_worklog_event("issue_work_logged")
    assert set(sent) == set(fixture)
    assert [set(i) for i in sent["changelog"]["items"]] == [set(i) for i in fixture["changelog"]["items"]]


def test_cloud_still_fires_worklog_events_and_issue_updated(jira_state: JiraState, jira_hook_receiver):
    register_webhook(jira_state, jira_hook_receiver.url)
    log_work(jira_state, "APOLLO-2", 600)
    assert jira_state.flush(10)
    events = sorted(b["webhookEvent"] for b in jira_hook_receiver.bodies())
    assert events == ["jira:issue_updated", "worklog_created"]
    (issue_updated,) = [b for b in jira_hook_receiver.bodies() if b["webhookEvent"] == "jira:issue_updated"]
    assert [i["field"] for i in issue_updated["changelog"]["items"]] == ["timespent"]
