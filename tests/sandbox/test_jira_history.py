"""The simulated Jira serves its status catalogue and the bulk changelog in Jira's shapes,
and its histories look like real ones: back and forth, reopened, renamed statuses,
team-managed statuses sharing names. Responses are checked against the platform OpenAPI
document; categorization by id is checked end to end with the mapping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mappings.jira import map_issue, status_catalogue
from mappings.model import CategoryRule, StatusCategory
from mappings.profile import load_default_profile
from sandbox.jira import JiraConfig, JiraState, generate, start
from sandbox.jira.mutations import create_issue, transition_issue
from sandbox.jira.records import STATUSES, TEAM_MANAGED_PROJECT
from tests.sandbox.conftest import JIRA_PAT
from tests.sandbox.jira_openapi import validate

WIP = StatusCategory.in_progress


def _get(http: requests.Session, url: str, **params: Any) -> Any:
    r = http.get(url, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def _bulk(http: requests.Session, url: str, body: Any) -> requests.Response:
    return http.post(f"{url}/rest/api/3/changelog/bulkfetch", json=body, timeout=10)


@pytest.fixture
def dc_site() -> Iterator[tuple[str, JiraState, requests.Session]]:
    state = JiraState(JiraConfig(deployment="DataCenter"))
    generate(state, projects=3, issues_per_project=40, seed=3)
    url, stop = start(state)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {JIRA_PAT}"
    yield url, state, http
    stop()
    state.close()


# --- the status catalogue ----------------------------------------------------------------


def test_cloud_status_catalogue_matches_the_spec_and_scopes_team_managed_statuses(
    jira_state: JiraState, jira_url: str, jira_http: requests.Session
) -> None:
    v3 = _get(jira_http, f"{jira_url}/rest/api/3/status")
    validate(v3, "StatusDetails", array=True)
    v2 = _get(jira_http, f"{jira_url}/rest/api/2/status")
    assert [s["id"] for s in v2] == [s["id"] for s in v3]
    assert v2[0]["self"].endswith(f"/rest/api/2/status/{v2[0]['id']}")
    team = jira_state.project(TEAM_MANAGED_PROJECT)
    assert team is not None and team.team_managed
    scoped = [s for s in v3 if "scope" in s]
    assert {s["scope"]["type"] for s in scoped} == {"PROJECT"}
    assert {s["scope"]["project"]["id"] for s in scoped} == {str(team.id)}
    names = Counter(s["name"] for s in v3)
    assert names["In Progress"] == names["To Do"] == names["Blocked"] == 2  # other ids
    blocked = {s["statusCategory"]["key"] for s in v3 if s["name"] == "Blocked"}
    assert blocked == {"indeterminate", "new"}  # one name, two categories
    by_id = {s["id"]: s for s in v3}
    assert by_id["3"]["statusCategory"]["key"] == "indeterminate"
    assert by_id["3"]["untranslatedName"] == "In Progress"
    one = _get(jira_http, f"{jira_url}/rest/api/3/status/10001")
    validate(one, "StatusDetails")
    assert one["name"] == "In Review"
    missing = jira_http.get(f"{jira_url}/rest/api/3/status/424242", timeout=10)
    assert missing.status_code == 404 and missing.json()["errorMessages"]


def test_team_managed_project_is_next_gen_and_uses_its_own_statuses(
    jira_state: JiraState, jira_url: str, jira_http: requests.Session
) -> None:
    project = _get(jira_http, f"{jira_url}/rest/api/3/project/{TEAM_MANAGED_PROJECT}")
    assert (project["simplified"], project["style"]) == (True, "next-gen")
    issues = [i for i in jira_state.issues.values() if i.key.startswith(TEAM_MANAGED_PROJECT)]
    assert issues and all(STATUSES[i.status_id].project_key == TEAM_MANAGED_PROJECT for i in issues)
    issue = create_issue(jira_state, TEAM_MANAGED_PROJECT, "team work")
    transition_issue(jira_state, issue.key, "In Progress")
    assert issue.status_id == "10021"  # the team's own "In Progress", by name
    found = _get(
        jira_http,
        f"{jira_url}/rest/api/3/search/jql",
        jql=f'project in (APOLLO, {TEAM_MANAGED_PROJECT}) AND status = "In Progress"',
        fields="status",
        maxResults=100,
    )
    assert {i["fields"]["status"]["id"] for i in found["issues"]} == {"3", "10021"}
    validate(found["issues"][0]["fields"]["status"], "StatusDetails")


def test_data_center_catalogue_is_v2_only_without_team_managed_statuses(dc_site) -> None:
    url, state, http = dc_site
    statuses = _get(http, f"{url}/rest/api/2/status")
    validate(statuses, "StatusDetails", array=True)
    assert {s["id"] for s in statuses} == {"10000", "3", "10001", "10002", "10003"}
    assert not any("scope" in s or "untranslatedName" in s for s in statuses)
    assert http.get(f"{url}/rest/api/3/status", timeout=10).status_code == 404
    assert {i.status_id for i in state.issues.values()} <= {s["id"] for s in statuses}


# --- real-shaped histories ---------------------------------------------------------------


def _paths(state: JiraState) -> list[list[tuple[str, str]]]:
    return [
        [
            (it.from_string or "", it.to_string or "")
            for h in i.histories or []
            for it in h.items
            if it.field == "status"
        ]
        for i in state.issues.values()
    ]


def test_histories_go_back_and_forth_and_keep_the_names_statuses_had_then() -> None:
    state = JiraState()
    generate(state, projects=3, issues_per_project=200, seed=7, anchor_ms=1_760_000_000_000)
    paths = _paths(state)
    assert sum(("In Progress", "To Do") in p for p in paths) >= 20  # back to To Do
    assert sum(("Done", "In Progress") in p for p in paths) >= 10  # reopened
    assert sum(("In Progress", "Blocked") in p for p in paths) >= 10  # blocked for a while
    renamed = [p for p in paths if any("Code Review" in step for step in p)]
    assert renamed and all(len(p) >= 2 for p in renamed)  # "In Review" was "Code Review"
    for issue in state.issues.values():
        items = [it for h in issue.histories or [] for it in h.items if it.field == "status"]
        for before, after in zip(items, items[1:], strict=False):
            assert before.to == after.from_  # every move starts where the last one ended
        if items:
            assert items[-1].to == issue.status_id
            assert all(it.to in STATUSES and (it.from_ is None or it.from_ in STATUSES) for it in items)


def _mapped(url: str, http: requests.Session, api: str, catalogue: Any) -> list[Any]:
    """Every issue of the site with its full changelog, mapped."""
    profile = load_default_profile()
    out = []
    for key in ("APOLLO", "BEACON", "CIRRUS"):
        start_at = 0
        while True:
            if api == "3":
                page = _get(
                    http,
                    f"{url}/rest/api/3/search/jql",
                    jql=f"project = {key}",
                    fields="*all",
                    maxResults=100,
                    **({"nextPageToken": start_at} if start_at else {}),
                )
            else:
                page = _get(
                    http,
                    f"{url}/rest/api/2/search",
                    jql=f"project = {key}",
                    fields="*all",
                    maxResults=100,
                    startAt=start_at,
                )
            for issue in page["issues"]:
                full = _get(http, f"{url}/rest/api/{api}/issue/{issue['id']}", expand="changelog")
                out.append(map_issue(full, site_url=url, profile=profile, catalogue=catalogue))
            if api == "3":
                if page.get("isLast", True):
                    break
                start_at = page["nextPageToken"]
            else:
                start_at += len(page["issues"])
                if not page["issues"] or start_at >= page["total"]:
                    break
    return out


@pytest.mark.parametrize("deployment", ["Cloud", "DataCenter"])
def test_catalogue_categorizes_every_generated_transition_by_id(deployment: str) -> None:
    state = JiraState(JiraConfig(deployment=deployment))  # type: ignore[arg-type]
    generate(state, projects=3, issues_per_project=60, seed=13)
    url, stop = start(state)
    http = requests.Session()
    if deployment == "Cloud":
        http.auth = ("integration@example.com", "sandbox-api-token")
    else:
        http.headers["Authorization"] = f"Bearer {JIRA_PAT}"
    api = "3" if deployment == "Cloud" else "2"
    try:
        catalogue = status_catalogue(_get(http, f"{url}/rest/api/{api}/status"))
        upserts = _mapped(url, http, api, catalogue)
        by_name_only = _mapped(url, http, api, None)
    finally:
        stop()
        state.close()
    changes = [c for u in upserts for c in u.changes if c.field == "status"]
    assert changes and all(c.to_category is not None and c.to_rule is CategoryRule.id for c in changes)
    assert all(c.from_category is not None for c in changes if c.from_id is not None)
    done_after_work = [
        u.task
        for u in upserts
        if u.task.status_category is StatusCategory.done and any(c.to_category is WIP for c in u.changes)
    ]
    assert done_after_work
    assert all(t.started_at is not None and t.started_at <= t.completed_at for t in done_after_work if t.completed_at)
    # "Blocked" is a work status on the site and a to-do status in the team-managed
    # project (Cloud): by id, each move gets its own; a name could only give one.
    blocked = {
        (u.task.key.split("-")[0], c.to_id, c.to_category)
        for u in upserts
        for c in u.changes
        if c.field == "status" and c.to_value == "Blocked"
    }
    team = deployment == "Cloud"
    for project, to_id, category in blocked:
        if team and project == TEAM_MANAGED_PROJECT:
            assert (to_id, category) == ("10024", StatusCategory.todo)
        else:
            assert (to_id, category) == ("10003", WIP)
    assert {category for *_, category in blocked} == ({WIP, StatusCategory.todo} if team else {WIP})
    # Without the catalogue, a move into "Code Review" (now "In Review") has no category,
    # unless the issue is in that status now (its own status gives the id's category).
    lost = [
        c
        for u in by_name_only
        for c in u.changes
        if c.field == "status" and c.to_value == "Code Review" and u.task.status != "In Review"
    ]
    assert lost and all(c.to_category is None for c in lost)


# --- the bulk changelog --------------------------------------------------------------------


def _busy_issue_ids(state: JiraState, n: int) -> list[str]:
    busy = sorted((i for i in state.issues.values() if i.histories), key=lambda i: i.id)
    return [str(i.id) for i in busy[:n]]


def test_bulk_changelog_pages_hold_every_history_oldest_first(
    jira_state: JiraState, jira_url: str, jira_http: requests.Session
) -> None:
    ids = _busy_issue_ids(jira_state, 12)
    keys = [jira_state.issues[int(i)].key for i in ids[:6]] + ids[6:]  # ids or keys
    expected = sum(len(jira_state.issues[int(i)].histories or []) for i in ids)
    seen: list[tuple[str, dict[str, Any]]] = []
    body: dict[str, Any] = {"issueIdsOrKeys": keys, "maxResults": 7}
    pages = 0
    while True:
        r = _bulk(jira_http, jira_url, body)
        assert r.status_code == 200, r.text
        page = r.json()
        validate(page, "BulkChangelogResponseBean")
        pages += 1
        page_histories = [h for log in page["issueChangeLogs"] for h in log["changeHistories"]]
        assert len(page_histories) <= 7
        seen += [(log["issueId"], h) for log in page["issueChangeLogs"] for h in log["changeHistories"]]
        if not page.get("nextPageToken"):
            break
        body["nextPageToken"] = page["nextPageToken"]
    assert len(seen) == expected and pages == -(-expected // 7)
    assert {issue for issue, _ in seen} == set(ids)
    per_issue = {}
    for issue, h in seen:
        per_issue.setdefault(issue, []).append(h["id"])
    for issue_id in ids:  # the same histories as the per-issue changelog, in its order
        values = _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue_id}/changelog")["values"]
        assert per_issue[issue_id] == [h["id"] for h in values]


def test_bulk_changelog_filters_by_field_id(jira_state: JiraState, jira_url: str, jira_http: requests.Session) -> None:
    ids = _busy_issue_ids(jira_state, 30)
    r = _bulk(jira_http, jira_url, {"issueIdsOrKeys": ids, "fieldIds": ["status"]})
    page = r.json()
    validate(page, "BulkChangelogResponseBean")
    items = [it for log in page["issueChangeLogs"] for h in log["changeHistories"] for it in h["items"]]
    assert items and {it["fieldId"] for it in items} == {"status"}
    assert all(it["from"] is None or it["from"] in STATUSES for it in items)
    assert "nextPageToken" not in page


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "issueIdsOrKeys"),
        ({"issueIdsOrKeys": []}, "issueIdsOrKeys"),
        ({"issueIdsOrKeys": [str(n) for n in range(1001)]}, "maximum of 1000"),
        ({"issueIdsOrKeys": ["APOLLO-1"], "maxResults": 0}, "maxResults"),
        ({"issueIdsOrKeys": ["APOLLO-1"], "maxResults": 10001}, "maxResults"),
        ({"issueIdsOrKeys": ["APOLLO-1"], "fieldIds": [str(n) for n in range(11)]}, "fieldIds"),
        ({"issueIdsOrKeys": ["APOLLO-1"], "nextPageToken": "bm9wZQ"}, "nextPageToken"),
        ({"issueIdsOrKeys": ["APOLLO-1"], "startAt": 5}, "startAt"),
    ],
)
def test_bulk_changelog_rejects_what_the_spec_does_not_allow(
    jira_url: str, jira_http: requests.Session, body: dict[str, Any], message: str
) -> None:
    r = _bulk(jira_http, jira_url, body)
    assert r.status_code == 400
    assert message in r.json()["errorMessages"][0]


def test_bulk_changelog_is_cloud_only(dc_site) -> None:
    url, _state, http = dc_site
    r = http.post(f"{url}/rest/api/2/changelog/bulkfetch", json={"issueIdsOrKeys": ["APOLLO-1"]}, timeout=10)
    assert r.status_code == 404
