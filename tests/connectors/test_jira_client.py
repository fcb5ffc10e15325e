"""JiraClient against the running sandbox, through the real ``jira`` library."""

from __future__ import annotations

import pytest

from connectors.errors import Fatal, NotFound, RateLimited, Transient, Unauthorized
from connectors.jira import JiraAuth, JiraClient
from sandbox.jira import JiraConfig, JiraState, generate, start
from sandbox.jira.limits import FaultRule
from sandbox.jira.mutations import delete_worklog, log_work
from tests.connectors.conftest import DC_AUTH, SANDBOX_OUTBOUND

ALL = "project in (APOLLO, BEACON, CIRRUS)"


def test_cloud_is_detected_from_server_info_and_v3_is_used(jira_site, jira_client):
    _url, state = jira_site
    client = jira_client()
    assert client.is_cloud is True
    assert client.server_info()["deploymentType"] == "Cloud"
    assert client.time_zone() == "America/Los_Angeles"
    paths = state.stats.snapshot()["by_path"]
    assert paths["GET /rest/api/2/serverInfo"] == 1  # the constructor's probe
    assert paths["GET /rest/api/3/myself"] == 1 and paths["GET /rest/api/3/serverInfo"] == 1


def test_data_center_is_detected_and_paged_by_start_at(fake_sleep):
    state = JiraState(JiraConfig(deployment="DataCenter"))
    generate(state, projects=2, issues_per_project=45, seed=4)
    url, stop = start(state)
    try:
        client = JiraClient(
            url, DC_AUTH, sleep=fake_sleep, page_size=20, timeout=5, outbound=SANDBOX_OUTBOUND
        )
        assert client.is_cloud is False
        pages = list(
            client.iter_search("project = BEACON ORDER BY key", fields=["summary", "status"])
        )
        keys = [i["key"] for p in pages for i in p.issues]
        assert keys == [f"BEACON-{n}" for n in range(1, 46)]
        assert [p.next_start_at for p in pages] == [20, 40, None] and pages[0].total == 45
        assert "accountId" not in (client.myself())
        assert state.stats.count("/rest/api/3/") == 0
        resumed = list(
            client.iter_search(
                "project = BEACON ORDER BY key", fields=["summary"], resume_token="40"
            )
        )
        assert [i["key"] for p in resumed for i in p.issues] == [
            f"BEACON-{n}" for n in range(41, 46)
        ]
    finally:
        stop()


def test_token_paging_collects_every_issue_exactly_once(jira_site, jira_client):
    _url, state = jira_site
    client = jira_client(page_size=17)
    pages = list(
        client.iter_search(f"{ALL} ORDER BY updated ASC", fields=["summary", "updated", "status"])
    )
    ids = [i["id"] for p in pages for i in p.issues]
    assert len(ids) == len(set(ids)) == 120
    assert len(pages) == 8 and pages[-1].is_last and pages[-1].next_page_token is None
    assert all(p.next_page_token for p in pages[:-1])
    assert state.stats.count("/rest/api/3/search/jql") == 8


def test_a_scan_resumes_from_a_saved_token(jira_client):
    client = jira_client(page_size=50)
    first = client.search_page(f"{ALL} ORDER BY updated ASC", fields=["updated"])
    rest = list(
        client.iter_search(
            f"{ALL} ORDER BY updated ASC", fields=["updated"], resume_token=first.next_page_token
        )
    )
    ids = [i["id"] for i in first.issues] + [i["id"] for p in rest for i in p.issues]
    assert len(ids) == len(set(ids)) == 120


def test_census_gets_all_ids_in_one_call_per_5000(jira_site, jira_client):
    _url, state = jira_site
    client = jira_client()
    assert sorted(client.issue_ids(ALL), key=int) == [str(i) for i in sorted(state.issues)]
    assert state.stats.count("/search/jql") == 1


def test_worklogs_are_paged_beyond_one_page(jira_site, jira_client):
    _url, state = jira_site
    state.configure(worklog_page_max=2)
    for n in range(5):
        log_work(state, "APOLLO-3", 60 * (n + 1))
    issue = state.issue("APOLLO-3")
    logs = jira_client().worklogs(str(issue.id))
    assert [int(w["id"]) for w in logs] == issue.worklog_ids
    assert state.stats.count(f"/issue/{issue.id}/worklog") == -(-len(issue.worklog_ids) // 2)


def test_worklog_feeds_page_until_the_last_page(jira_site, jira_client):
    _url, state = jira_site
    state.configure(worklog_feed_page_size=10)
    doomed = sorted(state.worklogs)[:3]
    for wid in doomed:
        delete_worklog(state, wid)
    client = jira_client()
    pages = list(client.worklogs_updated_since(0))
    ids = [v["worklogId"] for p in pages for v in p.values]
    assert sorted(ids) == sorted(state.worklogs) and len(pages) > 1 and pages[-1].last_page
    assert all(a.until == b.since for a, b in zip(pages, pages[1:], strict=False))
    deleted = [v["worklogId"] for p in client.worklogs_deleted_since(0) for v in p.values]
    assert deleted == doomed
    full = client.worklog_list(ids)
    assert {int(w["id"]) for w in full} == set(ids) and all("timeSpentSeconds" in w for w in full)


def test_issue_with_changelog_and_paged_changelog(jira_site, jira_client):
    _url, state = jira_site
    state.configure(changelog_page_max=1)
    issue = max(state.issues.values(), key=lambda i: len(i.histories or []))
    client = jira_client()
    raw = client.issue(issue.key)
    assert raw["id"] == str(issue.id) and raw["fields"]["summary"] == issue.summary
    assert len(raw["changelog"]["histories"]) == len(issue.histories)
    history = client.issue_changelog(str(issue.id))
    assert [h["id"] for h in history] == [str(h.id) for h in issue.histories]


def test_status_catalogue_is_one_request_v3_on_cloud_and_v2_on_data_center(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    client = jira_client()
    client.connect()
    before = client.api_calls
    statuses = client.statuses()
    assert client.api_calls == before + 1
    assert state.stats.snapshot()["by_path"]["GET /rest/api/3/status"] == 1
    by_id = {s["id"]: s for s in statuses}
    assert by_id["3"]["name"] == "In Progress" and by_id["3"]["statusCategory"]["key"] == "indeterminate"
    dc_state = JiraState(JiraConfig(deployment="DataCenter"))
    generate(dc_state, projects=1, issues_per_project=3, seed=4)
    url, stop = start(dc_state)
    try:
        dc = JiraClient(url, DC_AUTH, sleep=fake_sleep, timeout=5, outbound=SANDBOX_OUTBOUND)
        assert {s["id"] for s in dc.statuses()} >= {"3", "10000", "10002"}
        assert dc_state.stats.snapshot()["by_path"]["GET /rest/api/2/status"] == 1
        assert dc_state.stats.count("/rest/api/3/") == 0
        with pytest.raises(Fatal, match="no changelog/bulkfetch"):
            list(dc.bulk_changelog(["1"]))
    finally:
        stop()
        dc_state.close()


def test_bulk_changelog_reads_every_history_of_many_issues_in_few_requests(jira_site, jira_client):
    _url, state = jira_site
    issues = sorted(state.issues.values(), key=lambda i: i.id)
    client = jira_client()
    client.connect()
    before = client.api_calls
    pages = list(client.bulk_changelog([str(i.id) for i in issues]))
    assert client.api_calls - before == len(pages) == 1  # 120 issues, < 10,000 histories: one page
    got: dict[str, list[str]] = {}
    for page in pages:
        for log in page["issueChangeLogs"]:
            got.setdefault(log["issueId"], []).extend(h["id"] for h in log["changeHistories"])
    want = {str(i.id): [str(h.id) for h in i.histories] for i in issues if i.histories}
    assert {k: sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in want.items()}


def test_projects_and_versions(jira_client):
    client = jira_client()
    assert [p["key"] for p in client.projects()] == ["APOLLO", "BEACON", "CIRRUS"]
    versions = client.project_versions("APOLLO")
    assert len(versions) == 5 and {"id", "name", "released", "releaseDate"} <= set(versions[0])
    assert any(v.get("overdue") for v in versions)


def test_missing_issue_is_not_found_without_retry(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    with pytest.raises(NotFound) as info:
        jira_client().issue("APOLLO-9999")
    assert info.value.status == 404 and "APOLLO-9999" in str(info.value)
    assert fake_sleep.waits == [] and state.stats.count("/issue/APOLLO-9999") == 1


def test_wrong_credentials_are_unauthorized_without_retry(jira_site, jira_client, fake_sleep):
    client = jira_client(auth=JiraAuth.cloud("integration@example.com", "wrong-token"))
    with pytest.raises(Unauthorized) as info:
        client.myself()
    assert info.value.status == 401 and "wrong-token" not in str(info.value)
    assert fake_sleep.waits == []


def test_a_429_storm_is_survived_waiting_at_least_retry_after(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    client = jira_client()
    client.connect()
    state.faults.storm(3, retry_after=7)
    assert client.myself()["accountId"]
    assert len(fake_sleep.waits) == 3 and all(w >= 7 for w in fake_sleep.waits)
    assert state.stats.count("/myself") == 4


def test_the_constructor_probe_is_retried_too(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    state.faults.storm(2, retry_after=3, path="/serverInfo")
    assert jira_client().is_cloud
    assert fake_sleep.waits and min(fake_sleep.waits) >= 3


def test_server_errors_are_retried_for_reads(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    client = jira_client()
    client.connect()
    state.faults.rules.append(FaultRule(502, count=2, path="/search/jql"))
    page = client.search_page(f"{ALL} ORDER BY id", fields=["summary"])
    assert len(page.issues) == 100 and len(fake_sleep.waits) == 2
    assert state.stats.by_status[502] == 2


def test_retries_are_bounded_and_the_last_error_is_raised(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    client = jira_client(max_attempts=3)
    client.connect()
    state.faults.rules.append(FaultRule(503, count=10, path="/myself", retry_after=2))
    with pytest.raises(RateLimited) as info:  # a 503 with Retry-After is a rate limit
        client.myself()
    assert info.value.retry_after == 2 and len(fake_sleep.waits) == 2


def test_a_post_write_is_never_retried(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    client = jira_client()
    client.connect()
    state.faults.rules.append(FaultRule(503, count=1, method="POST"))
    with pytest.raises(Transient):
        client.register_webhook(
            "http://127.0.0.1:9/hook", events=["jira:issue_updated"], secret="k"
        )
    assert (
        fake_sleep.waits == []
        and state.stats.count("/rest/webhooks/1.0/webhook", method="POST") == 1
    )
    hook = client.register_webhook(
        "http://127.0.0.1:9/hook", events=["jira:issue_updated"], secret="k"
    )
    assert hook["url"] == "http://127.0.0.1:9/hook" and state.webhooks[1].secret == "k"


def test_admin_webhooks_are_listed_and_deleted_and_a_non_admin_gets_unauthorized(jira_site, jira_client):
    _url, state = jira_site
    client = jira_client()
    hook = client.register_webhook("http://127.0.0.1:9/hook", events=["jira:issue_updated"])
    hook_id = hook["self"].rsplit("/", 1)[1]
    assert [h["url"] for h in client.webhooks()] == ["http://127.0.0.1:9/hook"]
    client.delete_webhook(hook_id)
    assert client.webhooks() == [] and state.webhooks == {}
    state.faults.rules.append(FaultRule(403, count=1, path="/rest/webhooks"))
    with pytest.raises(Unauthorized) as info:
        client.delete_webhook(hook_id)
    assert info.value.status == 403


def test_timeouts_and_refused_connections_are_transient(jira_site, jira_client, fake_sleep):
    _url, state = jira_site
    client = jira_client(timeout=0.2, max_attempts=2)
    client.connect()
    state.faults.latency_ms = 600
    with pytest.raises(Transient):
        client.myself()
    state.faults.latency_ms = 0
    refused = JiraClient(
        "http://127.0.0.1:9",
        JiraAuth.cloud("a@b.c", "t"),
        outbound=SANDBOX_OUTBOUND,
        sleep=fake_sleep,
        max_attempts=2,
        timeout=1,
    )
    with pytest.raises(Transient):
        refused.connect()


def test_api_calls_counts_every_request_made(jira_site, jira_client):
    _url, state = jira_site
    client = jira_client(page_size=50)
    list(client.iter_search(ALL + " ORDER BY id", fields=["summary"]))
    client.project_versions("BEACON")
    assert client.api_calls == state.stats.total
