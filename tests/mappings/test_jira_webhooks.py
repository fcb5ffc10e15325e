"""Every recorded Jira webhook maps; golden values below were read by hand from the files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from mappings.jira import (
    COMMENT_REASON,
    JiraFieldIds,
    effect_to_json,
    effects_from_webhook,
)
from mappings.model import (
    Change,
    DeletedReason,
    Ignored,
    StatusCategory,
    TaskDelete,
    TaskPatch,
    TaskType,
    TaskUpsert,
)
from tests.mappings.jira_data import SITE, WEBHOOKS, profile, webhook, webhook_files

ROBIN = "557058:8b6b268b-17b3-407b-8974-bed4042fa709"


def _effects(name: str, **kw: Any) -> list[Any]:
    return effects_from_webhook(webhook(name), site_url=SITE, profile=profile(), **kw)


def _upsert(name: str, **kw: Any) -> TaskUpsert:
    effects = _effects(name, **kw)
    assert len(effects) == 1 and isinstance(effects[0], TaskUpsert), effects
    return effects[0]


def _change(upsert: TaskUpsert, field: str) -> Change:
    found = [c for c in upsert.changes if c.field == field]
    assert len(found) == 1, [(c.field, c.to_value) for c in upsert.changes]
    return found[0]


def _utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


@pytest.mark.parametrize("path", webhook_files(), ids=lambda p: str(p.relative_to(WEBHOOKS)))
def test_every_recorded_webhook_maps_without_error(path: Path) -> None:
    payload = json.loads(path.read_text())
    effects = effects_from_webhook(payload, site_url=SITE, profile=profile())
    assert effects, "every payload yields at least one effect"
    for effect in effects:
        out = effect_to_json(effect)
        json.dumps(out)  # JSON-safe
        if isinstance(effect, TaskUpsert):
            issue = payload["issue"]
            assert effect.task.external_id == issue["id"]
            assert effect.task.key == issue["key"]
            assert effect.task.url == f"{SITE}/browse/{issue['key']}"
            assert effect.task.updated_at is not None and effect.task.updated_at.tzinfo is not None
            assert effect.raw == issue  # kept for `taskhub remap`


def test_recorded_webhooks_cover_both_origins() -> None:
    origins = {p.relative_to(WEBHOOKS).parts[0] for p in webhook_files()}
    assert {"pinpoint", "mattermost"} <= origins
    assert len(webhook_files()) >= 80


# --- issue created / updated (Cloud) ------------------------------------------------------


def test_cloud_issue_created_maps_fields_and_changelog() -> None:
    up = _upsert("pinpoint/jira__issue_created")
    t = up.task
    assert (t.external_id, t.key, t.title) == ("20942", "GOLD-189", "Test issue please ignore")
    assert t.url == "https://example.atlassian.net/browse/GOLD-189"
    assert (t.project_external_id, t.project_key) == ("10639", "GOLD")
    assert (t.status, t.status_category, t.type) == (
        "Work Required",
        StatusCategory.todo,
        TaskType.task,
    )
    assert t.priority == "Not Prioritized"
    assert [(a.external_id, a.display_name) for a in t.assignees] == [(ROBIN, "Robin Diddams")]
    assert t.created_at == _utc(2020, 7, 27, 21, 46, 26, 918000)  # -0700 in the payload
    assert t.updated_at == _utc(2020, 7, 27, 21, 46, 26, 918000)
    assert (t.completed_at, t.started_at, t.due_date) == (None, None, None)
    assert [c.external_id for c in up.changes] == [f"103778:{i}" for i in range(6)]
    status = _change(up, "status")
    assert (status.from_value, status.to_value) == (None, "Work Required")
    assert status.to_category is StatusCategory.todo  # the issue's current status
    assert status.changed_at == _utc(2020, 7, 27, 21, 46, 27, 39000)  # payload timestamp
    assert status.author is not None and status.author.external_id == ROBIN
    assert _change(up, "assignee").to_value == ROBIN


def test_assignee_change_and_server_style_sprint_string() -> None:
    up = _upsert("pinpoint/jira__issue_updated.assignee")
    assert (up.task.key, up.task.type) == ("TES-12", TaskType.bug)
    assert up.task.assignees[0].external_id == ROBIN
    # customfield_10107 lists "TES Sprint 2" (CLOSED) then "TES Sprint 3" (ACTIVE).
    assert up.task.sprint == "TES Sprint 3"
    change = _change(up, "assignee")
    assert (change.from_value, change.to_value, change.external_id) == (None, ROBIN, "104650:0")


def test_due_date_set() -> None:
    up = _upsert("pinpoint/jira__issue_updated.due_date")
    assert up.task.key == "TES-22"
    assert up.task.due_date == date(2020, 8, 4)
    change = _change(up, "due_date")
    assert (change.from_value, change.to_value) == (None, "2020-08-04")


def test_due_date_unset() -> None:
    up = _upsert("pinpoint/jira__issue_updated.due_date.unset")
    assert up.task.due_date is None
    change = _change(up, "due_date")
    assert (change.from_value, change.to_value) == ("2020-08-04", None)
    assert up.task.updated_at == _utc(2020, 8, 4, 2, 55, 17, 733000)


def test_sprint_change_by_custom_field_id() -> None:
    up = _upsert("pinpoint/jira__issue_updated.sprint_ids")
    assert (up.task.key, up.task.sprint) == ("GOLD-208", "TES Sprint 3")
    change = _change(up, "sprint")  # item field "Sprint", fieldId customfield_10107
    assert (change.from_value, change.to_value) == (None, "TES Sprint 3")


def test_sprint_from_discovered_field_id() -> None:
    fields = JiraFieldIds(
        story_points=[], sprint="customfield_10107", epic_link="customfield_10006", cost=None
    )
    up = _upsert("pinpoint/jira__issue_updated.tags", fields=fields)
    assert up.task.sprint == "TES Sprint 3"
    assert up.task.parent == "TES-38"  # the (deprecated) Epic Link holds the epic's key
    assert up.task.labels == ["signal"]
    change = _change(up, "labels")
    assert (change.from_value, change.to_value) == (None, "signal")


def test_issue_type_changed() -> None:
    up = _upsert("pinpoint/jira__issue_updated.type")
    assert (up.task.key, up.task.type) == ("TES-20", TaskType.task)
    change = _change(up, "issuetype")  # untracked fields keep Jira's field name
    assert (change.from_value, change.to_value) == ("Bug", "Task")


def test_resolved_issue_is_done_with_resolution_date() -> None:
    up = _upsert("pinpoint/jira__issue_updated.resolution")
    t = up.task
    assert (t.key, t.status, t.status_category) == ("TES-19", "Closed", StatusCategory.done)
    assert t.completed_at == _utc(2020, 8, 4, 2, 1, 23, 105000)  # resolutiondate -0700
    resolution = _change(up, "resolution")
    assert (resolution.from_value, resolution.to_value) == (None, "Won't Do")
    status = _change(up, "status")
    assert (status.from_value, status.to_value) == ("To Do", "Closed")
    assert (status.from_category, status.to_category) == (None, StatusCategory.done)


def test_moved_issue_keeps_its_id_and_records_the_key_change() -> None:
    up = _upsert("pinpoint/jira__issue_updated.project")
    assert (up.task.external_id, up.task.key, up.task.project_key) == ("19518", "GOLD-208", "GOLD")
    key = _change(up, "Key")
    assert (key.from_value, key.to_value) == ("TES-82", "GOLD-208")
    assert [c.field for c in up.changes] == ["project", "status", "Workflow", "Key"]
    # The project by its id (what taskhub stores as the project's external id), not its name
    # ("TESTING" -> "Gold Miners"): the risk view replays project membership from these rows.
    project = _change(up, "project")
    assert (project.from_value, project.to_value, project.from_id, project.to_id) == (
        "10601", "10639", "10601", "10639")
    assert project.changed_at == datetime.fromtimestamp(1596507921.569, UTC)


def test_in_progress_issue_starts_at_its_status_category_change() -> None:
    up = _upsert("pinpoint/jira__issue_updated.description")
    assert (up.task.key, up.task.status_category) == ("PROD-1142", StatusCategory.in_progress)
    assert up.task.started_at == _utc(2020, 9, 30, 21, 15, 10, 726000)
    description = _change(up, "description")  # ADF bodies are not copied into changes
    assert (description.from_value, description.to_value) == (None, None)


def test_issue_deleted_is_a_tombstone_at_the_event_time() -> None:
    effects = _effects("pinpoint/jira__issue_deleted")
    assert effects == [
        TaskDelete(
            external_id="20733",
            reason=DeletedReason.deleted,
            at=_utc(2020, 7, 7, 0, 29, 23, 632000),
        )
    ]


def test_renamed() -> None:
    up = _upsert("mattermost/webhook-issue-updated-renamed")
    assert (up.task.key, up.task.title) == ("TES-41", "Unit test summary 1")
    change = _change(up, "summary")
    assert (change.from_value, change.to_value) == ("Unit test summary", "Unit test summary 1")


def test_reopened_issue_is_todo_and_not_completed() -> None:
    up = _upsert("mattermost/webhook-issue-updated-reopened")
    assert (up.task.status, up.task.status_category, up.task.completed_at) == (
        "To Do",
        StatusCategory.todo,
        None,
    )
    status = _change(up, "status")
    assert (status.from_value, status.to_value, status.to_category) == (
        "Done",
        "To Do",
        StatusCategory.todo,
    )
    assert _change(up, "resolution").to_value is None


def test_resolved_cloud_issue() -> None:
    up = _upsert("mattermost/webhook-issue-updated-resolved")
    assert up.task.status_category is StatusCategory.done
    assert up.task.completed_at == _utc(2019, 2, 16, 3, 15, 40, 470000)
    status = _change(up, "status")
    assert (status.from_value, status.to_value, status.to_category) == (
        "In Progress",
        "Done",
        StatusCategory.done,
    )


def test_started_working_sets_started_at_from_the_transition() -> None:
    up = _upsert("mattermost/webhook-issue-updated-started-working")
    assert up.task.status_category is StatusCategory.in_progress
    assert up.task.started_at == _utc(2019, 2, 16, 3, 14, 22, 39000)  # timestamp 1550286862039


def test_fix_version_change_keeps_version_ids() -> None:
    up = _upsert("mattermost/webhook-issue-updated-fix-version")
    change = _change(up, "milestone")
    assert (change.from_value, change.to_value, change.external_id) == ("10000", "10001", "11151:0")


def test_cloud_issue_with_many_fields() -> None:
    t = _upsert("mattermost/webhook-cloud-issue-created-many-fields").task
    assert (t.key, t.labels) == ("KT-22", ["Label1", "Label2"])
    assert [(m.external_id, m.name) for m in t.milestones] == [
        ("10000", "version1"),
        ("10001", "version2"),
    ]
    assert t.sprint == "SCRUM1 Sprint 1"
    assert t.parent == "KT-17"  # customfield_10014, the common Cloud Epic Link id
    a = t.assignees[0]
    assert (a.external_id, a.email) == ("5cedcb4355a88a0fc86388ba", "user@example.com")


# --- Data Center / Server -----------------------------------------------------------------


def test_server_assignee_is_the_username() -> None:
    up = _upsert("mattermost/webhook-issue-updated-assigned-on-server")
    t = up.task
    assert (t.key, t.type) == ("PRJA-37", TaskType.other)  # "Improvement"
    assert [(a.external_id, a.email) for a in t.assignees] == [
        ("admin", "some-instance-test@gmail.com")
    ]
    assert t.created_at == _utc(2019, 6, 27, 14, 55, 17, 488000)
    change = _change(up, "assignee")
    assert (
        change.to_value == "admin"
        and change.author is not None
        and change.author.external_id == "admin"
    )


def test_server_closed_issue_with_time_tracking() -> None:
    t = _upsert("mattermost/webhook-server-issue-updated-closed").task
    assert (t.key, t.status, t.status_category, t.type) == (
        "TES-4",
        "Closed",
        StatusCategory.done,
        TaskType.bug,
    )
    assert t.completed_at == _utc(2019, 8, 14, 3, 3, 2, 179000)  # "+0800" in the payload
    assert (t.spent_seconds, t.remaining_seconds) == (180, 0)


def test_old_server_payload_without_event_type_name() -> None:
    payload = webhook("mattermost/webhook-server-old-issue-updated-no-event-type-assigned")
    assert "issue_event_type_name" not in payload
    up = _upsert("mattermost/webhook-server-old-issue-updated-no-event-type-assigned")
    assert up.task.key == "TES-41"
    assert up.task.assignees[0].external_id == "5c5f880629be9642ba529340"


def test_server_issue_commented_maps_the_full_issue() -> None:
    t = _upsert("mattermost/webhook-server-issue-updated-commented-1").task
    assert (t.key, t.sprint, t.status) == ("PRJX-14", "Sample Sprint 2", "To Do")
    assert t.assignees[0].external_id == "levbrouk"


# --- events that must not change tasks ----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "pinpoint/comment_created",
        "pinpoint/comment_updated",
        "pinpoint/comment_deleted",
        "mattermost/webhook-cloud-comment-created",
        "mattermost/webhook-server-comment-deleted",
    ],
)
def test_comment_events_are_ignored_and_never_upsert_the_summary_issue(name: str) -> None:
    assert _effects(name) == [Ignored(reason=COMMENT_REASON)]


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("pinpoint/sprint_started", "sprint_started"),
        ("pinpoint/sprint_closed", "sprint_closed"),
        ("pinpoint/board_created", "board_created"),
        ("pinpoint/board_configuration_changed", "board_configuration_changed"),
        ("pinpoint/project_updated", "project_updated"),
        ("pinpoint/user_created", "user_created"),
    ],
)
def test_untracked_event_families_are_ignored_with_the_event_named(name: str, event: str) -> None:
    (effect,) = _effects(name)
    assert isinstance(effect, Ignored)
    assert f"'{event}'" in effect.reason


def test_payload_without_webhook_event_is_ignored() -> None:
    (effect,) = _effects("pinpoint/issue_createmeta")
    assert isinstance(effect, Ignored) and effect.reason.startswith("payload has no webhookEvent")


def test_unknown_event_is_ignored_visibly() -> None:
    effects = effects_from_webhook(
        {"webhookEvent": "jira:x_y", "timestamp": 1}, site_url=SITE, profile=profile()
    )
    assert effects == [Ignored(reason="unsupported event 'jira:x_y'")]


def test_summary_form_issue_becomes_a_patch_of_only_what_it_carries() -> None:
    (effect,) = _effects("mattermost/webhook-issue-assigned-empty-changelog")
    assert isinstance(effect, TaskPatch)
    assert effect.external_id == "10001"
    assert effect.fields["assignees"][0].external_id == "789012"
    assert effect.fields["status_category"] is StatusCategory.todo
    for absent in ("labels", "due_date", "milestones", "sprint", "updated_at"):
        assert absent not in effect.fields
    assert effect.updated_at == _utc(2024, 8, 20, 18, 47, 42, 935000)


def test_project_moves_on_data_center_and_a_custom_field_named_project() -> None:
    """Data Center's changelog items have no fieldId: ``field: "project"`` is still the move (by
    ids). A custom field called "Project" (fieldtype custom) is not: it keeps its own name and
    its display strings, and no ids (the risk view replays only rows with them)."""
    from mappings.jira.catalogue import StatusBook
    from mappings.jira.changelog import FieldPlanView, History, changes_from_histories

    items = [
        {"field": "project", "fieldtype": "jira", "from": "10000", "fromString": "Alpha", "to": "10100",
         "toString": "Beta"},
        {"field": "Project", "fieldtype": "custom", "from": "31", "fromString": "Apollo", "to": "32",
         "toString": "Gemini"},
    ]
    h = History(id="7", created=_utc(2024, 5, 1), author=None, items=items)
    move, custom = changes_from_histories("42", [h], book=StatusBook(), plan=FieldPlanView())
    assert (move.field, move.from_value, move.to_value, move.from_id, move.to_id) == (
        "project", "10000", "10100", "10000", "10100")
    assert (custom.field, custom.from_value, custom.to_value, custom.to_id) == (
        "Project (custom field)", "Apollo", "Gemini", None)
