"""A board's whole action history, as the generator writes it and Trello serves it.

Real-shaped histories (``sandbox/trello/history.py``): creation, list moves with
back and forth, due dates added/moved/removed, archives, and the hours field going
up, down and to empty by several members over weeks; served newest first by
``GET /1/boards/{id}/actions`` and paged backwards with ``before`` at ``limit=1000``.
The mapping of such a history (Change records, worklogs, carried_in) is checked on
the pages as a client reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from mappings.model import Change, StatusCategory, TaskPatch, TaskUpsert
from mappings.profile import load_default_profile
from mappings.trello import (
    BoardContext,
    carried_in_worklogs,
    default_horizon,
    explained_seconds,
    map_action,
    map_card,
    worklogs_from_history,
)
from sandbox.trello import TrelloState, generate
from sandbox.trello.generator import LIST_NAMES
from sandbox.trello.history import hours_path
from sandbox.trello.ids import iso
from sandbox.trello.records import Action, Board
from sandbox.trello.serialize import card_json
from sandbox.trello.testing import running_trello

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
KEY, TOKEN = "sandbox-key", "sandbox-token"
PROFILE = load_default_profile()
HOURS = "Hours spent"


def seeded(seed: int = 7, boards: int = 2, cards: int = 120, history: bool = True) -> TrelloState:
    state = TrelloState(seed=seed, clock=lambda: NOW)
    generate(state, boards=boards, cards_per_board=cards, seed=seed, history=history)
    return state


@pytest.fixture(scope="module")
def world() -> TrelloState:
    return seeded()


def hours_actions(board: Board) -> list[Action]:
    return [a for a in board.actions if a.type == "updateCustomFieldItem"]


def number(value: dict[str, str] | None) -> float | None:
    return None if value is None else float(value["number"])


def old_new(action: Action) -> tuple[float | None, float | None]:
    """An hours change's (old, new) value, read from its JSON ``data``."""
    data = action.data()
    return number(data["old"]["value"]), number(data["customFieldItem"]["value"])


# --- the generated history -----------------------------------------------------------


def test_how_the_history_goes_never_changes_where_the_cards_end_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def final(state: TrelloState) -> list[tuple[Any, ...]]:
        def value(item: Any) -> Any:  # list options have other ids in each world: use text
            cf = state.custom_fields[item.id_custom_field]
            return item.value or next(o.text for o in cf.options if o.id == item.id_value)

        return [
            (
                card.name,
                state.lists[card.id_list].name,
                card.due,
                card.due_complete,
                card.closed,
                card.start,
                sorted((state.custom_fields[i.id_custom_field].name, str(value(i))) for i in card.custom.values()),
                len(card.id_members),
                len(card.checklists),
            )
            for card in state.cards.values()
        ]

    usual = final(seeded())
    from sandbox.trello import history

    for knob in ("_BOUNCE", "_DUE_CHANGED", "_DUE_DROPPED", "_REOPENED"):
        monkeypatch.setattr(history, knob, 1.0)  # a very different history...
    assert final(seeded()) == usual  # ...to the same board


def test_every_hours_change_chains_from_empty_to_the_cards_value(world: TrelloState) -> None:
    for board in world.boards.values():
        field = next(cf for cf in board.custom_fields.values() if cf.name == HOURS)
        by_card: dict[str, list[Action]] = {}
        for action in hours_actions(board):
            assert action.raw_extra is not None
            assert action.raw_extra["customField"] == {"id": field.id, "name": HOURS, "type": "number"}
            by_card.setdefault(str(action.id_card), []).append(action)
        for card_id, changes in by_card.items():
            values = [old_new(c) for c in changes]
            assert values[0][0] is None  # the whole life: the first change starts from empty
            for (_, new), (old, _) in zip(values, values[1:], strict=False):
                assert new == old
            item = world.cards[card_id].custom.get(field.id)
            assert values[-1][1] == (None if item is None else float(item.text or "nan"))


def test_hours_go_up_down_and_to_empty_by_several_members_over_weeks(world: TrelloState) -> None:
    ups = downs = removals = 0
    authors: set[str] = set()
    for board in world.boards.values():
        for action in hours_actions(board):
            old, new = old_new(action)
            ups += (new or 0) > (old or 0)
            downs += new is not None and old is not None and new < old
            removals += new is None
            authors.add(action.id_member_creator)
        span = [a.ts for a in hours_actions(board)]
        assert max(span) - min(span) > 21 * 86_400
    assert ups > 50 and downs >= 3 and removals >= 3 and len(authors) >= 3


def test_list_moves_chain_and_go_back_and_forth(world: TrelloState) -> None:
    backwards = 0
    for board in world.boards.values():
        order = {lst.id: i for i, lst in enumerate(board.lists.values())}
        for card in board.cards.values():
            mine = [a for a in board.actions if a.id_card == card.id]
            assert mine[0].type == "createCard"
            where = mine[0].list["id"]  # type: ignore[index]
            for move in (a for a in mine if a.field == "idList"):
                assert move.list_before is not None and move.list_after is not None
                assert move.list_before["id"] == where == move.old_value
                where = move.list_after["id"]
                backwards += order[where] < order[move.list_before["id"]]
            assert where == card.id_list
    assert backwards >= 5


def test_due_dates_are_added_moved_removed_and_completed(world: TrelloState) -> None:
    dues = [a for b in world.boards.values() for a in b.actions if a.field == "due"]
    assert any(a.old_value is None and a.new_value for a in dues)  # added later
    assert any(a.old_value and a.new_value and a.old_value < a.new_value for a in dues)  # slipped
    assert any(a.old_value and a.new_value is None for a in dues)  # removed
    for card in world.cards.values():
        mine = [a for a in world.boards[card.id_board].actions if a.id_card == card.id]
        due_changes = [a for a in mine if a.field == "due"]
        if due_changes:
            assert due_changes[-1].new_value == card.due
        completed = [a for a in mine if a.field == "dueComplete"]
        assert bool(completed) == card.due_complete
        if card.closed:
            assert mine[-1].field == "closed" and mine[-1].new_value is True
        assert all(a.ts <= NOW for a in mine)


def test_hours_path_ends_at_the_final_value_in_half_hours() -> None:
    import random

    rng = random.Random(3)
    for final in (0.5, 1.0, 4.5, 12.0, None):
        for _ in range(50):
            path = hours_path(rng, final)
            assert path[-1] == final and all(a != b for a, b in zip(path, path[1:], strict=False))
            assert all(v is None or (v > 0 and v * 2 == int(v * 2)) for v in path)


# --- served as Trello serves it --------------------------------------------------------


@pytest.fixture(scope="module")
def big_board() -> Iterator[tuple[str, TrelloState, str]]:
    """One board whose history spans several 1,000-action pages, served over HTTP."""
    state = seeded(seed=11, boards=1, cards=450)
    (board,) = state.boards
    with running_trello(state) as (url, _):
        yield url, state, board


def read_history(
    url: str, board: str, *, before: str | None = None, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Page backwards with ``before`` at ``limit=1000``; (actions newest first, requests)."""
    out: list[dict[str, Any]] = []
    requests_made = 0
    with requests.Session() as http:
        while True:
            query = {"key": KEY, "token": TOKEN, "limit": 1000, **params}
            if before:
                query["before"] = before
            response = http.get(f"{url}/1/boards/{board}/actions", params=query)
            requests_made += 1
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page) <= 1000
            out.extend(page)
            if len(page) < 1000:
                return out, requests_made
            before = page[-1]["id"]


def test_a_history_of_several_pages_reads_whole_with_before(
    big_board: tuple[str, TrelloState, str],
) -> None:
    url, state, board = big_board
    log = state.boards[board].actions
    assert len(log) > 2000
    actions, made = read_history(url, board)
    assert [a["id"] for a in actions] == [a.id for a in reversed(log)]  # newest first, once each
    assert made == len(log) // 1000 + 1
    dates = [a["date"] for a in actions]
    assert dates == sorted(dates, reverse=True)


def test_paging_by_date_and_by_filter_covers_the_same_actions(
    big_board: tuple[str, TrelloState, str],
) -> None:
    url, state, board = big_board
    log = state.boards[board].actions
    mid = log[len(log) // 2]
    older, _ = read_history(url, board, before=iso(mid.ts))
    assert [a["id"] for a in older] == [a.id for a in reversed(log) if round(a.ts, 3) < round(mid.ts, 3)]
    wanted = "updateCustomFieldItem,updateCard:idList,updateCard:due,updateCard:closed,createCard"
    filtered, _ = read_history(url, board, filter=wanted)
    kept = {"updateCustomFieldItem", "createCard"}
    expected = [
        a.id for a in reversed(log)
        if a.type in kept or (a.type == "updateCard" and a.field in ("idList", "due", "closed"))
    ]
    assert [a["id"] for a in filtered] == expected
    since, _ = read_history(url, board, since=mid.id)
    assert [a["id"] for a in since] == [a.id for a in reversed(log) if a.id > mid.id]


def test_hours_actions_have_the_captured_shape(big_board: tuple[str, TrelloState, str]) -> None:
    url, _state, board = big_board
    actions, _ = read_history(url, board, filter="updateCustomFieldItem")
    assert actions
    for action in actions:
        assert action.keys() >= {"id", "idMemberCreator", "data", "type", "date", "memberCreator"}
        data = action["data"]
        assert data.keys() == {"old", "customField", "customFieldItem", "board", "card"}
        assert data["old"].keys() == {"value"}
        item = data["customFieldItem"]
        assert item.keys() == {"id", "value", "idCustomField", "idModel", "modelType"}
        assert item["modelType"] == "card" and item["idModel"] == data["card"]["id"]
        for value in (item["value"], data["old"]["value"]):
            assert value is None or (value.keys() == {"number"} and isinstance(value["number"], str))


# --- the paged history, mapped ---------------------------------------------------------


def board_context(state: TrelloState, board_id: str) -> BoardContext:
    board = state.boards[board_id]
    return BoardContext.from_board_json(
        {
            "id": board.id,
            "name": board.name,
            "lists": [{"id": lst.id, "name": lst.name} for lst in board.lists.values()],
            "customFields": [
                {"id": cf.id, "name": cf.name, "type": cf.type} for cf in board.custom_fields.values()
            ],
        }
    )


def cards_json(state: TrelloState, board_id: str) -> list[dict[str, Any]]:
    return [
        card_json(state, card, custom_field_items=True)
        for card in state.boards[board_id].cards.values()
    ]


def test_the_paged_history_maps_to_each_cards_status_path(
    big_board: tuple[str, TrelloState, str],
) -> None:
    url, state, board = big_board
    ctx = board_context(state, board)
    actions, _ = read_history(url, board)
    changes: dict[str, list[Change]] = {}
    for action in reversed(actions):  # oldest first, as a backfill applies them
        for effect in map_action(action, ctx, PROFILE):
            if isinstance(effect, TaskPatch):
                for change in effect.changes:
                    changes.setdefault(change.task_external_id, []).append(change)
    reopened = 0
    for card in state.boards[board].cards.values():
        mine = changes.get(card.id, [])
        status = [c for c in mine if c.field == "status"]
        if status:
            assert status[-1].to_value == state.lists[card.id_list].name
            assert all(c.external_id and c.author is not None for c in status)
            reopened += any(
                c.from_category is StatusCategory.done and c.to_category is not StatusCategory.done
                for c in status
            )
        archived = [c.to_value for c in mine if c.field == "archived"]
        assert (archived[-1:] or ["false"]) == ["true" if card.closed else "false"]
        due = [c for c in mine if c.field == "due_date"]
        if due:
            assert due[-1].to_value == (card.due[:10] if card.due else None)
        assert [c.field for c in mine if c.field == "due_complete"] == (
            ["due_complete"] if card.due_complete else []
        )
    assert reopened >= 1
    done = [c for c in state.boards[board].cards.values() if state.lists[c.id_list].name == LIST_NAMES[-1]]
    assert all(
        any(ch.to_category is StatusCategory.in_progress for ch in changes.get(c.id, [])) for c in done
    )  # every done card passed through an in-progress list: cycle time is known


def test_the_paged_history_explains_every_cards_hours(
    big_board: tuple[str, TrelloState, str],
) -> None:
    url, state, board = big_board
    ctx = board_context(state, board)
    actions, _ = read_history(url, board, filter="updateCustomFieldItem")
    worklogs = worklogs_from_history(actions, ctx, PROFILE)
    assert any(w.worklog.seconds < 0 for w in worklogs)
    assert len({w.worklog.author.external_id for w in worklogs if w.worklog.author}) >= 3
    explained = explained_seconds(worklogs)
    cards = cards_json(state, board)
    for card in cards:
        (upsert,) = [e for e in map_card(card, ctx, PROFILE) if isinstance(e, TaskUpsert)]
        assert explained.get(card["id"], 0) == (upsert.task.spent_seconds or 0)
    # the whole life is read: nothing is carried in
    assert carried_in_worklogs(cards, worklogs, ctx, PROFILE, default_horizon(board)) == []


def test_a_later_horizon_carries_the_earlier_hours_in(
    big_board: tuple[str, TrelloState, str],
) -> None:
    url, state, board = big_board
    ctx = board_context(state, board)
    log = state.boards[board].actions
    horizon_action = log[2 * len(log) // 3]
    horizon = datetime.fromtimestamp(horizon_action.ts, tz=UTC)
    # a source whose horizon is late reads only the actions after it
    recent, _ = read_history(url, board, since=horizon_action.id)
    worklogs = worklogs_from_history(recent, ctx, PROFILE)
    cards = cards_json(state, board)
    carried = carried_in_worklogs(cards, worklogs, ctx, PROFILE, horizon)
    assert carried and all(
        c.worklog.carried_in and c.worklog.author is None and c.worklog.started_at >= horizon
        for c in carried
    )
    total = explained_seconds(worklogs)
    for entry in carried:
        total[entry.worklog.task_external_id] = (
            total.get(entry.worklog.task_external_id, 0) + entry.worklog.seconds
        )
    for card in cards:
        (upsert,) = [e for e in map_card(card, ctx, PROFILE) if isinstance(e, TaskUpsert)]
        assert total.get(card["id"], 0) == (upsert.task.spent_seconds or 0)


def test_id_models_keeps_the_actions_about_those_cards(
    big_board: tuple[str, TrelloState, str],
) -> None:
    url, state, board = big_board
    log = state.boards[board].actions
    cards = [c.id for c in list(state.boards[board].cards.values())[:3]]
    about, made = read_history(url, board, idModels=",".join(cards))
    assert made == 1 and [a["id"] for a in about] == [a.id for a in reversed(log) if a.id_card in cards]
    assert {a["data"]["card"]["id"] for a in about} == set(cards)
