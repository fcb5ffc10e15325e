"""Shared helpers of the mutation modules: record an action, look objects up, normalize dates."""

from __future__ import annotations

from typing import Any

from sandbox.trello.errors import ApiError
from sandbox.trello.ids import iso, parse_iso
from sandbox.trello.records import (
    Action,
    Board,
    Card,
)
from sandbox.trello.state import TrelloState

DEFAULT_LABEL_COLORS = ("green", "yellow", "orange", "red", "purple", "blue")


def ts_or_now(state: TrelloState, ts: float | None) -> float:
    return state.now() if ts is None else ts


def act(
    state: TrelloState,
    board: Board,
    type_: str,
    ts: float,
    by: str | None,
    **parts: Any,
) -> Action:
    action = Action(
        id=state.ids.new(ts),
        type=type_,
        ts=ts,
        id_member_creator=by or state.me_id,
        board=board.ref,
        **parts,
    )
    board.last_activity = max(board.last_activity, ts)
    return state.record_action(board, action)


def get_board(state: TrelloState, board_id: str) -> Board:
    board = state.boards.get(board_id)
    if board is None:
        raise ApiError.not_found()
    return board


def get_card(state: TrelloState, card_id: str) -> tuple[Card, Board]:
    card = state.cards.get(card_id)
    if card is None:
        raise ApiError.not_found()
    return card, state.boards[card.id_board]


def touch(card: Card, ts: float) -> None:
    card.last_activity = max(card.last_activity, ts)


def norm_date(value: str | None) -> str | None:
    return None if value in (None, "") else iso(parse_iso(value))


def set_card_ref(card: Card) -> None:
    card.ref = {
        "id": card.id,
        "name": card.name,
        "idShort": card.id_short,
        "shortLink": card.short_link,
    }
