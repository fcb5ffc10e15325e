"""The seeded Trello generator: deterministic, realistic, up to 50 boards x 1,000 cards."""

from __future__ import annotations

from sandbox.trello import TrelloState, generate
from sandbox.trello.generator import CUSTOM_FIELDS, LIST_NAMES
from sandbox.trello.ids import iso, parse_iso
from sandbox.trello.serialize import card_json

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def seeded(seed: int, boards: int = 3, cards: int = 80) -> TrelloState:
    state = TrelloState(seed=seed, clock=lambda: NOW)
    generate(state, boards=boards, cards_per_board=cards, seed=seed)
    return state


def snapshot(state: TrelloState) -> list[dict[str, object]]:
    return [
        card_json(state, c, custom_field_items=True, checklists=True) for c in state.cards.values()
    ]


def test_same_seed_and_clock_give_identical_worlds() -> None:
    assert snapshot(seeded(9)) == snapshot(seeded(9))
    assert snapshot(seeded(9)) != snapshot(seeded(10))


def test_boards_have_the_workflow_lists_labels_members_and_custom_fields() -> None:
    state = seeded(1)
    for board in state.boards.values():
        assert [lst.name for lst in board.lists.values()] == list(LIST_NAMES)
        assert "Milestone" in {lb.name for lb in board.labels.values()}
        assert [(cf.name, cf.type) for cf in board.custom_fields.values()] == list(CUSTOM_FIELDS)
        assert state.me_id in board.member_ids and len(board.member_ids) >= 4
        assert all(card.id_list in board.lists for card in board.cards.values())


def test_custom_field_values_are_strings_or_list_options_like_trello() -> None:
    state = seeded(2)
    seen: set[str] = set()
    for card in state.cards.values():
        for item in card.custom.values():
            cf = state.custom_fields[item.id_custom_field]
            seen.add(cf.name)
            if cf.type == "list":
                assert item.value is None and item.id_value in {o.id for o in cf.options}
            else:
                kind, text = next(iter(item.value.items()))  # type: ignore[union-attr]
                assert kind == "number" and isinstance(text, str) and float(text) >= 0
    assert seen == {name for name, _ in CUSTOM_FIELDS}


def test_dates_milestones_checklists_and_archives_are_all_represented() -> None:
    state = seeded(3)
    cards = list(state.cards.values())
    milestone_labels = {lb.id for lb in state.labels.values() if lb.name == "Milestone"}
    milestones = [c for c in cards if milestone_labels & set(c.id_labels)]
    assert len(milestones) >= 3 and all(c.due for c in milestones)
    past_open = [c for c in cards if c.due and parse_iso(c.due) < NOW and not c.due_complete]
    future = [c for c in cards if c.due and parse_iso(c.due) > NOW]
    assert past_open and future and any(c.due_complete for c in cards)
    assert any(c.checklists for c in cards) and any(c.closed for c in cards)
    assert any(c.id_members for c in cards) and any(c.start for c in cards)
    assert all(
        c.due == iso(parse_iso(c.due)) for c in cards if c.due
    )  # Trello's 2020-01-01T00:00:00.000Z form


def test_history_records_creation_moves_and_archives_in_time_order() -> None:
    state = seeded(4)
    for board in state.boards.values():
        types = [a.type for a in board.actions]
        assert types.count("createCard") == len(board.cards)
        assert "updateCard" in types
        assert [a.id for a in board.actions] == sorted(a.id for a in board.actions)
        assert all(a.ts <= NOW for a in board.actions)
        for card in board.cards.values():
            moves = [a for a in board.actions if a.id_card == card.id and a.field == "idList"]
            if moves:
                assert moves[-1].new_value == card.id_list


def test_fifty_boards_of_a_thousand_cards_generate() -> None:
    """Both limits, each at its maximum: 50 boards (their names run past the project names) and a
    board of 1,000 cards. Not 50 x 1,000 in one (50,000 cards, ~30 s of the suite): that is
    ``bench/sandbox_scale.py``'s run, and how fast is its figure, not an assertion."""
    state = seeded(5, boards=50, cards=20)
    assert len(state.boards) == 50 and len(state.cards) == 1000
    assert len({b.name for b in state.boards.values()}) == 50
    state = seeded(5, boards=1, cards=1000)
    board = next(iter(state.boards.values()))
    cards = [card_json(state, c, custom_field_items=True) for c in board.cards.values()]
    assert len(cards) == 1000 and all(c["idBoard"] == board.id for c in cards)
