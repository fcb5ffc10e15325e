"""GET handlers of the ``/1`` API: members, boards (with nested resources), lists, cards, actions.

Reference: https://developer.atlassian.com/cloud/trello/rest/ (boards, cards, lists,
members, actions groups). Lists of things are bare JSON arrays, as in Trello.
"""

from __future__ import annotations

import bisect
from typing import Any

from sandbox.trello.errors import ApiError
from sandbox.trello.ids import ID_RE, parse_iso
from sandbox.trello.records import Action, Board, Card
from sandbox.trello.routes import ROUTES, Ctx, check_id, flag, int_param
from sandbox.trello.serialize import (
    BOARD_DEFAULT_FIELDS,
    action_json,
    board_json,
    card_json,
    checklist_json,
    custom_field_item_json,
    custom_field_json,
    label_json,
    list_json,
    member_json,
    member_short_json,
    select_fields,
)

__all__ = ["find_board", "find_card", "query_actions", "cards_filtered"]


# -- lookups -------------------------------------------------------------------------


def find_board(ctx: Ctx, ref: str) -> Board:
    """A board by id or short link; 400 for malformed ids, 404 when unknown or not visible."""
    state = ctx.state
    board = state.boards.get(ref)
    if board is None and not ID_RE.match(ref):
        board = next((b for b in state.boards.values() if b.short_link == ref), None)
        if board is None:
            raise ApiError(400, "invalid id")
    if board is None or ctx.member_id not in board.member_ids:
        raise ApiError.not_found()
    return board


def find_card(ctx: Ctx, ref: str) -> Card:
    state = ctx.state
    card = state.cards.get(ref)
    if card is None and not ID_RE.match(ref):
        card = next((c for c in state.cards.values() if c.short_link == ref), None)
        if card is None:
            raise ApiError(400, "invalid id")
    if card is None or ctx.member_id not in state.boards[card.id_board].member_ids:
        raise ApiError.not_found()
    return card


# -- cards ---------------------------------------------------------------------------

_CARD_FILTERS = ("all", "closed", "open", "visible", "complete", "incomplete", "none")


def cards_filtered(ctx: Ctx, board: Board, card_filter: str) -> list[Card]:
    if card_filter not in _CARD_FILTERS:
        raise ApiError(400, "invalid value for filter")
    lists = ctx.state.lists
    keep = {
        "all": lambda c: True,
        "closed": lambda c: c.closed,
        "open": lambda c: not c.closed,
        "visible": lambda c: not c.closed and not lists[c.id_list].closed,
        "complete": lambda c: c.due_complete,
        "incomplete": lambda c: not c.due_complete,
        "none": lambda c: False,
    }[card_filter]
    return [c for c in board.cards.values() if keep(c)]


def _cards_json(ctx: Ctx, cards: list[Card], prefix: str = "") -> list[dict[str, Any]]:
    p = ctx.params
    fields = p.get(f"{prefix}fields") if prefix else p.get("fields")
    cf_items = flag(p, f"{prefix}customFieldItems") or flag(p, "customFieldItems")
    checklists = (
        p.get(f"{prefix}checklists", "none") == "all"
        if prefix
        else p.get("checklists", "none") == "all"
    )
    return [
        card_json(ctx.state, c, fields=fields, custom_field_items=cf_items, checklists=checklists)
        for c in cards
    ]


@ROUTES.get("/boards/{board_id}/cards")
def board_cards(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    return board_cards_filtered(ctx, board_id, ctx.params.get("filter", "open"))


@ROUTES.get("/boards/{board_id}/cards/{card_filter}")
def board_cards_filtered(ctx: Ctx, board_id: str, card_filter: str) -> list[dict[str, Any]]:
    board = find_board(ctx, board_id)
    return _cards_json(ctx, cards_filtered(ctx, board, card_filter))


@ROUTES.get("/cards/{card_id}")
def get_card(ctx: Ctx, card_id: str) -> dict[str, Any]:
    card = find_card(ctx, card_id)
    p = ctx.params
    out = card_json(
        ctx.state,
        card,
        fields=p.get("fields"),
        custom_field_items=flag(p, "customFieldItems"),
        checklists=p.get("checklists", "none") == "all",
    )
    if flag(p, "board"):
        out["board"] = select_fields(
            board_json(ctx.state, ctx.state.boards[card.id_board]),
            p.get("board_fields"),
            BOARD_DEFAULT_FIELDS,
        )
    if flag(p, "list"):
        out["list"] = list_json(ctx.state.lists[card.id_list])
    if flag(p, "members"):
        out["members"] = [member_short_json(ctx.state.members[m]) for m in card.id_members]
    return out


@ROUTES.get("/cards/{card_id}/customFieldItems")
def card_custom_field_items(ctx: Ctx, card_id: str) -> list[dict[str, Any]]:
    card = find_card(ctx, card_id)
    return [custom_field_item_json(card, item) for item in card.custom.values()]


@ROUTES.get("/cards/{card_id}/checklists")
def card_checklists(ctx: Ctx, card_id: str) -> list[dict[str, Any]]:
    return [checklist_json(cl) for cl in find_card(ctx, card_id).checklists]


@ROUTES.get("/cards/{card_id}/actions")
def card_actions(ctx: Ctx, card_id: str) -> list[dict[str, Any]]:
    card = find_card(ctx, card_id)
    board = ctx.state.boards[card.id_board]
    mine = [a for a in board.actions if a.id_card == card.id]
    # Trello's default filter for card actions is comments and list moves only; page ≤ 19.
    return query_actions(ctx, mine, default_filter="commentCard,updateCard:idList", max_page=19)


# -- boards --------------------------------------------------------------------------


@ROUTES.get("/boards/{board_id}")
def get_board(ctx: Ctx, board_id: str) -> dict[str, Any]:
    board = find_board(ctx, board_id)
    state, p = ctx.state, ctx.params
    out = select_fields(board_json(state, board), p.get("fields"), BOARD_DEFAULT_FIELDS)
    cards_filter = p.get("cards", "none")
    if cards_filter != "none":
        out["cards"] = _cards_json(ctx, cards_filtered(ctx, board, cards_filter), prefix="card_")
    lists_filter = p.get("lists", "none")
    if lists_filter != "none":
        out["lists"] = [
            select_fields(list_json(tl), p.get("list_fields")) for tl in _lists(board, lists_filter)
        ]
    if flag(p, "customFields"):
        out["customFields"] = [custom_field_json(cf) for cf in board.custom_fields.values()]
    if p.get("labels", "none") != "none":
        out["labels"] = [
            select_fields(label_json(lb), p.get("label_fields")) for lb in board.labels.values()
        ]
    members_filter = p.get("members", "none")
    if members_filter != "none":
        out["members"] = [
            select_fields(member_short_json(state.members[m]), p.get("member_fields"))
            for m in board.member_ids
            if members_filter == "all" or (members_filter == "admins") == (m in board.admin_ids)
        ]
    if p.get("checklists", "none") == "all":
        out["checklists"] = [
            checklist_json(cl) for c in board.cards.values() for cl in c.checklists
        ]
    actions_filter = p.get("actions")
    if actions_filter and actions_filter != "none":
        nested = Ctx(
            state,
            "GET",
            ctx.token,
            ctx.member_id,
            {
                "filter": actions_filter,
                "limit": p.get("actions_limit", "50"),
                **{
                    k[len("actions_") :]: v
                    for k, v in p.items()
                    if k in ("actions_since", "actions_before")
                },
            },
        )
        out["actions"] = query_actions(nested, board.actions)
    return out


def _lists(board: Board, list_filter: str) -> list[Any]:
    if list_filter not in ("all", "open", "closed"):
        raise ApiError(400, "invalid value for filter")
    return [
        tl
        for tl in board.lists.values()
        if list_filter == "all" or tl.closed == (list_filter == "closed")
    ]


@ROUTES.get("/boards/{board_id}/lists")
def board_lists(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    return board_lists_filtered(ctx, board_id, ctx.params.get("filter", "open"))


@ROUTES.get("/boards/{board_id}/lists/{list_filter}")
def board_lists_filtered(ctx: Ctx, board_id: str, list_filter: str) -> list[dict[str, Any]]:
    board = find_board(ctx, board_id)
    p = ctx.params
    out = []
    for tl in _lists(board, list_filter):
        item = select_fields(list_json(tl), p.get("fields"))
        if p.get("cards", "none") != "none":
            cards = [c for c in cards_filtered(ctx, board, p["cards"]) if c.id_list == tl.id]
            item["cards"] = [card_json(ctx.state, c, fields=p.get("card_fields")) for c in cards]
        out.append(item)
    return out


@ROUTES.get("/boards/{board_id}/customFields")
def board_custom_fields(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    return [custom_field_json(cf) for cf in find_board(ctx, board_id).custom_fields.values()]


@ROUTES.get("/boards/{board_id}/labels")
def board_labels(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    board = find_board(ctx, board_id)
    limit = int_param(ctx.params, "limit", 50, 0, 1000)
    return [
        select_fields(label_json(lb), ctx.params.get("fields"))
        for lb in list(board.labels.values())[:limit]
    ]


@ROUTES.get("/boards/{board_id}/members")
def board_members(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    board = find_board(ctx, board_id)
    return [
        select_fields(member_short_json(ctx.state.members[m]), ctx.params.get("fields"))
        for m in board.member_ids
    ]


@ROUTES.get("/boards/{board_id}/checklists")
def board_checklists(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    board = find_board(ctx, board_id)
    return [checklist_json(cl) for c in board.cards.values() for cl in c.checklists]


@ROUTES.get("/boards/{board_id}/actions")
def board_actions(ctx: Ctx, board_id: str) -> list[dict[str, Any]]:
    return query_actions(ctx, find_board(ctx, board_id).actions)


# -- lists, members, actions ---------------------------------------------------------


@ROUTES.get("/lists/{list_id}")
def get_list(ctx: Ctx, list_id: str) -> dict[str, Any]:
    tlist = ctx.state.lists.get(check_id(list_id))
    if tlist is None:
        raise ApiError.not_found()
    find_board(ctx, tlist.id_board)
    return select_fields(list_json(tlist), ctx.params.get("fields"))


@ROUTES.get("/lists/{list_id}/cards")
def list_cards(ctx: Ctx, list_id: str) -> list[dict[str, Any]]:
    tlist = ctx.state.lists.get(check_id(list_id))
    if tlist is None:
        raise ApiError.not_found()
    board = find_board(ctx, tlist.id_board)
    cards = [
        c
        for c in cards_filtered(ctx, board, ctx.params.get("filter", "open"))
        if c.id_list == tlist.id
    ]
    return _cards_json(ctx, cards)


@ROUTES.get("/members/{member_ref}")
def get_member(ctx: Ctx, member_ref: str) -> dict[str, Any]:
    member = _member(ctx, member_ref)
    return select_fields(member_json(ctx.state, member), ctx.params.get("fields"))


@ROUTES.get("/members/{member_ref}/boards")
def member_boards(ctx: Ctx, member_ref: str) -> list[dict[str, Any]]:
    member = _member(ctx, member_ref)
    board_filter = ctx.params.get("filter", "all")
    if board_filter not in ("all", "open", "closed", "members"):
        raise ApiError(400, "invalid value for filter")
    boards = [b for b in ctx.state.boards.values() if member.id in b.member_ids]
    if board_filter in ("open", "closed"):
        boards = [b for b in boards if b.closed == (board_filter == "closed")]
    return [select_fields(board_json(ctx.state, b), ctx.params.get("fields")) for b in boards]


def _member(ctx: Ctx, ref: str) -> Any:
    state = ctx.state
    if ref == "me":
        return state.members[ctx.member_id]
    member = state.members.get(ref) or next(
        (m for m in state.members.values() if m.username == ref), None
    )
    if member is None:
        raise ApiError.not_found()
    return member


@ROUTES.get("/actions/{action_id}")
def get_action(ctx: Ctx, action_id: str) -> dict[str, Any]:
    action = ctx.state.actions.get(check_id(action_id))
    if action is None:
        raise ApiError.not_found()
    find_board(ctx, action.board["id"])
    return action_json(ctx.state, action, display=True)


# -- action paging -------------------------------------------------------------------


def _bound(value: str | None, name: str) -> tuple[str, Any] | None:
    """``since``/``before``: an action (mongo) id, or a date; returns (kind, comparable)."""
    if value is None or value == "":
        return None
    if ID_RE.match(value):
        return "id", value
    try:
        return "date", round(parse_iso(value), 3)
    except ValueError:
        raise ApiError(400, f"invalid value for {name}") from None


def _cut(actions: list[Action], bound: tuple[str, Any], side: str) -> int:
    kind, value = bound
    key = (lambda a: a.id) if kind == "id" else (lambda a: round(a.ts, 3))
    return (
        bisect.bisect_right(actions, value, key=key)
        if side == "since"
        else bisect.bisect_left(actions, value, key=key)
    )


def query_actions(
    ctx: Ctx, actions: list[Action], *, default_filter: str | None = None, max_page: int = 1_000_000
) -> list[dict[str, Any]]:
    """Trello's action query: newest first, ``filter``, ``limit`` 0–1000 (default 50), ``page``,
    ``since``/``before`` bounds (exclusive) given as action ids or dates, and ``idModels``
    (only actions about one of these cards, lists, boards or members)."""
    p = ctx.params
    raw_filter = p.get("filter", default_filter)
    types = (
        None
        if raw_filter in (None, "", "all")
        else {t.strip() for t in raw_filter.split(",") if t.strip()}
    )
    limit = int_param(p, "limit", 50, 0, 1000)
    page = int_param(p, "page", 0, 0, max_page)
    models = {m.strip() for m in (p.get("idModels") or "").split(",") if m.strip()}
    lo, hi = 0, len(actions)
    since, before = _bound(p.get("since"), "since"), _bound(p.get("before"), "before")
    if since:
        lo = _cut(actions, since, "since")
    if before:
        hi = _cut(actions, before, "before")
    skip = page * limit
    out: list[dict[str, Any]] = []
    for action in reversed(actions[lo:hi]):
        if len(out) >= limit:
            break
        if types is not None and not _type_matches(action, types):
            continue
        if models and not models & _models_of(action):
            continue
        if skip:
            skip -= 1
            continue
        item = action_json(ctx.state, action)
        if not flag(p, "memberCreator", True):
            item.pop("memberCreator", None)
        if not flag(p, "member", True):
            item.pop("member", None)
        out.append(item)
    return out


def _type_matches(action: Action, types: set[str]) -> bool:
    if action.type in types:
        return True
    # Filter shortcuts like ``updateCard:idList`` match updateCard actions that changed that field.
    return bool(action.old) and any(f"{action.type}:{name}" in types for name in action.old or {})


def _models_of(action: Action) -> set[str]:
    """The ids of the models an action is about (for ``idModels``)."""
    refs = (action.board, action.card, action.list, action.list_before, action.list_after)
    ids = {str(ref["id"]) for ref in refs if ref and "id" in ref}
    ids.update(i for i in (action.id_card, action.member_id) if i)
    return ids
