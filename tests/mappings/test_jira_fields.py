"""Custom field discovery, sprint values, status categories, type mapping."""

from __future__ import annotations

from typing import Any

import pytest

from mappings.jira import (
    FALLBACK_SPRINT_FIELDS,
    CatalogueStatus,
    JiraFieldIds,
    category_of_status,
    discover_fields,
    map_issue,
    parse_sprint_string,
    sprint_name,
    status_catalogue,
)
from mappings.model import StatusCategory, TaskType
from tests.mappings.jira_data import SITE, profile, rest

RUBY_FIELDS = rest("jira-ruby/field.json")  # Description + Summary only
SITE_FIELDS: list[dict[str, Any]] = [
    *RUBY_FIELDS,
    {
        "id": "customfield_10016",
        "name": "Story point estimate",
        "custom": True,
        "schema": {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points"},
    },
    {
        "id": "customfield_10026",
        "name": "Story Points",
        "custom": True,
        "schema": {
            "type": "number",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float",
        },
    },
    {
        "id": "customfield_10020",
        "name": "Sprint",
        "custom": True,
        "schema": {"type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint"},
    },
    {
        "id": "customfield_10014",
        "name": "Epic Link",
        "custom": True,
        "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"},
    },
    {"id": "customfield_10015", "name": "Start date", "custom": True, "schema": {"type": "date"}},
]


def test_discovery_on_a_site_without_agile_fields_finds_nothing() -> None:
    found = discover_fields(RUBY_FIELDS, profile().jira)
    assert found == JiraFieldIds(story_points=[], sprint=None, epic_link=None, cost=None)


def test_discovery_by_name_and_schema_in_profile_order() -> None:
    found = discover_fields(SITE_FIELDS, profile().jira)
    # Profile names are ["Story Points", "Story point estimate"]: that order wins.
    assert found.story_points == ["customfield_10026", "customfield_10016"]
    assert (found.sprint, found.epic_link, found.start_date) == (
        "customfield_10020",
        "customfield_10014",
        "customfield_10015",
    )


def test_sprint_found_by_schema_even_when_renamed() -> None:
    renamed: list[dict[str, Any]] = [
        {"id": "customfield_1", "name": "Sprint (old)", "custom": True},
        {
            "id": "customfield_2",
            "name": "Iteration",
            "schema": {"custom": "com.pyxis.greenhopper.jira:gh-sprint"},
        },
    ]
    assert discover_fields(renamed, profile().jira).sprint == "customfield_2"


def test_profile_pins_override_discovery() -> None:
    jp = profile(
        story_points_fields=["customfield_99"],
        sprint_field="customfield_98",
        epic_link_field="customfield_97",
        cost_field="customfield_96",
    ).jira
    assert discover_fields(SITE_FIELDS, jp) == JiraFieldIds(
        story_points=["customfield_99"],
        sprint="customfield_98",
        epic_link="customfield_97",
        cost="customfield_96",
        start_date="customfield_10015",
    )


def test_profile_story_points_names_drive_discovery() -> None:
    jp = profile(story_points_names=["story point estimate"]).jira
    assert discover_fields(SITE_FIELDS, jp).story_points == ["customfield_10016"]


def test_discovered_story_points_are_read_in_order() -> None:
    issue = {"id": "1", "key": "A-1", "fields": {"customfield_10026": None, "customfield_10016": 5}}
    fields = discover_fields(SITE_FIELDS, profile().jira)
    assert (
        map_issue(issue, site_url=SITE, profile=profile(), fields=fields).task.estimate_points
        == 5.0
    )


def test_fallback_ids_are_documented_and_shape_checked() -> None:
    assert FALLBACK_SPRINT_FIELDS == ("customfield_10020", "customfield_10007")
    # On this site customfield_10020 is a "time in status" string and 10007 a Parent Link
    # object (both real values from recorded payloads): neither may become a sprint.
    issue = {
        "id": "1",
        "key": "A-1",
        "fields": {
            "customfield_10020": "3_*:*_1_*:*_78475_*|*_10002_*:*_1_*:*_0",
            "customfield_10007": {"hasEpicLinkFieldDependency": False, "showField": False},
            "customfield_10014": "not a key",
            "customfield_10016": "0.0",
        },
    }
    task = map_issue(issue, site_url=SITE, profile=profile()).task
    assert (task.sprint, task.parent, task.estimate_points) == (None, None, None)


SERVER_SPRINT = (
    "com.atlassian.greenhopper.service.sprint.Sprint@340d9bb8[completeDate=2020-07-31T15:50:09.718Z,"
    "endDate=2020-08-14T21:13:00.000Z,goal=take over the world, again,id=196,name=TES Sprint 2,"
    "rapidViewId=9,sequence=196,startDate=2020-07-30T21:13:24.588Z,state=CLOSED]"
)


def test_parse_server_sprint_string() -> None:
    parsed = parse_sprint_string(SERVER_SPRINT)
    assert parsed is not None
    assert (parsed["name"], parsed["state"], parsed["id"]) == ("TES Sprint 2", "CLOSED", "196")
    assert parsed["goal"] == "take over the world, again"  # a comma not followed by key=
    nulls = parse_sprint_string(
        "com.atlassian.greenhopper.service.sprint.Sprint@a88a698[id=1,rapidViewId=1,state=ACTIVE,"
        "name=Sample Sprint 2,startDate=2018-05-09T06:39:30.147Z,completeDate=<null>,goal=<null>]"
    )
    assert (
        nulls is not None and nulls["completeDate"] is None and nulls["name"] == "Sample Sprint 2"
    )
    assert parse_sprint_string("Sprint 1") is None


def test_sprint_name_picks_the_active_sprint_else_the_last() -> None:
    cloud = [
        {"id": 1, "name": "S1", "state": "closed"},
        {"id": 2, "name": "S2", "state": "active"},
        {"id": 3, "name": "S3", "state": "future"},
    ]
    assert sprint_name(cloud) == "S2"
    assert sprint_name([cloud[0], cloud[2]]) == "S3"
    assert sprint_name([SERVER_SPRINT]) == "TES Sprint 2"
    assert sprint_name({"id": 37, "name": "sprint 2", "state": "future"}) == "sprint 2"  # Agile API
    assert sprint_name(None) is None and sprint_name([]) is None and sprint_name("{}") is None


# --- status categories and types -------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "expected"),
    [
        ({"key": "new", "id": 2}, StatusCategory.todo),
        ({"key": "indeterminate", "id": 4}, StatusCategory.in_progress),
        ({"key": "done", "id": 3}, StatusCategory.done),
        ({"key": "undefined", "id": 1}, StatusCategory.todo),
        ({"id": "3", "colorName": "green"}, StatusCategory.done),  # id only (board API)
        (None, StatusCategory.todo),
    ],
)
def test_status_category_from_jira_category(category: Any, expected: StatusCategory) -> None:
    status = {"name": "Whatever", "id": "9"} | ({"statusCategory": category} if category else {})
    assert category_of_status(status) is expected


def test_status_overrides_win_by_name() -> None:
    status = {"name": "Selected for Development", "statusCategory": {"key": "indeterminate"}}
    overrides = {"Selected for Development": StatusCategory.todo}
    assert category_of_status(status, overrides) is StatusCategory.todo
    assert (
        category_of_status(status | {"name": "selected for development"}, overrides)
        is StatusCategory.todo
    )
    issue = {
        "id": "1",
        "key": "A-1",
        "fields": {"status": status, "updated": "2024-01-01T00:00:00.000+0000"},
    }
    jira_profile = profile(status_overrides={"Selected for Development": "todo"})
    assert (
        map_issue(issue, site_url=SITE, profile=jira_profile).task.status_category
        is StatusCategory.todo
    )


def test_status_list_becomes_a_catalogue_by_id() -> None:
    known = status_catalogue(rest("jirametrics/testdata/sample_statuses.json"))
    assert known["3"] == CatalogueStatus("In Progress", StatusCategory.in_progress)
    assert known["10001"] == CatalogueStatus("Selected for Development", StatusCategory.in_progress)
    assert known["10000"].category is StatusCategory.todo
    assert known["10002"].category is StatusCategory.done


@pytest.mark.parametrize(
    ("issuetype", "expected"),
    [
        ({"name": "Story"}, TaskType.story),
        ({"name": "Bug"}, TaskType.bug),
        ({"name": "Epic"}, TaskType.epic),
        ({"name": "Sub-task", "subtask": True}, TaskType.subtask),
        ({"name": "Technical work", "subtask": True}, TaskType.subtask),
        ({"name": "Improvement"}, TaskType.other),
    ],
)
def test_issue_types(issuetype: dict[str, Any], expected: TaskType) -> None:
    issue = {"id": "1", "fields": {"issuetype": issuetype}}
    assert map_issue(issue, site_url=SITE, profile=profile()).task.type is expected


def test_type_map_overrides_the_issue_type() -> None:
    issue = {"id": "1", "fields": {"issuetype": {"name": "Improvement"}}}
    mapped = map_issue(issue, site_url=SITE, profile=profile(type_map={"improvement": "story"}))
    assert mapped.task.type is TaskType.story
