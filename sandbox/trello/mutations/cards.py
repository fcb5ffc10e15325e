"""Cards: create, move, archive, edit, delete (each records its ``updateCard``/… action)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.trello.errors import ApiError
from sandbox.trello.mutations._base import (
    act,
    get_card,
    norm_date,
    set_card_ref,
    touch,
    ts_or_now,
)
from sandbox.trello.records import (
    Action,
    Board,
    Card,
)
from sandbox.trello.state import TrelloState


def create_card(
    state: TrelloState,
    list_id: str,
    name: str,
    *,
    desc: str = "",
    due: str | None = None,
    start: str | None = None,
    due_complete: bool = False,
    id_members: Iterable[str] = (),
    id_labels: Iterable[str] = (),
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    with state.lock:
        tlist = state.lists.get(list_id)
        if tlist is None:
            raise ApiError(400, "invalid value for idList")
        board = state.boards[tlist.id_board]
        t = ts_or_now(state, ts)
        card = Card(
            id=state.ids.new(t),
            id_board=board.id,
            id_list=tlist.id,
            name=name,
            id_short=board.next_id_short,
            short_link=state.ids.short_link(),
            pos=16384.0 * (len(board.cards) + 1),
            last_activity=t,
            desc=desc,
            due=norm_date(due),
            start=norm_date(start),
            due_complete=due_complete,
            id_members=list(id_members),
            id_labels=list(id_labels),
        )
        board.next_id_short += 1
        set_card_ref(card)
        board.cards[card.id] = card
        state.cards[card.id] = card
        act(state, board, "createCard", t, by, card=card.ref, list=tlist.ref, id_card=card.id)
        return card


def _update(
    state: TrelloState,
    card: Card,
    board: Board,
    field: str,
    old: Any,
    new: Any,
    t: float,
    by: str | None,
    **moved: Any,
) -> Action:
    touch(card, t)
    return act(
        state,
        board,
        "updateCard",
        t,
        by,
        card=card.ref,
        field=field,
        old_value=old,
        new_value=new,
        list=None if moved else state.lists[card.id_list].ref,
        id_card=card.id,
        **moved,
    )


def move_card(
    state: TrelloState,
    card_id: str,
    list_id: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    with state.lock:
        card, board = get_card(state, card_id)
        target = board.lists.get(list_id)
        if target is None:
            raise ApiError(400, "invalid value for idList")
        if target.id == card.id_list:
            return card
        before = state.lists[card.id_list]
        card.id_list = target.id
        _update(
            state,
            card,
            board,
            "idList",
            before.id,
            target.id,
            ts_or_now(state, ts),
            by,
            list_before=before.ref,
            list_after=target.ref,
        )
        return card


def set_card_closed(
    state: TrelloState,
    card_id: str,
    closed: bool,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    """Archive (``closed=True``) or send back to the board (``closed=False``)."""
    with state.lock:
        card, board = get_card(state, card_id)
        if card.closed != closed:
            card.closed = closed
            _update(state, card, board, "closed", not closed, closed, ts_or_now(state, ts), by)
        return card


def update_card(
    state: TrelloState,
    card_id: str,
    changes: dict[str, Any],
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    """Change ``name``, ``desc``, ``due``, ``start`` and/or ``dueComplete``; one action each."""
    attrs = {
        "name": "name",
        "desc": "desc",
        "due": "due",
        "start": "start",
        "dueComplete": "due_complete",
    }
    unknown = sorted(set(changes) - set(attrs))
    if unknown:
        raise ApiError(400, f"invalid fields: {', '.join(unknown)}; editable: {', '.join(attrs)}")
    with state.lock:
        card, board = get_card(state, card_id)
        t = ts_or_now(state, ts)
        for key, value in changes.items():
            if key in ("due", "start"):
                value = norm_date(value)
            elif key == "dueComplete":
                value = bool(value)
            old = getattr(card, attrs[key])
            if old == value:
                continue
            setattr(card, attrs[key], value)
            if key == "name":
                set_card_ref(card)
            _update(state, card, board, key, old, value, t, by)
        return card


def delete_card(
    state: TrelloState, card_id: str, *, ts: float | None = None, by: str | None = None
) -> None:
    """Hard delete: the card answers 404 afterwards; the action keeps ``card.id``/``idShort``."""
    with state.lock:
        card, board = get_card(state, card_id)
        del board.cards[card.id]
        del state.cards[card.id]
        for checklist in card.checklists:
            state.checklists.pop(checklist.id, None)
            for item in checklist.items:
                state.check_items.pop(item.id, None)
        act(
            state,
            board,
            "deleteCard",
            ts_or_now(state, ts),
            by,
            card={"id": card.id, "idShort": card.id_short},
            list=state.lists[card.id_list].ref,
            id_card=card.id,
        )


def move_card_to_board(
    state: TrelloState,
    card_id: str,
    board_id: str,
    list_id: str | None = None,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Card:
    """Move a card to another board (its first open list unless ``list_id`` is given).

    Trello records ``moveCardFromBoard`` on the old board (``data.boardTarget``) and
    ``moveCardToBoard`` on the new one (``data.boardSource``). Labels and custom field
    values belong to the old board and are dropped; members who are not on the new
    board leave the card.
    """
    with state.lock:
        card, source = get_card(state, card_id)
        target = state.boards.get(board_id)
        if target is None:
            raise ApiError(400, "invalid value for idBoard")
        if target.id == source.id:
            raise ApiError(400, "the card is already on that board")
        if list_id is None:
            open_lists = sorted(
                (lst for lst in target.lists.values() if not lst.closed), key=lambda x: x.pos
            )
            if not open_lists:
                raise ApiError(400, "the target board has no open list")
            tlist = open_lists[0]
        else:
            found = target.lists.get(list_id)
            if found is None:
                raise ApiError(400, "invalid value for idList")
            tlist = found
        t = ts_or_now(state, ts)
        old_list = state.lists[card.id_list]
        del source.cards[card.id]
        card.id_board, card.id_list = target.id, tlist.id
        card.id_labels = []
        card.custom = {}
        card.id_members = [m for m in card.id_members if m in target.member_ids]
        card.id_short = target.next_id_short
        target.next_id_short += 1
        set_card_ref(card)
        target.cards[card.id] = card
        touch(card, t)
        act(
            state,
            source,
            "moveCardFromBoard",
            t,
            by,
            card=card.ref,
            list=old_list.ref,
            id_card=card.id,
            raw_extra={"boardTarget": {"id": target.id}},
        )
        act(
            state,
            target,
            "moveCardToBoard",
            t,
            by,
            card=card.ref,
            list=tlist.ref,
            id_card=card.id,
            raw_extra={"boardSource": {"id": source.id}},
        )
        return card
