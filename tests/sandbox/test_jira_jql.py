"""The sandbox's JQL subset: clauses, errors, ordering and time-zone handling of dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.jira import JiraConfig, JiraState
from sandbox.jira.jql import JQLError, parse_date_literal, parse_jql
from sandbox.jira.mutations import create_issue, create_project, create_version, edit_issue
from sandbox.jira.search import keyset_page, offset_page


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def site() -> JiraState:
    state = JiraState(JiraConfig())  # API user's zone: America/Los_Angeles
    create_project(state, "ALPHA")
    create_project(state, "BETA")
    create_version(state, "ALPHA", "1.0", emit=False)
    create_issue(state, "ALPHA", "early", created=_ms("2024-01-01T07:29:00"))
    create_issue(
        state,
        "ALPHA",
        "boundary",
        created=_ms("2024-01-01T07:30:00"),
        type="Bug",
        fix_versions=["1.0"],
    )
    create_issue(state, "BETA", "late", created=_ms("2024-01-02T12:00:00"), status="Done")
    return state


def _keys(state: JiraState, jql: str) -> list[str]:
    page, _ = offset_page(state, parse_jql(jql, state), 0, 100)
    return [i.key for i in page]


def test_quoted_dates_are_read_in_the_api_users_time_zone(site):
    # 2024-01-01T07:30Z is 2023-12-31 23:30 in Los Angeles (UTC-8).
    assert "ALPHA-2" in _keys(site, 'updated >= "2023-12-31 23:30"')
    assert "ALPHA-2" not in _keys(site, 'updated >= "2024-01-01 00:00"')
    assert _keys(site, 'updated >= "2023/12/31 23:30" ORDER BY updated ASC') == [
        "ALPHA-2",
        "BETA-1",
    ]


def test_the_same_literal_means_another_instant_when_the_user_is_in_utc(site):
    site.configure(time_zone="UTC")
    assert "ALPHA-2" not in _keys(
        site, 'updated >= "2023-12-31 23:30" AND updated < "2024-01-01 07:30"'
    )
    assert "ALPHA-2" in _keys(site, 'updated >= "2024-01-01 07:30"')


def test_date_only_literals_start_at_midnight_in_the_users_zone():
    la = parse_date_literal("2024-01-01", "America/Los_Angeles", 0)
    assert la == _ms("2024-01-01T08:00:00")
    assert parse_date_literal("2024/01/01 00:00", "UTC", 0) == _ms("2024-01-01T00:00:00")
    assert parse_date_literal("-5m", "UTC", 600_000) == 300_000
    assert parse_date_literal("1704096000000", "UTC", 0, quoted=False) == 1704096000000


def test_project_key_id_and_list_clauses(site):
    assert _keys(site, "project = ALPHA") == ["ALPHA-1", "ALPHA-2"]
    assert _keys(site, "project in (ALPHA, BETA) ORDER BY id DESC") == [
        "BETA-1",
        "ALPHA-2",
        "ALPHA-1",
    ]
    alpha2 = site.issue("ALPHA-2")
    assert _keys(site, f"id in ({alpha2.id}, 99999)") == ["ALPHA-2"]
    assert _keys(site, 'key in ("ALPHA-1", BETA-1)') == ["ALPHA-1", "BETA-1"]
    assert _keys(site, "project = ALPHA AND issuetype = Bug") == ["ALPHA-2"]
    assert _keys(site, "statusCategory = Done OR fixVersion = 1.0") == ["ALPHA-2", "BETA-1"]
    assert _keys(site, "project = ALPHA AND NOT (issuetype = Bug)") == ["ALPHA-1"]
    assert _keys(site, "assignee is EMPTY and project = BETA") == ["BETA-1"]


def test_order_by_updated_follows_edits(site):
    edit_issue(site, "ALPHA-1", {"summary": "touched"}, at=_ms("2024-02-01T00:00:00"))
    assert _keys(site, "project in (ALPHA, BETA) ORDER BY updated ASC") == [
        "ALPHA-2",
        "BETA-1",
        "ALPHA-1",
    ]
    assert _keys(site, "project in (ALPHA, BETA) ORDER BY updated DESC") == [
        "ALPHA-1",
        "BETA-1",
        "ALPHA-2",
    ]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
        ("project = ALPHA ORDER BY colour", "Not able to sort using field 'colour'."),
        (
            'updated >= "yesterday-ish"',
            "Date value 'yesterday-ish' for field 'updated' is invalid.",
        ),
        (
            "project = ALPHA AND",
            "Error in the JQL Query: Expecting a field but got the end of the query.",
        ),
        (
            "project = ALPHA BETA",
            "Error in the JQL Query: Expecting either 'AND' or 'OR' or 'ORDER BY'",
        ),
    ],
)
def test_invalid_jql_is_rejected_with_a_jira_style_message(site, jql, message):
    with pytest.raises(JQLError) as info:
        parse_jql(jql, site)
    assert str(info.value).startswith(message)


def test_a_query_without_restriction_is_unbounded(site):
    assert not parse_jql("ORDER BY key DESC", site).bounded
    assert not parse_jql("", site).bounded
    assert parse_jql("project = ALPHA ORDER BY key DESC", site).bounded


def test_updated_lower_bound_is_planned_only_at_the_top_level(site):
    assert parse_jql('project = ALPHA AND updated >= "2024-01-01"', site).updated_from is not None
    assert parse_jql('project = ALPHA OR updated >= "2024-01-01"', site).updated_from is None


def test_keyset_pages_never_skip_an_issue_updated_while_paging(site):
    for n in range(10):
        create_issue(site, "BETA", f"more {n}", created=_ms("2024-03-01T00:00:00") + n * 1000)
    query = parse_jql("project in (ALPHA, BETA) ORDER BY updated ASC", site)
    first, token = keyset_page(site, query, None, 5)
    # Touch an issue the client has not seen yet: it moves behind the cursor's end.
    edit_issue(site, first[-1].key, {"summary": "seen, edited"}, at=_ms("2024-04-01T00:00:00"))
    edit_issue(site, "BETA-5", {"summary": "unseen, edited"}, at=_ms("2024-04-02T00:00:00"))
    seen = [i.key for i in first]
    while token:
        page, token = keyset_page(site, query, token, 5)
        seen += [i.key for i in page]
    assert set(seen) == {i.key for i in site.issues.values()}
    assert seen[-2:] == [first[-1].key, "BETA-5"]


def test_a_token_from_another_query_is_refused(site):
    _, token = keyset_page(site, parse_jql("project in (ALPHA, BETA) ORDER BY id", site), None, 1)
    with pytest.raises(JQLError, match="next page token"):
        keyset_page(site, parse_jql("project = ALPHA ORDER BY id", site), token, 1)
