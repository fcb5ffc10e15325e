"""Every recorded Trello payload maps; golden values read by hand from the files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from mappings.model import (
    DeletedReason,
    Ignored,
    StatusCategory,
    TaskDelete,
    TaskPatch,
    TaskUpsert,
)
from mappings.trello import (
    BoardContext,
    effect_to_json,
    effects_from_document,
    effects_from_webhook,
    list_renamed,
    map_action,
)
from tests.mappings.trello_data import (
    WEBHOOKS,
    profile,
    rest_actions,
    rest_body,
    rest_cards,
    webhook,
    webhook_files,
)

DEFAULT = profile()


def only(effects: list[Any], kind: type) -> Any:
    assert len(effects) == 1, effects
    assert isinstance(effects[0], kind), effects
    return effects[0]


# --- everything maps -----------------------------------------------------------------


@pytest.mark.parametrize("path", webhook_files(), ids=lambda p: str(p.relative_to(WEBHOOKS)))
def test_every_recorded_webhook_maps_to_json_safe_effects(path: Path) -> None:
    import json

    effects = effects_from_webhook(json.loads(path.read_text()), None, DEFAULT)
    assert effects
    for effect in effects:
        json.dumps(effect_to_json(effect))
        if isinstance(effect, TaskPatch):
            assert effect.updated_at is not None


def test_the_recorded_webhook_set_is_the_one_expected() -> None:
    # guards the parametrized test above against an empty or moved data folder
    assert len(webhook_files()) >= 50


@pytest.mark.parametrize("name,card", rest_cards(), ids=[n for n, _ in rest_cards()])
def test_every_recorded_rest_card_maps_to_a_task(name: str, card: dict[str, Any]) -> None:
    upsert = effects_from_document(card, profile=DEFAULT)[0]
    assert isinstance(upsert, TaskUpsert)
    assert upsert.task.external_id == card["id"]
    assert upsert.task.project_external_id == card["idBoard"]
    assert upsert.task.created_at is not None


@pytest.mark.parametrize("name,action", rest_actions(), ids=[n for n, _ in rest_actions()])
def test_every_recorded_rest_action_maps(name: str, action: dict[str, Any]) -> None:
    effects = effects_from_document(action, profile=DEFAULT)
    assert effects and all(effect_to_json(e)["effect"] for e in effects)


# --- golden webhooks -----------------------------------------------------------------


def test_create_card_webhook_patches_title_key_list_and_creation_time() -> None:
    patch = only(effects_from_webhook(webhook("ringcentral/createCard"), None, DEFAULT), TaskPatch)
    assert patch.external_id == "60940be5986d6c0bca3637d6"
    assert patch.fields["title"] == "hi"
    assert patch.fields["key"] == "p51YToTZ"
    assert patch.fields["status"] == "To Do"
    assert patch.fields["status_category"] is StatusCategory.todo
    assert patch.fields["list_id"] == "609402807c6be98b8289c55f"
    assert patch.fields["project_external_id"] == "609402807c6be98b8289c55e"
    assert patch.fields["project_key"] == "TestBoard"
    assert patch.fields["created_at"] == datetime(2021, 5, 6, 15, 31, 49, tzinfo=UTC)
    assert patch.updated_at == datetime(2021, 5, 6, 15, 31, 50, 11000, tzinfo=UTC)


def test_card_moved_to_doing_is_a_status_change_into_in_progress() -> None:
    patch = only(
        effects_from_webhook(webhook("ringcentral/updateCard-moved"), None, DEFAULT), TaskPatch
    )
    assert patch.fields["status"] == "Doing"
    assert patch.fields["status_category"] is StatusCategory.in_progress
    [change] = patch.changes
    assert (change.field, change.from_value, change.to_value) == ("status", "To Do", "Doing")
    assert (change.from_category, change.to_category) == (
        StatusCategory.todo,
        StatusCategory.in_progress,
    )
    assert change.external_id == "6094fcdb3e934963bc95c146"
    assert change.changed_at == datetime(2021, 5, 7, 8, 39, 55, 364000, tzinfo=UTC)
    assert change.author is not None and change.author.external_id == "6045949b752485785feab3b4"


def test_list_move_uses_the_profile_list_map_by_name() -> None:
    prof = profile(list_map={"Intermediate": "in_progress"})
    patch = only(effects_from_webhook(webhook("zulip/changing_cards_list"), None, prof), TaskPatch)
    assert patch.external_id == "53582e2da0fac5676a71427f"
    assert patch.fields["status"] == "Intermediate"
    assert patch.fields["status_category"] is StatusCategory.in_progress
    assert patch.changes[0].from_value == "Basics"
    assert patch.changes[0].from_category is StatusCategory.todo


def test_archiving_a_card_marks_it_archived_and_records_the_change() -> None:
    patch = only(
        effects_from_webhook(webhook("ringcentral/updateCard-archived"), None, DEFAULT), TaskPatch
    )
    assert patch.external_id == "60940be5986d6c0bca3637d6"
    assert patch.fields == {"archived": True}
    assert (patch.changes[0].field, patch.changes[0].to_value) == ("archived", "true")


def test_reopening_a_card_clears_archived() -> None:
    patch = only(effects_from_webhook(webhook("zulip/reopening_card"), None, DEFAULT), TaskPatch)
    assert patch.external_id == "53582e2da0fac5676a71428b"
    assert patch.fields["archived"] is False
    assert patch.changes[0].from_value == "true"


def test_archive_with_archived_as_done_asks_for_a_refetch() -> None:
    prof = profile(archived_as_done=True)
    patch = only(effects_from_webhook(webhook("zulip/archiving_card"), None, prof), TaskPatch)
    assert patch.fields["archived"] is True
    assert patch.fields["needs_refetch"] is True


def test_due_date_added_is_a_date_with_a_due_date_change() -> None:
    payload = webhook("ringcentral/updateCard-due-date-added")
    patch = only(effects_from_webhook(payload, None, DEFAULT), TaskPatch)
    assert patch.fields == {"due_date": date(2021, 5, 31)}
    change = patch.changes[0]
    assert (change.field, change.from_value, change.to_value) == ("due_date", None, "2021-05-31")


def test_due_date_changed_records_old_and_new_dates() -> None:
    payload = webhook("ringcentral/updateCard-due-date-changed")
    patch = only(effects_from_webhook(payload, None, DEFAULT), TaskPatch)
    assert patch.fields["due_date"] == date(2021, 5, 26)
    assert (patch.changes[0].from_value, patch.changes[0].to_value) == ("2021-05-31", "2021-05-26")


def test_due_date_removed_clears_the_due_date() -> None:
    patch = only(
        effects_from_webhook(webhook("zulip/removing_due_date_from_card"), None, DEFAULT),
        TaskPatch,
    )
    assert patch.fields == {"due_date": None}
    assert (patch.changes[0].from_value, patch.changes[0].to_value) == ("2016-05-24", None)


def test_due_date_of_a_webhook_is_read_in_the_profile_time_zone() -> None:
    # 2016-05-11T10:00Z is already 12 May on Kiritimati (UTC+14)
    prof = profile(timezone="Pacific/Kiritimati")
    payload = webhook("zulip/setting_due_date_to_card")
    patch = only(effects_from_webhook(payload, None, prof), TaskPatch)
    assert patch.fields["due_date"] == date(2016, 5, 12)


def test_renaming_a_card_patches_the_title() -> None:
    payload = webhook("ringcentral/updateCard-renamed")
    patch = only(effects_from_webhook(payload, None, DEFAULT), TaskPatch)
    assert patch.fields == {"title": "hi123"}


def test_member_added_to_card_carries_the_assignee() -> None:
    payload = webhook("ringcentral/addMemberToCard")
    patch = only(effects_from_webhook(payload, None, DEFAULT), TaskPatch)
    assert patch.external_id == "60940be5986d6c0bca3637d6"
    assert patch.fields["add_assignee"] == {
        "tool": "trello",
        "external_id": "6045949b752485785feab3b4",
        "display_name": "embbnux.ji",
        "email": None,
        "username": None,  # not read here: filled in when the refetched card names its members
    }
    assert patch.fields["needs_refetch"] is True
    assert patch.changes[0].to_value == "6045949b752485785feab3b4"


def test_member_removed_from_card_names_the_member() -> None:
    payload = webhook("ringcentral/removeMemberFromCard")
    patch = only(effects_from_webhook(payload, None, DEFAULT), TaskPatch)
    assert patch.external_id == "609d141617b8862c73e5576d"
    assert patch.fields["remove_assignee"] == "60b117fdf9cc2e1933ac7998"


def test_label_added_and_removed_carry_the_label_name() -> None:
    added = only(
        effects_from_webhook(webhook("ringcentral/addLabelToCard"), None, DEFAULT), TaskPatch
    )
    removed = only(
        effects_from_webhook(webhook("ringcentral/removeLabelFromCard"), None, DEFAULT), TaskPatch
    )
    assert added.external_id == removed.external_id == "609d141617b8862c73e5576d"
    assert added.fields["add_label"] == "Feature"
    assert removed.fields["remove_label"] == "Feature"


def test_colour_only_label_asks_for_a_refetch_without_a_label_name() -> None:
    patch = only(
        effects_from_webhook(webhook("zulip/adding_label_to_card"), None, DEFAULT), TaskPatch
    )
    assert patch.fields == {"needs_refetch": True}


def test_checklist_item_completed_asks_for_a_refetch() -> None:
    payload = webhook("ringcentral/updateCheckItemStateOnCard-completed")
    patch = only(effects_from_webhook(payload, None, DEFAULT), TaskPatch)
    assert patch.external_id == "60940be5986d6c0bca3637d6"
    assert patch.fields == {"needs_refetch": True}


def test_comment_is_ignored_with_a_reason() -> None:
    ignored = only(effects_from_webhook(webhook("ringcentral/commentCard"), None, DEFAULT), Ignored)
    assert "comment" in ignored.reason


def test_description_and_position_changes_are_ignored_naming_the_field() -> None:
    desc = only(
        effects_from_webhook(webhook("ringcentral/updateCard-description"), None, DEFAULT), Ignored
    )
    pos = only(
        effects_from_webhook(webhook("zulip/moving_card_up_in_list"), None, DEFAULT), Ignored
    )
    assert desc.reason == "updateCard changed only untracked fields: desc"
    assert pos.reason == "updateCard changed only untracked fields: pos"


def test_list_rename_is_ignored_but_reported_by_list_renamed() -> None:
    payload = webhook("ringcentral/updateList-renamed")
    only(effects_from_webhook(payload, None, DEFAULT), Ignored)
    assert list_renamed(payload["action"]) == ("6094f7a667d48d2f40387c81", "New Name")
    assert list_renamed(webhook("ringcentral/updateList-archived")["action"]) is None
    assert list_renamed(webhook("ringcentral/updateCard-renamed")["action"]) is None


@pytest.mark.parametrize(
    "name",
    [
        "ringcentral/updateBoard-rename",
        "ringcentral/addMemberToBoard",
        "ringcentral/createLabel",
        "ringcentral/createList",
        "ringcentral/moveListFromBoard",
        "zulip/change_board_background_image",
    ],
)
def test_board_level_actions_are_ignored(name: str) -> None:
    ignored = only(effects_from_webhook(webhook(name), None, DEFAULT), Ignored)
    assert ignored.reason.startswith(webhook(name)["action"]["type"] + ": ")


def test_webhook_without_context_builds_one_from_the_board_model() -> None:
    from mappings.trello import context_from_action

    payload = webhook("ringcentral/updateCard-moved")
    ctx = context_from_action(payload["action"], DEFAULT, model=payload["model"])
    assert ctx.board_id == "609402807c6be98b8289c55e"
    assert ctx.board_name == "TestBoard"
    assert ctx.board_url == "https://trello.com/b/Wp8daJt3/testboard"
    assert ctx.list_name("609402807c6be98b8289c560") == "Doing"


def test_webhook_with_a_board_context_uses_its_list_map_by_id() -> None:
    ctx = BoardContext.minimal("609402807c6be98b8289c55e")
    prof = profile(list_map={"609402807c6be98b8289c560": "done"})
    patch = only(
        effects_from_webhook(webhook("ringcentral/updateCard-moved"), ctx, prof), TaskPatch
    )
    assert patch.fields["status_category"] is StatusCategory.done


def test_webhook_stub_without_model_or_data_is_ignored() -> None:
    only(effects_from_webhook(webhook("zulip/update_check_item"), None, DEFAULT), Ignored)


# --- golden REST ---------------------------------------------------------------------


def test_delete_card_action_is_a_tombstone() -> None:
    actions = rest_body("can_get_actions_of_board.1.GET")
    delete = next(a for a in actions if a["id"] == "5e93c81b2d83f28cfc6252ef")
    tomb = only(
        map_action(delete, BoardContext.minimal("5e93ba98614ac22d22f085c4"), DEFAULT), TaskDelete
    )
    assert tomb.external_id == "5e93c7d7ab08132bec8f6e6f"
    assert tomb.reason is DeletedReason.deleted
    assert tomb.at == datetime(2020, 4, 13, 2, 2, 3, 685000, tzinfo=UTC)


def test_custom_field_action_sets_the_mapped_field() -> None:
    actions = rest_body("can_get_actions_of_board.1.GET")
    update = next(a for a in actions if a["type"] == "updateCustomFieldItem")
    prof = profile(custom_fields={"estimate_points": ["Point"]})
    patch = only(
        map_action(update, BoardContext.minimal("5e93ba98614ac22d22f085c4"), prof), TaskPatch
    )
    assert patch.external_id == "5ec0e62003fe0f0f103a361b"
    assert patch.fields == {"estimate_points": 1.0, "needs_refetch": True}


def test_full_rest_card_golden() -> None:
    card = rest_body("card_find_with_id_and_get_all_fields.0.GET")
    ctx = BoardContext.minimal("5e70f5bed3f34a49e2f11409")
    task = only(effects_from_document(card, profile=DEFAULT, ctx=ctx), TaskUpsert).task
    assert task.external_id == "5e9310df53f23017628a8011"
    assert task.key == "Q5kgH5LT"
    assert task.url == "https://trello.com/c/Q5kgH5LT/2-test"
    assert task.title == "test"
    assert task.status == "5e7233a51f3e965484439077"  # list unknown to the context
    assert task.due_date == date(2020, 4, 26)
    assert [a.external_id for a in task.assignees] == ["5e679b808e6e8828784b30e1"]
    assert task.created_at == datetime(2020, 4, 12, 13, 0, 15, tzinfo=UTC)
    assert task.updated_at == datetime(2020, 4, 12, 13, 18, 36, 661000, tzinfo=UTC)


def test_board_assembled_from_recorded_responses_names_lists_and_members() -> None:
    board = dict(rest_body("can_get_cards_of_board.0.GET"))
    board["cards"] = rest_body("can_get_cards_of_board.1.GET")
    board["lists"] = rest_body("can_get_lists_of_board.1.GET")
    board["members"] = rest_body("can_get_members_of_board.1.GET")
    board["labels"] = rest_body("can_get_labels_of_board.1.GET")
    board["customFields"] = rest_body("can_get_custom_fields_of_board.1.GET")
    effects = effects_from_document(board, profile=profile(timezone="America/Los_Angeles"))
    tasks = {e.task.external_id: e.task for e in effects if isinstance(e, TaskUpsert)}
    assert len(tasks) == 3
    card = tasks["5e93c827fb102a6f40c5fa2b"]
    assert card.status == "L1"
    assert card.project_key == "IT 2"
    assert card.assignees[0].display_name == "Hopper Test"
    assert card.labels == []  # colour-only labels have no name
    # 2020-12-22T01:59Z is the evening of 21 December in Los Angeles
    assert card.due_date == date(2020, 12, 21)
