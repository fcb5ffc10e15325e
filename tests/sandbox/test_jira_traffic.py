"""Edge behaviour of the sandbox: auth, burst rate limit, 429 storms, injected 5xx, counts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import requests

from sandbox.jira import JiraState


def test_wrong_credentials_get_cloud_401(jira_url):
    r = requests.get(
        f"{jira_url}/rest/api/3/myself", auth=("integration@example.com", "wrong"), timeout=10
    )
    assert r.status_code == 401
    assert r.text == "Client must be authenticated to access this resource."
    assert requests.get(f"{jira_url}/rest/api/3/myself", timeout=10).status_code == 401
    # serverInfo answers anonymously, as on Jira Cloud.
    assert requests.get(f"{jira_url}/rest/api/3/serverInfo", timeout=10).status_code == 200


def test_burst_limit_answers_429_with_jira_cloud_headers(
    jira_state: JiraState, jira_url, jira_http
):
    jira_state.configure(rate_limit_per_second=0.5, rate_limit_burst=3)
    statuses = [jira_http.get(f"{jira_url}/rest/api/3/myself", timeout=10) for _ in range(5)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 429, 429]
    limited = statuses[3]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Reason"] == "jira-burst-based"
    reset = limited.headers["X-RateLimit-Reset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", reset)
    assert datetime.strptime(reset, "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC) >= datetime.now(
        UTC
    ).replace(second=0, microsecond=0)


def test_a_429_storm_hits_the_next_n_requests_then_clears(jira_url, jira_http):
    requests.post(f"{jira_url}/_sandbox/storm", json={"count": 2, "retry_after": 7}, timeout=10)
    first, second, third = (
        jira_http.get(f"{jira_url}/rest/api/3/myself", timeout=10) for _ in range(3)
    )
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "7"


def test_scheduled_faults_target_a_path_and_method(jira_url, jira_http):
    requests.post(
        f"{jira_url}/_sandbox/faults",
        json={
            "rules": [
                {"status": 503, "count": 1, "path": "/search/jql"},
                {"status": 502, "count": 1, "method": "POST"},
            ]
        },
        timeout=10,
    )
    assert jira_http.get(f"{jira_url}/rest/api/3/myself", timeout=10).status_code == 200
    failed = jira_http.get(
        f"{jira_url}/rest/api/3/search/jql", params={"jql": "project = APOLLO"}, timeout=10
    )
    assert failed.status_code == 503 and "Retry-After" not in failed.headers
    gateway = jira_http.post(f"{jira_url}/rest/api/3/worklog/list", json={"ids": []}, timeout=10)
    assert gateway.status_code == 502 and gateway.headers["content-type"].startswith("text/html")
    assert jira_http.get(
        f"{jira_url}/rest/api/3/search/jql", params={"jql": "project = APOLLO"}, timeout=10
    ).ok


def test_error_rate_fails_about_that_share_of_requests(jira_state: JiraState, jira_url, jira_http):
    jira_state.faults.error_rate = 0.5
    codes = [
        jira_http.get(f"{jira_url}/rest/api/3/myself", timeout=10).status_code for _ in range(40)
    ]
    failures = sum(c >= 500 for c in codes)
    assert 8 <= failures <= 32 and set(codes) <= {200, 500, 502, 503, 504}


def test_every_request_is_counted_per_path_and_route(jira_state: JiraState, jira_url, jira_http):
    for key in ("APOLLO-1", "APOLLO-2", "APOLLO-2"):
        jira_http.get(f"{jira_url}/rest/api/3/issue/{key}", timeout=10)
    jira_http.get(f"{jira_url}/rest/api/3/issue/NOPE-9", timeout=10)
    stats = requests.get(f"{jira_url}/_sandbox/stats", timeout=10).json()
    assert stats["by_path"]["GET /rest/api/3/issue/APOLLO-2"] == 2
    assert stats["by_route"]["GET /rest/api/3/issue/{issueIdOrKey}"] == 4
    assert stats["by_status"] == {"200": 3, "404": 1}
    assert jira_state.stats.count("/issue/", method="GET") == 4
    assert stats["total"] == 4  # control calls are not counted
