"""Trello time as worklogs (METRICS.md "Worklogs from Trello"): golden on the captured
``updateCustomFieldItem``, a value going up, down and to empty, and the carried_in rule."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mappings.model import Ignored, PersonRef, TaskPatch, Worklog, WorklogUpsert
from mappings.trello import (
    CARRIED_IN_SUFFIX,
    BoardContext,
    card_hours_seconds,
    carried_in_worklog,
    carried_in_worklogs,
    context_from_action,
    created_at_from_id,
    default_horizon,
    explained_seconds,
    hours_field_id,
    is_hours_change,
    map_action,
    worklog_effects,
    worklog_from_action,
    worklogs_from_history,
)
from tests.mappings.trello_data import profile, rest_body

# The captured board history (ruby-trello, recorded 2020-05-17): its first action sets
# the number field "Point" of card 5ec0e620… from empty to "1".
CAPTURED = rest_body("can_get_actions_of_board.1.GET")[0]
FIELD_ID = "5ec160f6dafd0828fda1f6dd"
CARD_ID = "5ec0e62003fe0f0f103a361b"
HOPPER = PersonRef(
    tool="trello", external_id="5e679b808e6e8828784b30e1", display_name="Hopper Test", username="hoppertest"
)
POINT_AS_HOURS = profile(custom_fields={"spent_hours": ["Point"]})
CTX = BoardContext(
    board_id="5e93ba98614ac22d22f085c4",
    board_name="IT 2",
    custom_fields={FIELD_ID: {"id": FIELD_ID, "name": "Point", "type": "number"}},
)


def change(old: str | None, new: str | None, *, action_id: str = "5ec160f8d771e52d756941f4") -> dict[str, Any]:
    """The captured action with another old and new value (same shape, same member)."""
    action = copy.deepcopy(CAPTURED)
    action["id"] = action_id
    action["data"]["old"]["value"] = None if old is None else {"number": old}
    action["data"]["customFieldItem"]["value"] = None if new is None else {"number": new}
    return action


# --- golden ---------------------------------------------------------------------------


def test_captured_hours_change_is_a_worklog_by_its_member_at_its_time() -> None:
    assert CAPTURED["type"] == "updateCustomFieldItem" and CAPTURED["data"]["old"] == {"value": None}
    assert worklog_from_action(CAPTURED, CTX, POINT_AS_HOURS, source_id=3) == Worklog(
        source_id=3,
        external_id="5ec160f8d771e52d756941f4",
        task_external_id=CARD_ID,
        author=HOPPER,
        started_at=datetime(2020, 5, 17, 16, 6, 16, 118000, tzinfo=UTC),
        seconds=3600,
        carried_in=False,
        created_at=datetime(2020, 5, 17, 16, 6, 16, 118000, tzinfo=UTC),
        updated_at=datetime(2020, 5, 17, 16, 6, 16, 118000, tzinfo=UTC),
    )


def test_captured_hours_change_maps_without_the_boards_field_definitions() -> None:
    # a webhook or a normalize run may know nothing but the action: match the field by name
    ctx = context_from_action(CAPTURED, POINT_AS_HOURS)
    (effect,) = worklog_effects(CAPTURED, ctx, POINT_AS_HOURS)
    assert isinstance(effect, WorklogUpsert) and effect.complete
    assert (effect.worklog.seconds, effect.worklog.author) == (3600, HOPPER)


def test_a_field_the_profile_does_not_map_to_hours_gives_no_worklog() -> None:
    default = profile()  # "Point" is neither "Hours spent" nor "Spent"
    assert worklog_effects(CAPTURED, CTX, default) == []
    assert worklog_effects(CAPTURED, context_from_action(CAPTURED, default), default) == []
    # and the card patch the action always gave is still there
    (patch,) = map_action(CAPTURED, CTX, POINT_AS_HOURS)
    assert isinstance(patch, TaskPatch) and patch.fields["spent_seconds"] == 3600


def test_every_other_captured_action_gives_no_worklog() -> None:
    for action in rest_body("can_get_actions_of_board.1.GET")[1:]:
        assert worklog_effects(action, CTX, POINT_AS_HOURS) == [], action["type"]


# --- up, down, to empty -----------------------------------------------------------------


@pytest.mark.parametrize(
    "old,new,seconds",
    [
        (None, "1", 3600),  # first entry
        ("1", "3.5", 9000),  # up
        ("3.5", "2", -5400),  # down: a negative correction
        ("2", None, -7200),  # to empty: the value removed
        (None, "0.1", 360),
        ("1.1", "2.2", 3960),  # exact decimal arithmetic, as the card mapping does
        ("abc", "2", 7200),  # a malformed value counts as empty, like spent_seconds
        ("2", "-1", -7200),  # so does a negative one
    ],
)
def test_each_change_is_new_minus_old(old: str | None, new: str | None, seconds: int) -> None:
    worklog = worklog_from_action(change(old, new), CTX, POINT_AS_HOURS)
    assert worklog is not None and worklog.seconds == seconds and worklog.author == HOPPER


def test_a_change_that_leaves_the_hours_as_they_were_is_no_worklog() -> None:
    assert worklog_from_action(change("2", "2.0"), CTX, POINT_AS_HOURS) is None
    assert worklog_effects(change(None, None), CTX, POINT_AS_HOURS) == []


def test_a_list_type_hours_field_reads_its_options() -> None:
    ctx = BoardContext(
        board_id="b",
        custom_fields={
            FIELD_ID: {
                "id": FIELD_ID,
                "name": "Point",
                "type": "list",
                "options": [{"id": "o1", "value": {"text": "1.5"}}, {"id": "o2", "value": {"text": "4"}}],
            }
        },
    )
    action = copy.deepcopy(CAPTURED)
    action["data"]["old"] = {"idValue": "o1"}
    item = action["data"]["customFieldItem"]
    del item["value"]
    item["idValue"] = "o2"
    worklog = worklog_from_action(action, ctx, POINT_AS_HOURS)
    assert worklog is not None and worklog.seconds == 9000


def test_the_hours_field_is_matched_by_id_when_the_board_is_known() -> None:
    # "Point" deleted and created again: old actions name the old field id
    ctx = BoardContext(board_id="b", custom_fields={"new-id": {"id": "new-id", "name": "Point"}})
    assert hours_field_id(ctx, POINT_AS_HOURS) == "new-id"
    assert not is_hours_change(CAPTURED, ctx, POINT_AS_HOURS)
    assert hours_field_id(BoardContext(board_id="b"), POINT_AS_HOURS) is None


def test_the_first_profile_name_on_the_board_is_the_hours_field() -> None:
    ctx = BoardContext(
        board_id="b",
        custom_fields={"a": {"id": "a", "name": "spent"}, "b": {"id": "b", "name": "Hours Spent"}},
    )
    assert hours_field_id(ctx, profile()) == "b"  # default names: "Hours spent", then "Spent"


@pytest.mark.parametrize(
    "broken,missing",
    [
        (lambda a: a.pop("date"), "date"),
        (lambda a: a.pop("id"), "id"),
        (lambda a: a["data"].pop("old"), "data.old"),
        (lambda a: (a["data"].pop("card"), a["data"]["customFieldItem"].pop("idModel")), "data.card.id"),
    ],
)
def test_a_broken_hours_change_is_ignored_saying_what_is_missing(broken: Any, missing: str) -> None:
    action = copy.deepcopy(CAPTURED)
    broken(action)
    (effect,) = worklog_effects(action, CTX, POINT_AS_HOURS)
    assert isinstance(effect, Ignored) and missing in effect.reason and "hours field" in effect.reason
    with pytest.raises(ValueError, match=missing.replace(".", r"\.")):
        worklog_from_action(action, CTX, POINT_AS_HOURS)


def test_a_history_read_in_overlapping_pages_gives_each_worklog_once_oldest_first() -> None:
    first = change(None, "2", action_id="5ec160f8d771e52d75694100")
    second = change("2", "5", action_id="5ec160f8d771e52d75694200")
    second["date"] = "2020-05-20T09:00:00.000Z"
    third = change("5", None, action_id="5ec160f8d771e52d75694300")
    third["date"] = "2020-06-02T09:00:00.000Z"
    not_hours = rest_body("can_get_actions_of_board.1.GET")[1]  # createCustomField
    pages = [[third, second], [second, first, not_hours]]
    found = worklogs_from_history([a for page in pages for a in page], CTX, POINT_AS_HOURS)
    assert [(w.worklog.external_id[-4:], w.worklog.seconds) for w in found] == [
        ("4100", 7200),
        ("4200", 10800),
        ("4300", -18000),
    ]
    assert explained_seconds(found) == {CARD_ID: 0}  # entered, raised, removed


# --- carried_in -----------------------------------------------------------------------

HORIZON = datetime(2020, 6, 1, tzinfo=UTC)


def test_hours_before_the_horizon_are_one_entry_at_the_horizon_with_no_author() -> None:
    entry = carried_in_worklog(CARD_ID, 10 * 3600, 4 * 3600, HORIZON, source_id=3)
    assert entry == Worklog(
        source_id=3,
        external_id=CARD_ID + CARRIED_IN_SUFFIX,
        task_external_id=CARD_ID,
        author=None,
        started_at=HORIZON,
        seconds=6 * 3600,
        carried_in=True,
        updated_at=HORIZON,
    )


def test_nothing_is_carried_in_when_the_history_explains_all_the_hours() -> None:
    assert carried_in_worklog(CARD_ID, 3 * 3600, 3 * 3600, HORIZON) is None
    assert carried_in_worklog(CARD_ID, 0, 0, HORIZON) is None


def test_a_history_that_explains_more_than_the_card_holds_carries_in_a_correction() -> None:
    entry = carried_in_worklog(CARD_ID, 3600, 5400, HORIZON)
    assert entry is not None and entry.seconds == -1800 and entry.carried_in


def test_a_card_younger_than_the_horizon_carries_in_at_its_creation() -> None:
    early = datetime(2019, 1, 1, tzinfo=UTC)  # the card id says 2020-05-17T07:22:08Z
    entry = carried_in_worklog(CARD_ID, 7200, 0, early, as_of=HORIZON)
    assert entry is not None
    assert entry.started_at == datetime(2020, 5, 17, 7, 22, 8, tzinfo=UTC) == created_at_from_id(CARD_ID)
    assert entry.updated_at == HORIZON


def test_the_default_horizon_is_the_boards_creation() -> None:
    assert default_horizon("5e93ba98614ac22d22f085c4") == datetime(2020, 4, 13, 1, 4, 24, tzinfo=UTC)


def test_a_naive_horizon_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        carried_in_worklog(CARD_ID, 3600, 0, datetime(2020, 6, 1))


def test_carried_in_per_card_from_cards_and_the_history_after_the_horizon() -> None:
    ctx = BoardContext(board_id="b", custom_fields={"f": {"id": "f", "name": "Hours spent", "type": "number"}})

    def card(card_id: str, hours: str | None) -> dict[str, Any]:
        items = [] if hours is None else [{"id": "i", "value": {"number": hours}, "idCustomField": "f"}]
        items.append({"id": "j", "value": {"number": "99"}, "idCustomField": "other"})
        return {"id": card_id, "customFieldItems": items}

    def logged(card_id: str, seconds: int, at: datetime, **extra: Any) -> WorklogUpsert:
        return WorklogUpsert(
            worklog=Worklog(
                external_id=f"{card_id}-{at:%m%d}", task_external_id=card_id, started_at=at, seconds=seconds, **extra
            )
        )

    after = HORIZON + timedelta(days=3)
    history = [
        logged("5ec0e6200000000000000001", 3600, after),
        logged("5ec0e6200000000000000002", 7200, after),
        logged("5ec0e6200000000000000002", 3600, HORIZON - timedelta(days=1)),  # before: not counted
        logged("5ec0e6200000000000000003", 1800, HORIZON, carried_in=True),  # an old entry: not counted
    ]
    cards = [
        card("5ec0e6200000000000000001", "2.5"),
        card("5ec0e6200000000000000002", "2"),
        card("5ec0e6200000000000000003", None),
        card("5ec0e6200000000000000004", "1"),
    ]
    carried = carried_in_worklogs(cards, history, ctx, profile(), HORIZON)
    assert {(c.worklog.task_external_id[-1], c.worklog.seconds) for c in carried} == {("1", 5400), ("4", 3600)}
    assert all(c.worklog.carried_in and c.worklog.author is None for c in carried)


def test_card_hours_come_from_the_boards_hours_field() -> None:
    # captured GET /cards/{id}/customFieldItems: a date field and a number field ("10")
    items = rest_body("get_custom_field_items_of_card.1.GET")
    number_field = next(i["idCustomField"] for i in items if "number" in i["value"])
    ctx = BoardContext(board_id="b", custom_fields={number_field: {"id": number_field, "name": "Hours spent"}})
    assert card_hours_seconds({"id": "c", "customFieldItems": items}, ctx, profile()) == 36000
    assert card_hours_seconds({"id": "c"}, ctx, profile()) == 0
    assert card_hours_seconds({"id": "c", "customFieldItems": items}, BoardContext(board_id="b"), profile()) == 0


def test_a_cards_hours_and_its_worklogs_follow_the_same_field_when_the_board_has_two() -> None:
    from mappings.trello import map_card

    board = "5f0000000000000000000001"
    ctx = BoardContext(board_id=board, custom_fields={
        "f1": {"id": "f1", "name": "Hours spent", "type": "number"},
        "f2": {"id": "f2", "name": "Spent", "type": "number"}})

    def spent(*items: tuple[str, str]) -> tuple[Any, int]:
        card = {"id": "5f0000000000000000000099", "idBoard": board, "name": "c",
                "customFieldItems": [{"id": f"i{f}", "idCustomField": f, "idModel": "x", "value": {"number": v}}
                                     for f, v in items]}
        task = map_card(card, ctx, profile())[0].task
        return task.spent_seconds, card_hours_seconds(card, ctx, profile())

    assert hours_field_id(ctx, profile()) == "f1"  # the first listed name the board has
    # only the second field holds hours: they are not the card's (its worklogs follow f1)
    assert spent(("f2", "4")) == (None, 0)
    assert spent(("f2", "4"), ("f1", "2")) == (7200, 7200)
    assert spent(("f1", "1.5")) == (5400, 5400)
    # an action on the other field patches no hours either
    change = copy.deepcopy(CAPTURED)
    change["data"]["customField"] = {"id": "f2", "name": "Spent", "type": "number"}
    change["data"]["customFieldItem"]["idCustomField"] = "f2"
    (patch,) = map_action(change, ctx, profile())
    assert isinstance(patch, TaskPatch) and "spent_seconds" not in patch.fields
    assert worklog_from_action(change, ctx, profile()) is None
    change["data"]["customField"] = {"id": "f1", "name": "Hours spent", "type": "number"}
    change["data"]["customFieldItem"]["idCustomField"] = "f1"
    (patch,) = map_action(change, ctx, profile())
    assert "spent_seconds" in patch.fields and worklog_from_action(change, ctx, profile()) is not None
