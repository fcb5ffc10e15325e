"""Unit tests of the card mapping: lists, dates, custom fields, milestones, profiles."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from mappings.model import MilestoneRef, MilestoneUpsert, StatusCategory, Task, TaskUpsert
from mappings.trello import (
    BoardContext,
    ListInfo,
    created_at_from_id,
    list_category,
    map_card,
)
from tests.mappings.trello_data import profile, rest_body

BOARD = "5e93ba98614ac22d22f085c4"
TODO, DOING, REVIEW, DONE = "5e93bac014d40e501ee46b8d", "aaa1", "aaa2", "aaa3"


def board_ctx(**kw: Any) -> BoardContext:
    lists = {
        TODO: ListInfo("Backlog"),
        DOING: ListInfo("Doing"),
        REVIEW: ListInfo("Code REVIEW"),
        DONE: ListInfo("Shipped ✅"),
    }
    return BoardContext(board_id=BOARD, board_name="IT 2", lists=lists, **kw)


def card(**fields: Any) -> dict[str, Any]:
    base = {"id": "5ec0e621fe539f18d8d81980", "idBoard": BOARD, "idList": TODO, "name": "C"}
    return base | fields


def task_of(c: dict[str, Any], ctx: BoardContext | None = None, **prof: Any) -> Task:
    effect = map_card(c, ctx or board_ctx(), profile(**prof))[0]
    assert isinstance(effect, TaskUpsert)
    return effect.task


# --- list_category -------------------------------------------------------------------


def test_list_category_explicit_map_by_id_wins_over_patterns() -> None:
    assert (
        list_category(DONE, board_ctx(), profile(list_map={DONE: "in_progress"})) == "in_progress"
    )


def test_list_category_explicit_map_by_exact_name() -> None:
    prof = profile(list_map={"Backlog": "done"})
    assert list_category(TODO, board_ctx(), prof) is StatusCategory.done


def test_list_category_patterns_are_case_insensitive() -> None:
    ctx = board_ctx()
    assert list_category(REVIEW, ctx, profile()) is StatusCategory.in_progress
    assert list_category(DONE, ctx, profile()) is StatusCategory.done
    assert list_category(DOING, ctx, profile(in_progress_patterns=["DOING"])) == "in_progress"


def test_list_category_defaults_to_todo_for_unknown_or_unmatched_lists() -> None:
    assert list_category(TODO, board_ctx(), profile()) is StatusCategory.todo
    assert list_category("nope", board_ctx(), profile()) is StatusCategory.todo
    assert list_category(None, board_ctx(), profile()) is StatusCategory.todo


def test_list_category_uses_a_given_name_when_the_context_lacks_the_list() -> None:
    assert list_category("x", board_ctx(), profile(), name="Done") is StatusCategory.done


# --- ids and dates -------------------------------------------------------------------


def test_created_at_from_id_reads_the_first_eight_hex_digits_as_unix_seconds() -> None:
    assert created_at_from_id("5e9310df53f23017628a8011") == datetime(
        2020, 4, 12, 13, 0, 15, tzinfo=UTC
    )
    with pytest.raises(ValueError):
        created_at_from_id("not-an-id")


def test_due_date_crossing_midnight_is_the_local_date() -> None:
    ctx = board_ctx(timezone="America/Los_Angeles")
    task = task_of(card(due="2024-03-01T02:00:00.000Z", start="2024-02-01T07:59:00.000Z"), ctx)
    assert task.due_date == date(2024, 2, 29)
    assert task.start_date == date(2024, 1, 31)
    assert task_of(card(due="2024-03-01T02:00:00.000Z")).due_date == date(2024, 3, 1)


def test_malformed_or_missing_dates_are_none() -> None:
    task = task_of(card(due="next tuesday", start=None, dateLastActivity=12))
    assert (task.due_date, task.start_date, task.updated_at) == (None, None, None)


def test_unknown_time_zone_is_refused_when_the_context_is_built() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        BoardContext.minimal(BOARD, timezone="Mars/Olympus")


# --- card basics ---------------------------------------------------------------------


def test_a_card_with_only_an_id_still_maps() -> None:
    task = task_of({"id": "5ec0e621fe539f18d8d81980"})
    assert task.project_external_id == BOARD
    assert task.status is None and task.status_category is StatusCategory.todo


def test_card_without_id_is_ignored_not_raised() -> None:
    [effect] = map_card({"name": "x"}, board_ctx(), profile())
    assert effect.effect == "ignored"


def test_key_is_parsed_from_short_url_when_short_link_is_missing() -> None:
    task = task_of(card(shortUrl="https://trello.com/c/WJXNVYCk"))
    assert task.key == "WJXNVYCk"
    assert task.url == "https://trello.com/c/WJXNVYCk"


def test_labels_come_from_label_objects_else_from_id_labels_through_the_board() -> None:
    ctx = board_ctx(labels={"l1": {"id": "l1", "name": "Bug"}, "l2": {"id": "l2", "name": ""}})
    assert task_of(card(labels=[{"id": "x", "name": "Feature"}], idLabels=["l1"]), ctx).labels == [
        "Feature"
    ]
    assert task_of(card(idLabels=["l1", "l2", "missing"]), ctx).labels == ["Bug"]


def test_assignees_are_named_from_board_members_or_inline_members() -> None:
    ctx = board_ctx(members={"m1": {"id": "m1", "fullName": "Ada L", "email": "ada@example.com"}})
    c = card(idMembers=["m1", "m2"], members=[{"id": "m2", "username": "bob"}])
    people = task_of(c, ctx).assignees
    assert [(p.external_id, p.display_name, p.email) for p in people] == [
        ("m1", "Ada L", "ada@example.com"),
        ("m2", "bob", None),
    ]
    assert all(p.tool == "trello" for p in people)


def test_checklist_counts_from_badges_or_from_fetched_checklists() -> None:
    assert (
        task_of(card(badges={"checkItems": 4, "checkItemsChecked": 1})).checklist_total,
        task_of(card(badges={"checkItems": 4, "checkItemsChecked": 1})).checklist_done,
    ) == (4, 1)
    checklists = rest_body("get_checklists_of_card.1.GET")
    checklists[0]["checkItems"][1] = checklists[0]["checkItems"][1] | {"state": "complete"}
    task = task_of(card(checklists=checklists, badges={"checkItems": 9, "checkItemsChecked": 9}))
    assert (task.checklist_total, task.checklist_done) == (2, 1)
    assert task_of(card()).checklist_total is None


# --- status switches -----------------------------------------------------------------


def test_due_complete_means_done_only_when_the_profile_says_so() -> None:
    c = card(idList=DOING, dueComplete=True)
    assert task_of(c).status_category is StatusCategory.in_progress
    assert task_of(c, due_complete_means_done=True).status_category is StatusCategory.done


def test_archived_card_keeps_its_list_category_unless_archived_as_done() -> None:
    c = card(idList=DOING, closed=True)
    task = task_of(c)
    assert task.archived is True and task.status_category is StatusCategory.in_progress
    assert task_of(c, archived_as_done=True).status_category is StatusCategory.done
    assert task.status == "Doing"


# --- custom fields -------------------------------------------------------------------

DEFS: dict[str, dict[str, Any]] = {
    "f-points": {"id": "f-points", "name": "Story Points", "type": "number"},
    "f-est": {"id": "f-est", "name": "Estimate (h)", "type": "number"},
    "f-spent": {
        "id": "f-spent",
        "name": "hours SPENT",  # names match case-insensitively
        "type": "list",
        "options": [
            {"id": "o1", "value": {"text": "1.5"}},
            {"_id": "o2", "value": {"text": "lots"}},
        ],
    },
    "f-cost": {"id": "f-cost", "name": "Cost", "type": "text"},
    "f-done": {"id": "f-done", "name": "Points", "type": "checkbox"},
}


def item(field: str, **value: Any) -> dict[str, Any]:
    return {"idCustomField": field, **value}


def test_custom_fields_of_each_type_map_by_name() -> None:
    items = [
        item("f-points", value={"number": "5"}),
        item("f-est", value={"number": "1.1"}),
        item("f-spent", idValue="o1"),
        item("f-cost", value={"text": " 1234.50 "}),
    ]
    task = task_of(card(customFieldItems=items), board_ctx(custom_fields=DEFS))
    assert task.estimate_points == 5.0
    assert task.estimate_seconds == 3960  # exact: 1.1 h, not 3959 s
    assert task.spent_seconds == 5400  # list option "1.5"
    assert task.cost == Decimal("1234.50")


def test_malformed_numbers_are_ignored_not_raised() -> None:
    items = [
        item("f-points", value={"number": "five"}),
        item("f-est", value={"number": "-2"}),
        item("f-spent", idValue="o2"),  # option text "lots"
        item("f-cost", value={"text": "NaN"}),
        item("f-done", value={"checked": "true"}),  # a checkbox named "Points"
        item("unknown-field", value={"number": "3"}),
    ]
    task = task_of(card(customFieldItems=items), board_ctx(custom_fields=DEFS))
    assert (task.estimate_points, task.estimate_seconds, task.spent_seconds, task.cost) == (
        None,
        None,
        None,
        None,
    )


def test_first_listed_custom_field_name_with_a_value_wins() -> None:
    defs = DEFS | {"f-p2": {"id": "f-p2", "name": "Points", "type": "number"}}
    items = [item("f-p2", value={"number": "8"}), item("f-points", value={"number": "3"})]
    # default profile lists "Points" before "Story Points"
    assert (
        task_of(card(customFieldItems=items), board_ctx(custom_fields=defs)).estimate_points == 8.0
    )


def test_recorded_custom_field_items_with_their_definitions() -> None:
    # items recorded by ruby-trello; the board definitions were not, so they are named here
    items = rest_body("custom_field_item_save_2.1.GET")
    defs = {
        "5e68e8dbe4af5927555851e4": {"id": "5e68e8dbe4af5927555851e4", "name": "Points"},
        "5e68e8cf6b440a35fcc12af8": {
            "id": "5e68e8cf6b440a35fcc12af8",
            "name": "Spent",
            "type": "list",
            "options": [{"id": "5e68e8cf6b440a35fcc12af9", "value": {"text": "2"}}],
        },
        "5e68e8e87c16bf75894df21a": {"id": "5e68e8e87c16bf75894df21a", "name": "Cost"},
    }
    base = rest_body("custom_field_item_save_2.0.GET")
    task = task_of(base | {"customFieldItems": items}, board_ctx(custom_fields=defs))
    assert task.estimate_points == 1.0
    assert task.spent_seconds == 7200
    assert task.cost is None  # the text "cool"


# --- milestones ----------------------------------------------------------------------


def test_milestone_card_is_a_milestone_task_and_a_milestone() -> None:
    c = card(
        id="5f000000aaaaaaaaaaaaaaaa",
        name="Beta release",
        labels=[{"id": "l", "name": "milestone"}],
        due="2024-06-30T23:00:00.000Z",
        dateLastActivity="2024-06-29T10:00:00.000Z",
        desc="ship it",
    )
    effects = map_card(c, board_ctx(timezone="Europe/Paris"), profile(), source_id=7)
    task_upsert, milestone_upsert = effects
    assert isinstance(task_upsert, TaskUpsert) and task_upsert.task.is_milestone
    assert isinstance(milestone_upsert, MilestoneUpsert)
    m = milestone_upsert.milestone
    assert (m.external_id, m.name, m.project_external_id, m.source_id) == (
        "5f000000aaaaaaaaaaaaaaaa",
        "Beta release",
        BOARD,
        7,
    )
    assert m.due_date == date(2024, 7, 1)  # 01:00 in Paris
    assert m.released is False and m.completed_at is None


def test_milestone_is_complete_when_due_complete_or_in_a_done_list() -> None:
    label = [{"id": "l", "name": "Milestone"}]
    when = "2024-06-29T10:00:00.000Z"
    for extra in ({"dueComplete": True}, {"idList": DONE}):
        c = card(labels=label, dateLastActivity=when, **extra)
        m = map_card(c, board_ctx(), profile())[1].milestone  # type: ignore[union-attr]
        assert m.released is True
        assert m.completed_at == datetime(2024, 6, 29, 10, tzinfo=UTC)


def test_profile_milestone_label_is_configurable() -> None:
    c = card(labels=[{"id": "l", "name": "Release"}])
    assert len(map_card(c, board_ctx(), profile())) == 1
    assert len(map_card(c, board_ctx(), profile(milestone_label="release"))) == 2


def test_board_context_indexes_milestone_cards_by_name() -> None:
    board = {
        "id": BOARD,
        "labels": [{"id": "lm", "name": "Milestone"}],
        "cards": [
            {"id": "m1", "name": "Beta Release", "idLabels": ["lm"]},
            {"id": "c1", "name": "Not one", "idLabels": []},
        ],
    }
    ctx = BoardContext.from_board_json(board)
    assert ctx.milestones == {"beta release": "m1"}


def test_card_is_linked_to_a_milestone_by_a_label_named_like_it() -> None:
    ctx = board_ctx(milestones={"beta release": "m1"})
    task = task_of(
        card(labels=[{"id": "x", "name": "Beta release"}, {"id": "y", "name": "UI"}]), ctx
    )
    assert task.milestones == [MilestoneRef(external_id="m1", name="Beta release")]


def test_card_is_linked_to_a_milestone_by_a_milestone_custom_field() -> None:
    defs = {
        "ft": {"id": "ft", "name": "Milestone", "type": "text"},
        "fl": {
            "id": "fl",
            "name": "milestone",
            "type": "list",
            "options": [{"id": "o", "value": {"text": "GA"}}],
        },
    }
    ctx = board_ctx(milestones={"beta release": "m1", "ga": "m2"}, custom_fields=defs)
    text = task_of(card(customFieldItems=[item("ft", value={"text": "beta RELEASE"})]), ctx)
    listed = task_of(card(customFieldItems=[item("fl", idValue="o")]), ctx)
    assert [m.external_id for m in text.milestones] == ["m1"]
    assert [m.external_id for m in listed.milestones] == ["m2"]
