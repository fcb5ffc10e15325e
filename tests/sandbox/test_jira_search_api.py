"""Search over HTTP: Cloud ``search/jql`` (tokens, caps, defaults), the removed ``/search``
(410 on Cloud), and Data Center ``/rest/api/2/search`` (startAt/total)."""

from __future__ import annotations

import requests

from sandbox.jira import JiraConfig, JiraState, generate, start
from sandbox.jira.api_search import REMOVED_SEARCH_MESSAGE
from sandbox.jira.mutations import create_issue, edit_issue


def test_old_search_is_gone_on_cloud_with_the_real_message(jira_url, jira_http):
    for version in ("2", "3"):
        r = jira_http.get(
            f"{jira_url}/rest/api/{version}/search", params={"jql": "project = APOLLO"}, timeout=10
        )
        assert r.status_code == 410
        assert r.json()["errorMessages"][0].startswith(
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API"
        )
    assert REMOVED_SEARCH_MESSAGE in r.text


def test_unbounded_jql_is_a_400_with_jiras_error_body(jira_url, jira_http):
    r = jira_http.get(
        f"{jira_url}/rest/api/3/search/jql", params={"jql": "order by key desc"}, timeout=10
    )
    assert r.status_code == 400
    body = r.json()
    assert body["errors"] == {} and "Unbounded JQL" in body["errorMessages"][0]


def test_default_fields_are_ids_only(jira_url, jira_http):
    r = jira_http.get(
        f"{jira_url}/rest/api/3/search/jql", params={"jql": "project = APOLLO"}, timeout=10
    )
    issues = r.json()["issues"]
    assert len(issues) == 30 and all(set(i) == {"id"} for i in issues)


def test_token_paging_returns_every_issue_exactly_once(jira_state: JiraState, jira_url, jira_http):
    seen: list[str] = []
    params = {
        "jql": "project in (APOLLO, BEACON) ORDER BY updated ASC",
        "fields": "summary,updated",
        "maxResults": 7,
    }
    pages = 0
    while True:
        body = jira_http.get(f"{jira_url}/rest/api/3/search/jql", params=params, timeout=10).json()
        pages += 1
        seen += [i["id"] for i in body["issues"]]
        if body["isLast"]:
            assert "nextPageToken" not in body
            break
        params["nextPageToken"] = body["nextPageToken"]
    assert pages == 9  # 60 issues, 7 per page
    assert len(seen) == len(set(seen)) == 60
    updated = [jira_state.issues[int(i)].updated for i in seen]
    assert updated == sorted(updated)


def test_post_search_takes_a_json_body(jira_url, jira_http):
    body = {
        "jql": "project = CIRRUS",
        "fields": ["summary"],
        "maxResults": 100,
        "expand": "changelog",
    }
    r = jira_http.post(f"{jira_url}/rest/api/3/search/jql", json=body, timeout=10)
    assert r.status_code == 200
    issues = r.json()["issues"]
    assert (
        len(issues) == 30 and set(issues[0]["fields"]) == {"summary"} and "changelog" in issues[0]
    )


def test_page_size_is_capped_at_100_with_fields_and_5000_for_ids(jira_url, jira_http):
    state = JiraState(JiraConfig())
    generate(state, projects=1, issues_per_project=150, seed=1)
    url, stop = start(state)
    try:
        http = requests.Session()
        http.auth = jira_http.auth
        many = http.get(
            f"{url}/rest/api/3/search/jql",
            params={"jql": "project = APOLLO", "fields": "*all", "maxResults": 1000},
            timeout=10,
        ).json()
        ids = http.get(
            f"{url}/rest/api/3/search/jql",
            params={"jql": "project = APOLLO", "fields": "id", "maxResults": 1000},
            timeout=10,
        ).json()
    finally:
        stop()
    assert len(many["issues"]) == 100 and many["isLast"] is False
    assert len(ids["issues"]) == 150 and ids["isLast"] is True


def test_search_truncates_changelog_to_20_but_the_issue_has_it_all(
    jira_state: JiraState, jira_url, jira_http
):
    issue = create_issue(jira_state, "APOLLO", "busy issue")
    for n in range(25):
        edit_issue(jira_state, issue.key, {"summary": f"rename {n}"})
    found = jira_http.get(
        f"{jira_url}/rest/api/3/search/jql",
        params={"jql": f"key = {issue.key}", "fields": "summary", "expand": "changelog"},
        timeout=10,
    ).json()["issues"][0]["changelog"]
    assert found["total"] == 25 and len(found["histories"]) == 20
    # The latest 20, newest first (as Jira embeds them): renames 24 down to 5.
    names = [h["items"][0]["toString"] for h in found["histories"]]
    assert names == [f"rename {n}" for n in range(24, 4, -1)]
    full = jira_http.get(
        f"{jira_url}/rest/api/3/issue/{issue.key}", params={"expand": "changelog"}, timeout=10
    ).json()
    assert len(full["changelog"]["histories"]) == 25


def test_data_center_search_pages_by_start_at_with_a_total():
    state = JiraState(JiraConfig(deployment="DataCenter"))
    generate(state, projects=2, issues_per_project=25, seed=5)
    url, stop = start(state)
    try:
        http = requests.Session()
        http.headers["Authorization"] = "Bearer sandbox-pat"
        seen: list[str] = []
        start_at = 0
        while True:
            body = http.get(
                f"{url}/rest/api/2/search",
                params={
                    "jql": "project = BEACON ORDER BY key",
                    "startAt": start_at,
                    "maxResults": 10,
                    "fields": "summary",
                },
                timeout=10,
            ).json()
            assert body["total"] == 25 and body["startAt"] == start_at
            seen += [i["key"] for i in body["issues"]]
            start_at += len(body["issues"])
            if start_at >= body["total"]:
                break
        assert seen == [f"BEACON-{n}" for n in range(1, 26)]
    finally:
        stop()
