"""The Jira sandbox answers in Jira's own shapes: envelopes validated against the
platform OpenAPI document, field values against captured Cloud responses."""

from __future__ import annotations

import json
import re

import pytest
import requests

from sandbox.jira import JiraState, start
from sandbox.jira.records import SPRINT_FIELD, STORY_POINTS_FIELD
from tests.realdata import REALDATA
from tests.sandbox.jira_openapi import validate

JIRA_DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")


def _get(http: requests.Session, url: str, **params: object) -> object:
    r = http.get(url, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_server_info_myself_and_fields_match_the_openapi_schemas(jira_url, jira_http):
    info = _get(jira_http, f"{jira_url}/rest/api/3/serverInfo")
    validate(info, "ServerInformation")
    assert info["deploymentType"] == "Cloud"
    me = _get(jira_http, f"{jira_url}/rest/api/3/myself")
    validate(me, "User")
    assert me["timeZone"] == "America/Los_Angeles"
    fields = _get(jira_http, f"{jira_url}/rest/api/3/field")
    validate(fields, "FieldDetails", array=True)
    by_name = {f["name"]: f["id"] for f in fields}
    # Site-specific ids, not the ones most fixtures show: discovery must be exercised.
    assert by_name["Story Points"] == STORY_POINTS_FIELD == "customfield_10028"
    assert by_name["Sprint"] == SPRINT_FIELD == "customfield_10021"
    assert by_name["Epic Link"] == "customfield_10014"


def test_search_page_issue_and_changelog_match_the_openapi_schemas(jira_url, jira_http):
    page = _get(
        jira_http,
        f"{jira_url}/rest/api/3/search/jql",
        jql="project = APOLLO ORDER BY updated ASC",
        fields="*all",
        expand="changelog",
        maxResults=5,
    )
    validate(page, "SearchAndReconcileResults")
    assert "total" not in page and page["isLast"] is False and page["nextPageToken"]
    issue_id = next(i["id"] for i in page["issues"] if i["changelog"]["total"] > 0)
    issue = _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue_id}", expand="changelog")
    validate(issue, "IssueBean")
    changelog = _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue_id}/changelog")
    validate(changelog, "PageBeanChangelog")
    assert changelog["total"] == issue["changelog"]["total"] == len(changelog["values"])


def test_worklog_pages_and_feeds_match_the_openapi_schemas(
    jira_state: JiraState, jira_url, jira_http
):
    issue_id = next(i.id for i in jira_state.issues.values() if i.worklog_ids)
    validate(_get(jira_http, f"{jira_url}/rest/api/3/issue/{issue_id}/worklog"), "PageOfWorklogs")
    feed = _get(jira_http, f"{jira_url}/rest/api/3/worklog/updated", since=0)
    validate(feed, "ChangedWorklogs")
    validate(_get(jira_http, f"{jira_url}/rest/api/3/worklog/deleted", since=0), "ChangedWorklogs")
    ids = [v["worklogId"] for v in feed["values"]][:5]
    listed = jira_http.post(
        f"{jira_url}/rest/api/3/worklog/list", json={"ids": ids}, timeout=10
    ).json()
    validate(listed, "Worklog", array=True)
    assert [int(w["id"]) for w in listed] == sorted(ids)


def test_projects_and_versions_match_the_openapi_schemas(jira_url, jira_http):
    validate(_get(jira_http, f"{jira_url}/rest/api/3/project/search"), "PageBeanProject")
    validate(_get(jira_http, f"{jira_url}/rest/api/3/project"), "Project", array=True)
    versions = _get(jira_http, f"{jira_url}/rest/api/3/project/APOLLO/versions")
    validate(versions, "Version", array=True)
    assert {v["released"] for v in versions} == {True, False}
    assert any(v.get("overdue") for v in versions), (
        "the seed has an unreleased version past its date"
    )


def test_issue_fields_look_like_a_captured_cloud_issue(jira_state: JiraState, jira_url, jira_http):
    captured = json.loads((REALDATA / "jira-rest/airbyte/issues.json").read_text())["issues"][0][
        "fields"
    ]
    issue = next(
        i for i in jira_state.issues.values() if i.assignee and i.resolved and i.time_spent
    )
    fields = _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue.key}")["fields"]
    for name in (
        "status",
        "issuetype",
        "priority",
        "project",
        "assignee",
        "timetracking",
        "labels",
        "fixVersions",
        "created",
        "updated",
        "resolutiondate",
        "duedate",
        "timespent",
    ):
        assert name in captured and name in fields
    assert set(fields["status"]["statusCategory"]) == set(captured["status"]["statusCategory"])
    assert fields["status"]["statusCategory"]["key"] == "done"
    # The captured assignee is most likely the capturing account ("integration test"), whose own
    # email a caller sees; another user's is there only if their profile shows it
    # (test_jira_user_privacy.py).
    assert set(captured["assignee"]) - {"avatarUrls", "emailAddress"} <= set(fields["assignee"])
    assert all(JIRA_DT.match(fields[k]) for k in ("created", "updated", "resolutiondate"))
    assert fields["timetracking"]["timeSpentSeconds"] == fields["timespent"] == issue.time_spent
    assert isinstance(fields["id" if "id" in fields else "summary"], str)


def test_v3_text_is_adf_and_v2_text_is_wiki_markup(jira_state: JiraState, jira_url, jira_http):
    issue = next(i for i in jira_state.issues.values() if i.description)
    v3 = _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue.id}", fields="description")
    v2 = _get(jira_http, f"{jira_url}/rest/api/2/issue/{issue.id}", fields="description")
    assert v3["fields"]["description"]["type"] == "doc"
    assert v3["fields"]["description"]["content"][0]["content"][0]["text"] == issue.description
    assert v2["fields"]["description"] == issue.description


def test_cloud_sprint_field_is_a_list_of_objects(jira_state: JiraState, jira_url, jira_http):
    issue = next(i for i in jira_state.issues.values() if i.sprint_ids)
    sprint = _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue.id}")["fields"][SPRINT_FIELD]
    assert sprint[0]["id"] == issue.sprint_ids[0] and sprint[0]["state"] in (
        "active",
        "closed",
        "future",
    )


def test_unknown_issue_answers_jiras_404_body(jira_url, jira_http):
    r = jira_http.get(f"{jira_url}/rest/api/3/issue/NOPE-1", timeout=10)
    assert r.status_code == 404
    assert r.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


@pytest.fixture
def dc_url() -> object:
    from sandbox.jira import JiraConfig, generate

    state = JiraState(JiraConfig(deployment="DataCenter"))
    generate(state, projects=1, issues_per_project=30, seed=3)
    url, stop = start(state)
    yield url, state
    stop()


def test_data_center_mode_speaks_v2_with_names_keys_and_sprint_strings(dc_url):
    url, state = dc_url
    http = requests.Session()
    http.headers["Authorization"] = "Bearer sandbox-pat"
    info = http.get(f"{url}/rest/api/2/serverInfo", timeout=10).json()
    assert info["deploymentType"] == "DataCenter"
    assert http.get(f"{url}/rest/api/3/myself", timeout=10).status_code == 404
    assert (
        http.get(
            f"{url}/rest/api/2/search/jql", params={"jql": "project = APOLLO"}, timeout=10
        ).status_code
        == 404
    )
    issue = next(i for i in state.issues.values() if i.assignee and i.sprint_ids)
    fields = http.get(f"{url}/rest/api/2/issue/{issue.key}", timeout=10).json()["fields"]
    assert "accountId" not in fields["assignee"] and fields["assignee"]["name"]
    assert fields[SPRINT_FIELD][0].startswith("com.atlassian.greenhopper.service.sprint.Sprint@")
    basic = requests.get(
        f"{url}/rest/api/2/myself",
        auth=("integration@example.com", "sandbox-api-token"),
        timeout=10,
    )
    assert basic.status_code == 401
