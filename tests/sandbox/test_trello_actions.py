"""Board and card actions: newest first, ``limit`` 0–1000, ``before``/``since``, filters."""

from __future__ import annotations

import requests

from sandbox.trello import TrelloState, mutations
from sandbox.trello.ids import iso


def board_of(state: TrelloState) -> str:
    return max(state.boards.values(), key=lambda b: len(b.actions)).id


def actions(url: str, http: requests.Session, board: str, **params: object) -> requests.Response:
    return http.get(f"{url}/1/boards/{board}/actions", params=params)


def test_limit_defaults_to_50_accepts_0_to_1000_and_refuses_more(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = board_of(trello_state)
    assert len(trello_state.boards[board].actions) > 50
    assert len(actions(trello_url, trello_http, board).json()) == 50
    assert actions(trello_url, trello_http, board, limit=0).json() == []
    assert len(actions(trello_url, trello_http, board, limit=1000).json()) == len(
        trello_state.boards[board].actions
    )
    too_many = actions(trello_url, trello_http, board, limit=1001)
    assert (too_many.status_code, too_many.text) == (400, "invalid value for limit")


def test_paging_backwards_with_before_walks_the_whole_log_exactly_once(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = board_of(trello_state)
    seen: list[str] = []
    before = None
    while True:
        page = actions(
            trello_url, trello_http, board, limit=7, **({"before": before} if before else {})
        ).json()
        seen.extend(a["id"] for a in page)
        if len(page) < 7:
            break
        before = page[-1]["id"]
    assert seen == [a.id for a in reversed(trello_state.boards[board].actions)]


def test_since_an_action_id_returns_only_newer_actions(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = board_of(trello_state)
    log = trello_state.boards[board].actions
    pivot = log[len(log) // 2]
    newer = actions(trello_url, trello_http, board, since=pivot.id, limit=1000).json()
    assert [a["id"] for a in newer] == [a.id for a in reversed(log) if a.id > pivot.id]


def test_since_and_before_accept_iso_dates(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = board_of(trello_state)
    log = trello_state.boards[board].actions
    lo, hi = log[len(log) // 4], log[3 * len(log) // 4]
    window = actions(
        trello_url, trello_http, board, since=iso(lo.ts), before=iso(hi.ts), limit=1000
    ).json()
    assert [a["id"] for a in window] == [a.id for a in reversed(log) if lo.ts < a.ts < hi.ts]
    assert actions(trello_url, trello_http, board, since="not-a-date").status_code == 400


def test_filter_selects_types_and_field_shortcuts(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = board_of(trello_state)
    moves = actions(trello_url, trello_http, board, filter="updateCard:idList", limit=1000).json()
    assert moves and all(a["type"] == "updateCard" and "idList" in a["data"]["old"] for a in moves)
    assert all({"listBefore", "listAfter"} <= set(a["data"]) for a in moves)
    created = actions(
        trello_url, trello_http, board, filter="createCard,createList", limit=1000
    ).json()
    assert {a["type"] for a in created} == {"createCard", "createList"}
    assert len([a for a in created if a["type"] == "createCard"]) == len(
        trello_state.boards[board].cards
    )


def test_page_skips_whole_pages(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = board_of(trello_state)
    first_two = (
        actions(trello_url, trello_http, board, limit=10).json()
        + actions(trello_url, trello_http, board, limit=10, page=1).json()
    )
    assert [a["id"] for a in first_two] == [
        a["id"] for a in actions(trello_url, trello_http, board, limit=20).json()
    ]


def test_card_actions_default_to_comments_and_list_moves(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = trello_state.boards[board_of(trello_state)]
    card = next(iter(board.cards.values()))
    done = next(lst for lst in board.lists.values() if lst.name == "Done")
    other = next(lst for lst in board.lists.values() if lst.id not in (card.id_list, done.id))
    old_name = card.name
    mutations.move_card(trello_state, card.id, other.id)
    mutations.update_card(trello_state, card.id, {"name": "Renamed"})
    default = trello_http.get(f"{trello_url}/1/cards/{card.id}/actions").json()
    assert default and {a["type"] for a in default} == {"updateCard"}
    assert all("idList" in a["data"]["old"] for a in default)
    everything = trello_http.get(
        f"{trello_url}/1/cards/{card.id}/actions", params={"filter": "all"}
    ).json()
    assert {"createCard", "updateCard"} <= {a["type"] for a in everything}
    renamed = [a for a in everything if a["data"].get("old", {}).keys() == {"name"}]
    assert [(a["data"]["old"]["name"], a["data"]["card"]["name"]) for a in renamed] == [
        (old_name, "Renamed")
    ]


def test_deleted_card_leaves_only_id_and_short_id_and_answers_404(
    trello_state: TrelloState, trello_url: str, trello_http: requests.Session
) -> None:
    board = trello_state.boards[board_of(trello_state)]
    card = next(iter(board.cards.values()))
    mutations.delete_card(trello_state, card.id)
    last = actions(trello_url, trello_http, board.id, limit=1).json()[0]
    assert last["type"] == "deleteCard"
    assert last["data"]["card"] == {"id": card.id, "idShort": card.id_short}
    assert trello_http.get(f"{trello_url}/1/cards/{card.id}").status_code == 404
