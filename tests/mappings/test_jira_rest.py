"""Recorded Jira REST responses (issues, searches, worklogs, versions) map; goldens by hand."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from mappings.jira import (
    JiraFieldIds,
    effect_to_json,
    effects_from_document,
    map_issue,
    map_version,
    map_worklog,
    status_catalogue,
)
from mappings.model import (
    Ignored,
    MilestoneUpsert,
    StatusCategory,
    TaskType,
    TaskUpsert,
    WorklogUpsert,
)
from tests.mappings.jira_data import REST, SITE, profile, rest, webhook

ISSUE_FILES = [
    "jira-ruby/issue/10002.json",
    *sorted(str(p.relative_to(REST)) for p in REST.glob("jirametrics/**/SP-*.json")),
]
SEARCH_FILES = [
    "airbyte/issues.json",
    "go-jira/issues_in_sprint.json",
    "jira-ruby/issue.json",
    "jira-ruby/empty_issues.json",
    "jira-ruby/project/SAMPLEPROJECT.issues.json",
    "jira-ruby/board/1_issues.json",
    "jira-ruby/sprint/1_issues.json",
    "jira-ruby/rapidview/SAMPLEPROJECT.issues.full.json",
    "jira-ruby/rapidview/SAMPLEPROJECT.issues.json",
]
WORKLOG_FILES = [
    "jira-ruby/issue/10002/worklog.json",
    "jira-ruby/issue/10002/worklog/10000.json",
    "jira-ruby/issue/10002/worklog/10000.put.json",
    "jira-ruby/issue/10002/worklog.post.json",
]
VERSION_FILES = [
    "jira-ruby/version/10000.json",
    "jira-ruby/version/10000.put.json",
    "jira-ruby/version.post.json",
    "go-jira/project.json",
]
CATALOGUE = status_catalogue(rest("jirametrics/testdata/sample_statuses.json"))


def _doc(path: str, **kw: Any) -> list[Any]:
    return effects_from_document(rest(path), site_url=SITE, profile=profile(), **kw)


def _task(path: str, **kw: Any) -> TaskUpsert:
    return map_issue(rest(path), site_url=SITE, profile=profile(), **kw)


def _utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def test_fixture_lists_cover_all_four_sources() -> None:
    used = ISSUE_FILES + SEARCH_FILES + WORKLOG_FILES + VERSION_FILES
    assert {p.split("/")[0] for p in used} == {"airbyte", "go-jira", "jira-ruby", "jirametrics"}
    assert len(ISSUE_FILES) == 13  # 10002 + 6 complete_sample + 6 testdata issues


@pytest.mark.parametrize("path", ISSUE_FILES)
def test_rest_issue_maps_to_one_task(path: str) -> None:
    doc = rest(path)
    effects = effects_from_document(doc, site_url=SITE, profile=profile())
    upserts = [e for e in effects if isinstance(e, TaskUpsert)]
    assert len(upserts) == 1
    task = upserts[0].task
    assert (task.external_id, task.key) == (doc["id"], doc["key"])
    assert task.title == doc["fields"]["summary"]
    assert task.url == f"{SITE}/browse/{doc['key']}"
    assert task.updated_at is not None and task.updated_at.tzinfo is not None
    histories = doc.get("changelog", {}).get("histories", [])
    assert len(upserts[0].changes) == sum(len(h["items"]) for h in histories)
    json.dumps([effect_to_json(e) for e in effects])


@pytest.mark.parametrize("path", SEARCH_FILES)
def test_search_response_maps_every_issue(path: str) -> None:
    doc = rest(path)
    effects = _doc(path)
    tasks = [e for e in effects if isinstance(e, TaskUpsert)]
    ignored = [e for e in effects if isinstance(e, Ignored)]
    with_fields = [i for i in doc["issues"] if isinstance(i.get("fields"), dict)]
    assert [t.task.external_id for t in tasks] == [str(i["id"]) for i in with_fields]
    assert len(ignored) == len(doc["issues"]) - len(with_fields)
    assert all("no 'fields' object" in i.reason for i in ignored)


@pytest.mark.parametrize("path", WORKLOG_FILES)
def test_worklog_documents_map(path: str) -> None:
    doc = rest(path)
    effects = _doc(path)
    expected = doc["worklogs"] if "worklogs" in doc else [doc]
    assert [e.worklog.external_id for e in effects] == [w["id"] for w in expected]
    for effect in effects:
        assert isinstance(effect, WorklogUpsert)
        assert effect.worklog.task_external_id == "10002"  # from the REST path of "self"
        assert effect.worklog.author is not None and effect.worklog.author.external_id == "admin"
        assert effect.complete is False  # seconds read from "timeSpent" only


@pytest.mark.parametrize("path", VERSION_FILES)
def test_version_documents_map(path: str) -> None:
    doc = rest(path)
    effects = _doc(path)
    expected = doc["versions"] if "versions" in doc else [doc]
    assert [e.milestone.external_id for e in effects] == [v["id"] for v in expected]
    assert all(isinstance(e, MilestoneUpsert) for e in effects)


def test_every_rest_fixture_maps_or_is_rejected_with_a_value_error() -> None:
    for path in sorted(REST.rglob("*.json")):
        text = path.read_text().strip()
        if not text:
            continue  # one recorded POST response is empty
        try:
            effects_from_document(json.loads(text), site_url=SITE, profile=profile())
        except ValueError as exc:
            assert "Jira" in str(exc), path


# --- golden values -------------------------------------------------------------------------


def test_server_issue_without_status_category() -> None:
    t = _task("jira-ruby/issue/10002.json").task
    assert (t.external_id, t.key, t.title) == ("10002", "SAMPLEPROJECT-1", "Sample Issue")
    assert (t.status, t.status_category) == ("Open", StatusCategory.todo)  # old Jira: no category
    assert (t.priority, t.type, t.project_external_id) == ("Major", TaskType.task, "10001")
    assert t.due_date == date(2011, 12, 14)
    assert t.updated_at == _utc(2011, 12, 13, 21, 26, 6, 30000)  # "+1300"
    assert [a.external_id for a in t.assignees] == ["admin"]


def test_done_issue_from_changelog_without_status_list() -> None:
    up = _task("jirametrics/testdata/SP-10.json")
    assert (up.task.status, up.task.status_category) == ("Done", StatusCategory.done)
    assert up.task.completed_at == _utc(2021, 9, 6, 4, 34, 26, 204000)
    assert up.task.started_at is None  # "In Progress" category unknown without the status list
    assert [c.external_id for c in up.changes[:2]] == ["10053:0", "10054:0"]  # oldest first
    last = [c for c in up.changes if c.field == "status"][-1]
    assert (last.from_value, last.to_value, last.to_category) == (
        "Review",
        "Done",
        StatusCategory.done,
    )
    assert last.author is not None and last.author.external_id.startswith("557058:")


def test_status_list_gives_categories_to_past_transitions() -> None:
    up = _task("jirametrics/testdata/SP-10.json", catalogue=CATALOGUE)
    # Backlog -> Selected for Development ("indeterminate" on this site), history 10053.
    assert up.task.started_at == _utc(2021, 8, 29, 18, 6, 28, 717000)
    first = [c for c in up.changes if c.field == "status"][0]
    assert (first.from_category, first.to_category) == (
        StatusCategory.todo,
        StatusCategory.in_progress,
    )


def test_started_at_prefers_the_earliest_evidence() -> None:
    up = _task("jirametrics/testdata/SP-1.json", catalogue=CATALOGUE)
    # statuscategorychangedate (.793) is 25 ms before history 10035 was written (.818).
    assert up.task.started_at == _utc(2021, 6, 18, 18, 43, 34, 793000)


def test_completed_at_falls_back_to_the_last_transition_into_done() -> None:
    issue = rest("jirametrics/complete_sample/sample_issues/SP-5.json")
    issue["fields"]["resolutiondate"] = None
    up = map_issue(issue, site_url=SITE, profile=profile())
    # Done twice (2021-09-06, reopened, 2021-10-11): the last one counts.
    assert up.task.completed_at == _utc(2021, 10, 11, 12, 49, 7, 261000)
    no_history = copy.deepcopy(issue)
    del no_history["changelog"]
    no_history["fields"].pop("statuscategorychangedate")
    done = map_issue(no_history, site_url=SITE, profile=profile()).task
    assert done.completed_at == _utc(2021, 10, 11, 12, 49, 7, 232000)  # fields.updated


def test_story_points_and_sprint_changes() -> None:
    fields = JiraFieldIds(
        story_points=["customfield_10036"], sprint="customfield_10020", epic_link=None, cost=None
    )
    up = _task("jirametrics/testdata/SP-13.json", fields=fields)
    assert (up.task.estimate_points, up.task.sprint) == (13.0, "Scrum Sprint 3")
    points = [c for c in up.changes if c.field == "points"]
    assert [(c.from_value, c.to_value) for c in points] == [(None, "13")]
    sprint = [c for c in up.changes if c.field == "sprint"]
    assert [(c.to_value, c.changed_at) for c in sprint] == [
        ("Scrum Sprint 3", _utc(2022, 4, 15, 0, 52, 8, 258000))
    ]


def test_cloud_v3_search_result_with_adf_description() -> None:
    (effect,) = _doc("airbyte/issues.json")
    t = effect.task
    assert (t.key, t.title, t.type, t.labels) == (
        "TESTKEY13-1",
        "My Summary",
        TaskType.epic,
        ["test"],
    )
    assert (t.assignees[0].external_id, t.assignees[0].email) == (
        "5fc9e78d2730d800760becc4",
        "integration-test@airbyte.io",
    )
    assert (t.priority, t.project_key) == ("Low", "TESTKEY13")


def test_agile_issue_sprint_epic_timetracking_and_embedded_worklog() -> None:
    effects = _doc("jira-ruby/sprint/1_issues.json")
    task = effects[0].task
    assert (task.key, task.sprint, task.parent) == ("HSP-1", "sprint 2", "37")
    assert (task.estimate_seconds, task.remaining_seconds, task.spent_seconds) == (600, 200, 400)
    worklog = effects[1]
    assert isinstance(worklog, WorklogUpsert) and worklog.complete
    assert (worklog.worklog.external_id, worklog.worklog.seconds) == ("100028", 12000)
    assert worklog.worklog.started_at == _utc(2016, 6, 22, 9, 49, 57, 804000)


def test_resolution_in_a_todo_status_does_not_complete_the_task() -> None:
    (effect,) = _doc("go-jira/issues_in_sprint.json")
    t = effect.task
    assert (t.key, t.status, t.status_category) == ("AR-86", "Ready", StatusCategory.todo)
    assert t.completed_at is None  # resolutiondate is set, but the status is not done
    assert t.parent == "11900"  # the agile "epic" object wins over the Epic Link key


def test_worklog_page_golden() -> None:
    w = map_worklog(rest("jira-ruby/issue/10002/worklog.json")["worklogs"][0])
    assert (w.external_id, w.task_external_id) == ("10000", "10002")
    assert w.seconds == (18 * 5 + 2) * 8 * 3600  # "18w 2d" at 8h days, 5d weeks
    assert w.started_at == _utc(2012, 1, 11, 0, 33)
    assert w.created_at == _utc(2012, 1, 11, 0, 33, 25, 604000)


def test_worklog_issue_argument_is_used_when_the_worklog_lacks_it() -> None:
    raw = {"id": "7", "started": "2024-01-02T09:00:00.000+0000", "timeSpentSeconds": 60}
    assert map_worklog(raw, issue_id="42").task_external_id == "42"
    with pytest.raises(ValueError, match="issueId"):
        map_worklog(raw)


def test_version_golden() -> None:
    m = map_version(rest("jira-ruby/version/10000.json"), project_external_id="10001")
    assert (m.external_id, m.name, m.description) == ("10000", "1.0", "Initial version")
    assert (m.due_date, m.released, m.archived, m.completed_at) == (
        date(2012, 1, 12),
        False,
        False,
        None,
    )
    assert m.project_external_id == "10001"


def test_released_versions_of_a_project() -> None:
    effects = _doc("go-jira/project.json")
    first = effects[0].milestone
    assert (first.external_id, first.name, first.project_external_id) == (
        "12312506",
        "0.2.2",
        "12310505",
    )
    assert (first.due_date, first.released) == (date(2007, 2, 19), True)
    assert first.completed_at == _utc(2007, 2, 19)


def test_version_never_reads_user_release_date() -> None:
    m = map_version({"id": "1", "name": "v", "userReleaseDate": "12/Jan/12", "released": True})
    assert (m.due_date, m.completed_at) == (None, None)


# --- document detection and JSON output ---------------------------------------------------


@pytest.mark.parametrize(
    "doc",
    [
        {"foo": 1},
        [1, 2, 3],
        "text",
        {"errorMessages": ["nope"], "errors": {}},
        rest("jira-ruby/field.json"),
    ],
)
def test_unrecognised_documents_raise_value_error(doc: Any) -> None:
    with pytest.raises(ValueError, match="Jira"):
        effects_from_document(doc, site_url=SITE, profile=profile())


def test_search_jql_page_with_next_page_token() -> None:
    page = {
        "issues": [rest("jirametrics/testdata/SP-2.json")],
        "nextPageToken": "abc",
        "isLast": False,
    }
    (effect,) = effects_from_document(page, site_url=SITE, profile=profile())
    assert isinstance(effect, TaskUpsert) and effect.task.key == "SP-2"


def test_names_expansion_is_used_to_find_custom_fields() -> None:
    issue = rest("jirametrics/testdata/SP-13.json")
    page = {
        "issues": [issue],
        "names": {"customfield_10036": "Story Points", "customfield_10020": "Sprint"},
    }
    (effect,) = effects_from_document(page, site_url=SITE, profile=profile())
    assert isinstance(effect, TaskUpsert) and effect.task.estimate_points == 13.0


def test_effect_json_is_plain_and_complete() -> None:
    fields = JiraFieldIds(story_points=[], sprint=None, epic_link=None, cost="customfield_10072")
    # A webhook delivery, auto-detected by effects_from_document.
    effects = effects_from_document(
        _webhook_issue(), site_url=SITE, profile=profile(), fields=fields
    )
    out = effect_to_json(effects[0])
    assert out["effect"] == "task_upsert"
    for key in (
        "external_id",
        "key",
        "title",
        "status",
        "status_category",
        "assignees",
        "due_date",
        "updated_at",
    ):
        assert key in out["task"]
    assert out["task"]["cost"] == "12"  # Decimal as a string
    assert out["task"]["updated_at"] == "2019-08-12T01:49:13.412000Z"
    assert "raw" not in out and isinstance(out["changes"], list)
    assert json.loads(json.dumps(out)) == out


def _webhook_issue() -> dict[str, Any]:
    return webhook("mattermost/webhook-cloud-issue-updated-custom-field")


def test_profile_cost_field_without_field_discovery() -> None:
    up = map_issue(
        _webhook_issue()["issue"], site_url=SITE, profile=profile(cost_field="customfield_10072")
    )
    assert up.task.cost == Decimal("12")
