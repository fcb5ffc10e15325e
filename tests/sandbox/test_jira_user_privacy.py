"""Jira Cloud hides a user's email unless the user's profile visibility shows it: the key is
left out of every user object (issue fields, changelog and worklog authors, ``/user``,
``/users/search``), but the caller sees its own (``/myself``). Data Center shows every email.
The real ``jira`` library reads both kinds of user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from jira import JIRA

from sandbox.jira import JiraConfig, JiraState, generate, start
from sandbox.jira.generator import EMAIL_VISIBLE
from tests.sandbox.conftest import JIRA_EMAIL, JIRA_PAT, JIRA_TOKEN


def _users(obj: Any) -> Iterator[dict[str, Any]]:
    """Every user object in a JSON document (a dict with an accountId or a DC name and key)."""
    if isinstance(obj, dict):
        if "displayName" in obj and ("accountId" in obj or "key" in obj):
            yield obj
        for v in obj.values():
            yield from _users(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _users(v)


def _get(http: requests.Session, url: str, **params: Any) -> Any:
    r = http.get(url, params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_cloud_shows_an_email_only_where_the_profile_lets_it(jira_state: JiraState, jira_url, jira_http):
    visible = {u.account_id for u in jira_state.users.values() if u.name in EMAIL_VISIBLE}
    me = jira_state.myself_id
    assert visible and len(visible) < len(jira_state.users) - 1  # both kinds are seeded
    issue = next(i for i in jira_state.issues.values() if i.assignee and i.worklog_ids)
    docs = [
        _get(jira_http, f"{jira_url}/rest/api/3/issue/{issue.key}", expand="changelog"),
        _get(jira_http, f"{jira_url}/rest/api/2/issue/{issue.key}/worklog"),
        _get(jira_http, f"{jira_url}/rest/api/3/search/jql", jql="project = APOLLO", fields="*all"),
        _get(jira_http, f"{jira_url}/rest/api/3/users/search", maxResults=100),
    ]
    seen: dict[str, bool] = {}
    for doc in docs:
        for user in _users(doc):
            seen[user["accountId"]] = "emailAddress" in user
            if "emailAddress" in user:
                assert user["emailAddress"] == jira_state.users[user["accountId"]].email
    hidden = {a for a in seen if a not in visible and a != me}
    assert hidden and not any(seen[a] for a in hidden)  # the key is left out, not null
    assert {a for a in seen if a in visible} and all(seen[a] for a in visible if a in seen)
    one = next(iter(hidden))
    assert "emailAddress" not in _get(jira_http, f"{jira_url}/rest/api/3/user", accountId=one)
    shown = next(iter(visible))
    assert _get(jira_http, f"{jira_url}/rest/api/3/user", accountId=shown)["emailAddress"].endswith("@example.com")
    # The caller sees its own email, whatever its profile says.
    assert not jira_state.myself.email_visible
    assert _get(jira_http, f"{jira_url}/rest/api/3/myself")["emailAddress"] == JIRA_EMAIL
    missing = jira_http.get(f"{jira_url}/rest/api/3/user", timeout=10)
    assert missing.status_code == 400 and "accountId" in missing.json()["errorMessages"][0]
    assert jira_http.get(f"{jira_url}/rest/api/3/user", params={"accountId": "nobody"}, timeout=10).status_code == 404


def test_control_api_sets_a_new_users_visibility(jira_state: JiraState, jira_url, jira_http):
    for name, flag in (("vera", True), ("hugo", False)):
        r = requests.post(f"{jira_url}/_sandbox/users", json={"displayName": f"{name.title()} X", "emailVisible": flag},
                          timeout=10)
        user = _get(jira_http, f"{jira_url}/rest/api/3/user", accountId=r.json()["accountId"])
        assert ("emailAddress" in user) is flag


@pytest.fixture
def dc_site() -> Iterator[tuple[str, JiraState]]:
    state = JiraState(JiraConfig(deployment="DataCenter"))
    generate(state, projects=1, issues_per_project=20, seed=5)
    url, stop = start(state)
    yield url, state
    stop()


def test_data_center_shows_every_email(dc_site):
    url, state = dc_site
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {JIRA_PAT}"
    issue = next(i for i in state.issues.values() if i.assignee and i.worklog_ids)
    docs = [
        _get(http, f"{url}/rest/api/2/issue/{issue.key}", expand="changelog"),
        _get(http, f"{url}/rest/api/2/issue/{issue.key}/worklog"),
    ]
    users = [u for doc in docs for u in _users(doc)]
    assert users and all(u["emailAddress"] == state.find_user(u["name"]).email for u in users)  # type: ignore[union-attr]
    hidden = next(u for u in state.users.values() if not u.email_visible and u.account_id != state.myself_id)
    assert _get(http, f"{url}/rest/api/2/user", username=hidden.name)["emailAddress"] == hidden.email
    assert http.get(f"{url}/rest/api/2/users/search", timeout=10).status_code == 404  # a Cloud route


def test_the_jira_library_reads_users_with_and_without_an_email(jira_state: JiraState, jira_url):
    client = JIRA(server=jira_url, basic_auth=(JIRA_EMAIL, JIRA_TOKEN))
    by_visibility: dict[bool, Any] = {}
    for rec in jira_state.issues.values():
        user = jira_state.users.get(rec.assignee or "")
        if user is not None and user.email_visible not in by_visibility:
            by_visibility[user.email_visible] = (rec.key, user)
        if len(by_visibility) == 2:
            break
    for flag, (key, user) in by_visibility.items():
        assignee = client.issue(key).fields.assignee
        assert assignee.accountId == user.account_id and assignee.displayName == user.display_name
        assert getattr(assignee, "emailAddress", None) == (user.email if flag else None)
        got = client.user(user.account_id)
        assert got.displayName == user.display_name
        assert hasattr(got, "emailAddress") is flag
    assert client.myself()["emailAddress"] == JIRA_EMAIL
