"""Boards, board members, labels, custom field definitions and lists."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.trello.errors import ApiError
from sandbox.trello.mutations._base import (
    DEFAULT_LABEL_COLORS,
    act,
    get_board,
    ts_or_now,
)
from sandbox.trello.records import (
    Board,
    CustomField,
    CustomFieldOption,
    Label,
    TList,
)
from sandbox.trello.state import TrelloState


def create_board(
    state: TrelloState,
    name: str,
    *,
    desc: str = "",
    member_ids: Iterable[str] = (),
    ts: float | None = None,
    by: str | None = None,
    default_labels: bool = True,
) -> Board:
    with state.lock:
        t = ts_or_now(state, ts)
        board = Board(
            id=state.ids.new(t),
            name=name,
            short_link=state.ids.short_link(),
            last_activity=t,
            id_organization=state.id_organization,
            desc=desc,
        )
        board.ref = {"id": board.id, "name": name, "shortLink": board.short_link}
        creator = by or state.me_id
        board.member_ids.append(creator)
        board.admin_ids.add(creator)
        board.membership_ids[creator] = state.ids.new(t)
        state.boards[board.id] = board
        act(state, board, "createBoard", t, creator)
        for mid in member_ids:
            if mid != creator:
                add_board_member(state, board.id, mid, ts=t, by=creator)
        if default_labels:
            for color in DEFAULT_LABEL_COLORS:
                create_label(state, board.id, "", color, ts=t, by=creator)
        return board


def add_board_member(
    state: TrelloState,
    board_id: str,
    member_id: str,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> None:
    with state.lock:
        board = get_board(state, board_id)
        member = state.members.get(member_id)
        if member is None:
            raise ApiError(400, "invalid value for idMember")
        if member_id in board.member_ids:
            return
        t = ts_or_now(state, ts)
        board.member_ids.append(member_id)
        board.membership_ids[member_id] = state.ids.new(t)
        act(
            state,
            board,
            "addMemberToBoard",
            t,
            by,
            member_id=member_id,
            raw_extra={
                "idMember": member_id,
                "member": {"id": member_id, "name": member.full_name},
            },
        )


def create_label(
    state: TrelloState,
    board_id: str,
    name: str,
    color: str | None,
    *,
    ts: float | None = None,
    by: str | None = None,
) -> Label:
    with state.lock:
        board = get_board(state, board_id)
        t = ts_or_now(state, ts)
        label = Label(state.ids.new(t), board.id, name, color)
        board.labels[label.id] = label
        state.labels[label.id] = label
        act(
            state,
            board,
            "createLabel",
            t,
            by,
            raw_extra={"label": {"id": label.id, "name": name, "color": color}},
        )
        return label


def create_custom_field(
    state: TrelloState,
    board_id: str,
    name: str,
    type_: str,
    *,
    options: Iterable[str] = (),
    ts: float | None = None,
    by: str | None = None,
) -> CustomField:
    if type_ not in ("text", "number", "date", "checkbox", "list"):
        raise ApiError(400, "invalid value for type")
    with state.lock:
        board = get_board(state, board_id)
        t = ts_or_now(state, ts)
        cf = CustomField(
            id=state.ids.new(t),
            id_board=board.id,
            name=name,
            type=type_,
            pos=16384 * (len(board.custom_fields) + 1),
            field_group=state.ids.secret_hash(),
        )
        colors = ("green", "yellow", "orange", "red", "purple", "blue")
        for i, text in enumerate(options):
            cf.options.append(
                CustomFieldOption(state.ids.new(t), text, colors[i % len(colors)], 16384 * (i + 1))
            )
        board.custom_fields[cf.id] = cf
        state.custom_fields[cf.id] = cf
        act(
            state,
            board,
            "createCustomField",
            t,
            by,
            raw_extra={"customField": {"id": cf.id, "name": name}},
        )
        return cf


def create_list(
    state: TrelloState, board_id: str, name: str, *, ts: float | None = None, by: str | None = None
) -> TList:
    with state.lock:
        board = get_board(state, board_id)
        t = ts_or_now(state, ts)
        tlist = TList(state.ids.new(t), board.id, name, 16384 * (len(board.lists) + 1))
        tlist.ref = {"id": tlist.id, "name": name}
        board.lists[tlist.id] = tlist
        state.lists[tlist.id] = tlist
        act(state, board, "createList", t, by, list=tlist.ref)
        return tlist


def rename_list(
    state: TrelloState, list_id: str, name: str, *, ts: float | None = None, by: str | None = None
) -> TList:
    with state.lock:
        tlist = state.lists.get(list_id)
        if tlist is None:
            raise ApiError.not_found()
        old = tlist.name
        tlist.name = name
        tlist.ref = {"id": tlist.id, "name": name}
        board = state.boards[tlist.id_board]
        act(
            state,
            board,
            "updateList",
            ts_or_now(state, ts),
            by,
            raw_old={"name": old},
            raw_extra={"list": {"name": name, "id": tlist.id}},
        )
        return tlist
