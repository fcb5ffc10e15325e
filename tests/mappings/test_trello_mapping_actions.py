"""Unit tests of action mapping and of the document entry point."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from mappings.model import (
    DeletedReason,
    Ignored,
    StatusCategory,
    Task,
    TaskDelete,
    TaskPatch,
    TaskUpsert,
)
from mappings.trello import (
    IGNORED_ACTIONS,
    SUPPORTED_ACTIONS,
    TASK_PATCH_HINTS,
    BoardContext,
    ListInfo,
    effect_to_json,
    effects_from_document,
    effects_from_webhook,
    map_action,
)
from tests.mappings.trello_data import profile, rest_body, webhook

CARD = {"id": "5ec0e621fe539f18d8d81980", "name": "Card", "shortLink": "WJXNVYCk"}
BOARD = {"id": "b1", "name": "Board"}
CTX = BoardContext(board_id="b1", lists={"l-done": ListInfo("Done")})


def action(kind: str, **data: Any) -> dict[str, Any]:
    return {
        "id": "act1",
        "type": kind,
        "date": "2024-05-01T12:00:00.000Z",
        "data": {"card": CARD, "board": BOARD} | data,
        "memberCreator": {"id": "m0", "fullName": "Creator"},
    }


def one(effects: list[Any]) -> Any:
    assert len(effects) == 1, effects
    return effects[0]


def test_every_task_patch_carries_the_action_date() -> None:
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    for kind in sorted(SUPPORTED_ACTIONS - {"deleteCard", "moveCardFromBoard"}):
        extra = {"old": {"name": "x"}, "idMember": "m1"} if kind != "addLabelToCard" else {}
        effect = one(map_action(action(kind, **extra), CTX, profile()))
        assert isinstance(effect, TaskPatch), kind
        assert effect.updated_at == at, kind


def test_patch_field_keys_are_task_fields_or_documented_hints() -> None:
    task_fields = set(Task.model_fields)
    for kind in sorted(SUPPORTED_ACTIONS):
        data = {"old": {"idList": "l1", "closed": False, "due": None, "name": "o"}, "idMember": "m"}
        for effect in map_action(action(kind, **data), CTX, profile()):
            if isinstance(effect, TaskPatch):
                assert set(effect.fields) <= task_fields | TASK_PATCH_HINTS, kind


def test_update_card_with_old_list_id_only_resolves_lists_through_the_context() -> None:
    card = CARD | {"idList": "l-done"}
    patch = one(map_action(action("updateCard", card=card, old={"idList": "l-x"}), CTX, profile()))
    assert patch.fields["status"] == "Done"
    assert patch.fields["status_category"] is StatusCategory.done
    assert patch.changes[0].from_value == "l-x"  # unknown list: its id


def test_update_card_due_complete_with_the_profile_switch_marks_done() -> None:
    data = {"card": CARD | {"dueComplete": True}, "old": {"dueComplete": False}}
    plain = one(map_action(action("updateCard", **data), CTX, profile()))
    switched = one(
        map_action(action("updateCard", **data), CTX, profile(due_complete_means_done=True))
    )
    assert "status_category" not in plain.fields and plain.fields["needs_refetch"] is True
    assert switched.fields["status_category"] is StatusCategory.done
    assert (switched.changes[0].field, switched.changes[0].to_value) == ("due_complete", "true")


def test_update_card_start_date_in_the_board_time_zone() -> None:
    ctx = BoardContext(board_id="b1", timezone="Asia/Tokyo")
    data = {"card": CARD | {"start": "2024-05-01T16:00:00.000Z"}, "old": {"start": None}}
    patch = one(map_action(action("updateCard", **data), ctx, profile()))
    assert patch.fields == {"start_date": date(2024, 5, 2)}


def test_move_card_from_board_is_out_of_scope() -> None:
    tomb = one(map_action(action("moveCardFromBoard", boardTarget={"id": "b2"}), CTX, profile()))
    assert isinstance(tomb, TaskDelete)
    assert tomb.reason is DeletedReason.out_of_scope
    assert tomb.at == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_move_card_to_board_patches_the_project_and_asks_for_a_refetch() -> None:
    a = action(
        "moveCardToBoard", board={"id": "b2", "name": "Other"}, list={"id": "l9", "name": "WIP"}
    )
    patch = one(map_action(a, CTX, profile()))
    assert patch.fields["project_external_id"] == "b2"
    assert patch.fields["project_key"] == "Other"
    assert patch.fields["status_category"] is StatusCategory.in_progress
    assert patch.fields["needs_refetch"] is True


def test_move_card_to_board_records_the_move_by_board_ids() -> None:
    """Trello records the move on the new board with ``data.boardSource {id}`` beside ``data.board``
    (the sandbox's shape, and TrelloNet's MoveCardToBoardAction): one ``project`` change from the old
    board's id to the new one's, the ids taskhub stores as the projects' external ids."""
    a = action("moveCardToBoard", board={"id": "b2", "name": "Other"}, boardSource={"id": "b1"},
               list={"id": "l0", "name": "Backlog"})
    (move,) = one(map_action(a, CTX, profile())).changes  # into a to-do list: no status entry
    assert (move.field, move.external_id, move.from_value, move.to_value, move.from_id, move.to_id) == (
        "project", "act1:project", "b1", "b2", "b1", "b2")
    assert move.changed_at == datetime(2024, 5, 1, 12, tzinfo=UTC) and move.author is not None
    # Without the old board's id (or a time) the move is not known: no row.
    assert one(map_action(action("moveCardToBoard", board={"id": "b2"}), CTX, profile())).changes == []


def test_custom_field_cleared_sets_the_field_to_none() -> None:
    a = action(
        "updateCustomFieldItem",
        customField={"id": "f", "name": "Cost", "type": "number"},
        customFieldItem={"idCustomField": "f", "value": None},
        old={"value": {"number": "12"}},
    )
    assert one(map_action(a, CTX, profile())).fields == {"cost": None, "needs_refetch": True}


def test_custom_field_list_option_unknown_to_the_context_is_left_to_the_refetch() -> None:
    a = action(
        "updateCustomFieldItem",
        customField={"id": "f", "name": "Points", "type": "list"},
        customFieldItem={"idCustomField": "f", "idValue": "opt"},
    )
    assert one(map_action(a, CTX, profile())).fields == {"needs_refetch": True}
    ctx = BoardContext(
        board_id="b1",
        custom_fields={
            "f": {"id": "f", "name": "Points", "options": [{"id": "opt", "value": {"text": "13"}}]}
        },
    )
    assert one(map_action(a, ctx, profile())).fields["estimate_points"] == 13.0


def test_copy_card_is_a_creation() -> None:
    a = action("copyCard", list={"id": "l1", "name": "In Review"})
    patch = one(map_action(a, CTX, profile()))
    assert patch.fields["title"] == "Card"
    assert patch.fields["status_category"] is StatusCategory.in_progress


def test_unknown_and_malformed_actions_are_ignored_with_reasons() -> None:
    assert one(map_action(action("frobnicateCard"), CTX, profile())).reason == (
        "unsupported action type 'frobnicateCard'"
    )
    assert "type" in one(map_action({"data": {}}, CTX, profile())).reason
    no_card = action("updateCard", card={}, old={"name": "x"})
    assert "card" in one(map_action(no_card, CTX, profile())).reason
    assert isinstance(one(map_action("nonsense", CTX, profile())), Ignored)  # type: ignore[arg-type]


def test_supported_and_ignored_action_lists_do_not_overlap() -> None:
    assert not SUPPORTED_ACTIONS & IGNORED_ACTIONS.keys()


def test_action_without_a_date_keeps_fields_but_drops_changes() -> None:
    a = action("updateCard", card=CARD | {"closed": True}, old={"closed": False})
    del a["date"]
    patch = one(map_action(a, CTX, profile()))
    assert patch.fields == {"archived": True} and patch.changes == [] and patch.updated_at is None


# --- webhooks and documents ----------------------------------------------------------


def test_webhook_without_action_is_ignored() -> None:
    assert "action" in one(effects_from_webhook({"model": {"id": "b"}}, None, profile())).reason


def test_card_webhook_model_is_mapped_after_the_action() -> None:
    model = CARD | {"idBoard": "b1", "idList": "l-done", "dateLastActivity": "2024-05-01T12:00:00Z"}
    payload = {"action": action("updateCard", card=model, old={"name": "x"}), "model": model}
    patch, upsert = effects_from_webhook(payload, CTX, profile())
    assert isinstance(patch, TaskPatch) and isinstance(upsert, TaskUpsert)
    assert upsert.task.status == "Done"


def test_document_detects_each_shape() -> None:
    prof = profile()
    hook = webhook("ringcentral/updateCard-moved")
    card = rest_body("card_find_with_id_and_get_all_fields.0.GET")
    assert isinstance(one(effects_from_document(hook, profile=prof)), TaskPatch)
    assert isinstance(one(effects_from_document(hook["action"], profile=prof)), TaskPatch)
    assert isinstance(one(effects_from_document(card, profile=prof)), TaskUpsert)
    cards = rest_body("can_get_cards_of_member.1.GET")
    assert len(effects_from_document(cards, profile=prof)) == len(cards)
    board = {"id": "b1", "cards": [card]}
    assert isinstance(one(effects_from_document(board, profile=prof)), TaskUpsert)
    assert effects_from_document([], profile=prof) == []


@pytest.mark.parametrize(
    "garbage",
    [
        {"hello": "world"},
        {},
        "a string",
        42,
        None,
        {"id": "x", "name": "a board without cards"},
        [{"idList": "l"}],
        [CARD | {"idBoard": "b", "idList": "l"}, 3],
    ],
)
def test_document_of_the_wrong_shape_raises_a_clear_value_error(garbage: Any) -> None:
    with pytest.raises(ValueError, match="Trello"):
        effects_from_document(garbage, profile=profile())


def test_effect_to_json_writes_dates_as_iso_and_decimals_as_strings() -> None:
    defs = {"f": {"id": "f", "name": "Cost"}}
    card = CARD | {
        "idBoard": "b1",
        "idList": "l-done",
        "due": "2024-05-01T12:00:00Z",
        "customFieldItems": [{"idCustomField": "f", "value": {"number": "10.10"}}],
    }
    ctx = BoardContext(board_id="b1", custom_fields=defs)
    out = effect_to_json(one(effects_from_document(card, profile=profile(), ctx=ctx)))
    assert out["effect"] == "task_upsert"
    assert out["task"]["cost"] == "10.10"
    assert out["task"]["due_date"] == "2024-05-01"
    assert out["changes"] == [] and "raw" not in out
    patch = one(
        map_action(
            action("updateCard", card=CARD | {"due": None}, old={"due": "2024-01-01T00:00:00Z"}),
            CTX,
            profile(),
        )
    )
    as_json = effect_to_json(patch)
    assert as_json["fields"] == {"due_date": None}
    assert as_json["updated_at"].startswith("2024-05-01T12:00:00")
    json.dumps(as_json)
    assert Decimal(out["task"]["cost"]) == Decimal("10.10")


def test_a_card_created_or_moved_onto_the_board_into_progress_enters_that_category() -> None:
    ctx = BoardContext(board_id="b1", lists={"l-doing": ListInfo("Doing"), "l-todo": ListInfo("To Do"),
                                             "l-done": ListInfo("Done")})
    at = datetime(2024, 5, 1, 12, tzinfo=UTC)
    for kind in ("createCard", "copyCard", "convertToCardFromCheckItem", "emailCard", "moveCardToBoard"):
        patch = one(map_action(action(kind, list={"id": "l-doing", "name": "Doing"}), ctx, profile()))
        assert isinstance(patch, TaskPatch), kind
        (entry,) = patch.changes  # the same change the history read stores, by the same id
        assert (entry.external_id, entry.field, entry.to_value, entry.to_category, entry.changed_at) == (
            "act1:entry", "status", "Doing", StatusCategory.in_progress, at), kind
        assert entry.from_value is None and entry.author is not None and entry.author.external_id == "m0"
        done = one(map_action(action(kind, list={"id": "l-done"}), ctx, profile()))
        assert [(c.to_value, c.to_category) for c in done.changes] == [("Done", StatusCategory.done)]
        todo = one(map_action(action(kind, list={"id": "l-todo", "name": "To Do"}), ctx, profile()))
        assert todo.changes == []  # entering to-do is no status change


def test_a_move_into_a_list_renamed_since_takes_the_category_of_its_current_name() -> None:
    # "Next up" then, "Doing" now: the profile's rule applies to the list, by its id
    ctx = BoardContext(board_id="b1", lists={"l-lane": ListInfo("Doing"), "l-todo": ListInfo("To Do")})
    move = action("updateCard", old={"idList": "l-todo"}, listBefore={"id": "l-todo", "name": "To Do"},
                  listAfter={"id": "l-lane", "name": "Next up"})
    (change,) = one(map_action(move, ctx, profile())).changes
    assert (change.to_value, change.to_category, change.to_id) == ("Next up", StatusCategory.in_progress, "l-lane")
    assert (change.from_value, change.from_category, change.from_id) == ("To Do", StatusCategory.todo, "l-todo")
    created = one(map_action(action("createCard", list={"id": "l-lane", "name": "Next up"}), ctx, profile()))
    assert [(c.to_value, c.to_category, c.to_id) for c in created.changes] == [
        ("Next up", StatusCategory.in_progress, "l-lane")]
    # a list the board no longer has: the name the action gives
    gone = action("updateCard", old={"idList": "l-todo"}, listAfter={"id": "l-old", "name": "Doing"})
    (change,) = one(map_action(gone, ctx, profile())).changes
    assert change.to_category is StatusCategory.in_progress
