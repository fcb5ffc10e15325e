"""Worklog endpoints: per-issue paging, the updated/deleted feeds (exclusive ``since``,
oldest first, 1000 per page, never the last minute) and ``POST /worklog/list``."""

from __future__ import annotations

import pytest
import requests

from sandbox.jira import JiraConfig, JiraState, start
from sandbox.jira.mutations import (
    create_issue,
    create_project,
    delete_worklog,
    log_work,
    update_worklog,
)

T0 = 1_700_000_000_000


@pytest.fixture
def site() -> JiraState:
    clock = {"now": T0 / 1000}
    state = JiraState(
        JiraConfig(worklog_feed_page_size=4, worklog_page_max=3), clock=lambda: clock["now"]
    )
    state.clock_box = clock  # type: ignore[attr-defined]
    create_project(state, "ALPHA")
    create_issue(state, "ALPHA", "timed", created=T0)
    for n in range(7):
        log_work(state, "ALPHA-1", 600 * (n + 1), author="integration", at=T0 + n * 1000)
    return state


@pytest.fixture
def served(site: JiraState):
    url, stop = start(site)
    http = requests.Session()
    http.auth = ("integration@example.com", "sandbox-api-token")
    yield url, http
    stop()


def _advance(site: JiraState, ms: int) -> None:
    site.clock_box["now"] += ms / 1000  # type: ignore[attr-defined]


def test_issue_worklogs_are_paged_with_start_at_and_total(site, served):
    url, http = served
    page = http.get(
        f"{url}/rest/api/3/issue/ALPHA-1/worklog", params={"maxResults": 100}, timeout=10
    ).json()
    assert (page["startAt"], page["maxResults"], page["total"], len(page["worklogs"])) == (
        0,
        3,
        7,
        3,
    )
    last = http.get(
        f"{url}/rest/api/3/issue/ALPHA-1/worklog", params={"startAt": 6}, timeout=10
    ).json()
    assert [w["timeSpentSeconds"] for w in last["worklogs"]] == [4200]


def test_feed_hides_the_last_minute(site, served):
    url, http = served
    feed = http.get(f"{url}/rest/api/3/worklog/updated", params={"since": 0}, timeout=10).json()
    assert feed["values"] == [] and feed["lastPage"] is True
    _advance(site, 61_000)  # now T0+61s: only changes up to T0+1s are a minute old
    feed = http.get(f"{url}/rest/api/3/worklog/updated", params={"since": 0}, timeout=10).json()
    assert [v["updatedTime"] for v in feed["values"]] == [T0, T0 + 1000] and feed[
        "lastPage"
    ] is True
    _advance(site, 60_000)
    feed = http.get(f"{url}/rest/api/3/worklog/updated", params={"since": 0}, timeout=10).json()
    assert len(feed["values"]) == 4 and feed["lastPage"] is False


def test_feed_pages_are_oldest_first_and_resume_from_until(site, served):
    url, http = served
    _advance(site, 120_000)
    seen, since = [], 0
    while True:
        feed = http.get(
            f"{url}/rest/api/3/worklog/updated", params={"since": since}, timeout=10
        ).json()
        seen += feed["values"]
        if feed["lastPage"]:
            break
        assert feed["nextPage"].endswith(f"since={feed['until']}")
        since = feed["until"]
    times = [v["updatedTime"] for v in seen]
    assert len(seen) == 7 and times == sorted(times) and times[0] == T0


def test_updates_move_a_worklog_and_deletions_go_to_the_deleted_feed(site, served):
    url, http = served
    first, second = sorted(site.worklogs)[:2]
    update_worklog(site, first, seconds=60, at=T0 + 50_000)
    delete_worklog(site, second, at=T0 + 51_000)
    _advance(site, 200_000)
    updated = http.get(
        f"{url}/rest/api/3/worklog/updated", params={"since": T0 + 10_000}, timeout=10
    ).json()
    assert [v["worklogId"] for v in updated["values"]] == [first]
    deleted = http.get(f"{url}/rest/api/3/worklog/deleted", params={"since": T0}, timeout=10).json()
    assert [(v["worklogId"], v["updatedTime"]) for v in deleted["values"]] == [
        (second, T0 + 51_000)
    ]
    assert site.issue("ALPHA-1").time_spent == sum(w.seconds for w in site.worklogs.values())


def test_one_timestamp_is_never_split_across_feed_pages(site, served):
    url, http = served
    for _ in range(6):
        log_work(site, "ALPHA-1", 60, at=T0 + 90_000)  # six updates in the same millisecond
    _advance(site, 300_000)
    feed = http.get(
        f"{url}/rest/api/3/worklog/updated", params={"since": T0 + 6000}, timeout=10
    ).json()
    assert len(feed["values"]) == 6 and feed["lastPage"] is True


def test_worklog_list_takes_at_most_1000_ids(site, served):
    url, http = served
    ids = sorted(site.worklogs)
    found = http.post(f"{url}/rest/api/3/worklog/list", json={"ids": ids + [1]}, timeout=10).json()
    assert [int(w["id"]) for w in found] == ids
    too_many = http.post(
        f"{url}/rest/api/3/worklog/list", json={"ids": list(range(1001))}, timeout=10
    )
    assert too_many.status_code == 400 and too_many.json()["errorMessages"]
