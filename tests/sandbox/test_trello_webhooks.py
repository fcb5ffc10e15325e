"""Sandbox webhooks: HEAD probe on creation, signed deliveries in Trello's payload shape, retries,
duplicates and reordering."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from connectors.trello.webhooks import dedupe_key, verify_signature
from sandbox.server import free_port
from sandbox.trello import TrelloState, mutations
from sandbox.trello.records import Board, Card, Webhook
from sandbox.trello.testing import CallbackReceiver
from tests.realdata import REALDATA

RINGCENTRAL = REALDATA / "trello-webhooks" / "ringcentral"
RUBY = REALDATA / "trello-rest" / "ruby-trello"


def first_board(state: TrelloState) -> Board:
    return next(iter(state.boards.values()))


def register(
    url: str, http: requests.Session, callback: str, model: str, **extra: str
) -> requests.Response:
    return http.post(
        f"{url}/1/webhooks",
        params={"callbackURL": callback, "idModel": model, "description": "test", **extra},
    )


def bodies(receiver: CallbackReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.posts()]


def test_creation_probes_the_callback_with_head_and_answers_the_webhook_object(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    created = register(trello_url, trello_http, trello_receiver.url(), board.id)
    assert created.status_code == 200
    real = json.loads((RUBY / "can_success_create_a_webhook.0.POST.json").read_text())["body"]
    hook = created.json()
    assert set(hook) == set(real)
    assert (hook["active"], hook["consecutiveFailures"], hook["firstConsecutiveFailDate"]) == (
        True,
        0,
        None,
    )
    assert [r.method for r in trello_receiver.received] == ["HEAD"]
    listed = trello_http.get(f"{trello_url}/1/tokens/sandbox-token/webhooks").json()
    assert [h["id"] for h in listed] == [hook["id"]]
    assert trello_http.get(f"{trello_url}/1/webhooks/{hook['id']}").json() == hook
    assert trello_http.delete(f"{trello_url}/1/webhooks/{hook['id']}").json() == {"_value": None}
    assert trello_http.get(f"{trello_url}/1/webhooks/{hook['id']}").status_code == 404


def test_creation_is_refused_when_the_head_probe_does_not_answer_200(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    trello_receiver.head_status = 404
    refused = register(trello_url, trello_http, trello_receiver.url(), board.id)
    assert refused.status_code == 400 and "did not return 200" in refused.text
    unreachable = register(
        trello_url, trello_http, f"http://127.0.0.1:{free_port()}/hook", board.id
    )
    assert unreachable.status_code == 400
    assert trello_state.webhooks == {}


def test_creation_validates_model_and_refuses_duplicates(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    assert register(trello_url, trello_http, trello_receiver.url(), "0" * 24).status_code == 400
    assert register(trello_url, trello_http, trello_receiver.url(), board.id).status_code == 200
    again = register(trello_url, trello_http, trello_receiver.url(), board.id)
    assert again.status_code == 400 and "already exists" in again.text


def test_deliveries_are_signed_over_raw_body_plus_callback_url(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    callback = trello_receiver.url("/trello/hook?source=7")
    register(trello_url, trello_http, callback, board.id)
    card = next(iter(board.cards.values()))
    mutations.update_card(trello_state, card.id, {"name": "Signed change"})
    assert trello_state.wait_deliveries(5)
    (post,) = trello_receiver.posts()
    header = post.headers["x-trello-webhook"]
    assert verify_signature(trello_state.app_secret, post.body, callback, header)
    assert not verify_signature(
        trello_state.app_secret, post.body, trello_receiver.url("/trello/hook"), header
    )
    assert not verify_signature("another-secret", post.body, callback, header)
    payload = json.loads(post.body)
    assert set(payload) == {"action", "model", "webhook"}
    assert payload["action"]["data"]["card"]["name"] == "Signed change"


def _move(state: TrelloState, board: Board, card: Card) -> None:
    target = next(lst for lst in board.lists.values() if lst.id != card.id_list)
    mutations.move_card(state, card.id, target.id)


def _member(state: TrelloState, board: Board, card: Card) -> None:
    # The capture is a member joining a card themselves (translationKey action_member_joined_card).
    mutations.add_card_member(state, card.id, state.me_id)


def _label(state: TrelloState, board: Board, card: Card, add: bool = True) -> None:
    label = next(lb for lb in board.labels.values() if lb.id not in card.id_labels)
    mutations.add_card_label(state, card.id, label.id)
    if not add:
        mutations.remove_card_label(state, card.id, label.id)


def _check(state: TrelloState, board: Board, card: Card) -> None:
    checklist = mutations.add_checklist(state, card.id, "new checklist", ["check list item"])
    mutations.set_check_item_state(state, card.id, checklist.items[0].id, "complete")


SCENARIOS: dict[str, Callable[[TrelloState, Board, Card], None]] = {
    "createCard.json": lambda s, b, c: mutations.create_card(s, c.id_list, "hi"),
    "updateCard-moved.json": _move,
    "updateCard-archived.json": lambda s, b, c: mutations.set_card_closed(s, c.id, True),
    "updateCard-unarchived.json": lambda s, b, c: (
        mutations.set_card_closed(s, c.id, True),
        mutations.set_card_closed(s, c.id, False),
    ),
    "updateCard-renamed.json": lambda s, b, c: mutations.update_card(s, c.id, {"name": "hi123"}),
    "updateCard-description.json": lambda s, b, c: mutations.update_card(
        s, c.id, {"desc": "new text"}
    ),
    "updateCard-due-date-added.json": lambda s, b, c: (
        mutations.update_card(s, c.id, {"due": None}),
        mutations.update_card(s, c.id, {"due": "2031-05-26T08:41:00Z"}),
    ),
    "updateCard-due-date-changed.json": lambda s, b, c: (
        mutations.update_card(s, c.id, {"due": "2031-05-31T08:41:00Z"}),
        mutations.update_card(s, c.id, {"due": "2031-05-26T08:41:00Z"}),
    ),
    "addMemberToCard.json": _member,
    "addLabelToCard.json": _label,
    "removeLabelFromCard.json": lambda s, b, c: _label(s, b, c, add=False),
    "addChecklistToCard.json": lambda s, b, c: mutations.add_checklist(
        s, c.id, "new checklist", ["a"]
    ),
    "updateCheckItemStateOnCard-completed.json": _check,
    "updateList-renamed.json": lambda s, b, c: mutations.rename_list(s, c.id_list, "New Name"),
}


def watch(state: TrelloState, callback: str, model: str) -> None:
    """Register a webhook straight in the state (no HTTP server needed for deliveries)."""
    hook = Webhook(state.ids.new(state.now()), "sandbox-token", model, callback, "direct")
    state.webhooks[hook.id] = hook


@pytest.mark.parametrize("capture", sorted(SCENARIOS))
def test_delivered_payload_has_the_shape_of_the_captured_trello_webhook(
    capture: str, trello_state: TrelloState, trello_receiver: CallbackReceiver
) -> None:
    real = json.loads((RINGCENTRAL / capture).read_text())
    board = first_board(trello_state)
    card = next(c for c in board.cards.values() if not c.closed and c.due)
    watch(trello_state, trello_receiver.url(), board.id)
    SCENARIOS[capture](trello_state, board, card)
    assert trello_state.wait_deliveries(5)
    ours = bodies(trello_receiver)[-1]
    real_action, action = real["action"], ours["action"]
    assert action["type"] == real_action["type"]
    assert set(action["data"]) == set(real_action["data"])
    assert set(real_action) - set(action) == set()
    assert action["display"]["translationKey"] == real_action["display"]["translationKey"]
    assert set(real_action["display"]["entities"]) <= set(action["display"]["entities"])
    assert set(ours["model"]) == set(real["model"])
    if "old" in real_action["data"]:
        assert set(action["data"]["old"]) == set(real_action["data"]["old"])


def test_failed_deliveries_are_retried_and_counted_on_the_webhook(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    hook = register(trello_url, trello_http, trello_receiver.url(), board.id).json()
    card = next(iter(board.cards.values()))
    trello_receiver.fail_posts = 2
    mutations.update_card(trello_state, card.id, {"name": "retried"})
    assert trello_state.wait_deliveries(5)
    assert len(trello_receiver.posts()) == 3  # two failures, then success
    assert len({r.body for r in trello_receiver.posts()}) == 1
    assert (
        trello_http.get(f"{trello_url}/1/webhooks/{hook['id']}").json()["consecutiveFailures"] == 0
    )

    trello_receiver.fail_posts = 100
    mutations.update_card(trello_state, card.id, {"name": "given up"})
    assert trello_state.wait_deliveries(5)
    assert len(trello_receiver.posts()) == 3 + 4  # first try + 3 retries
    state = trello_http.get(f"{trello_url}/1/webhooks/{hook['id']}").json()
    assert state["consecutiveFailures"] == 4 and state["firstConsecutiveFailDate"] is not None


def test_duplicates_carry_the_same_action_id(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    register(trello_url, trello_http, trello_receiver.url(), board.id)
    trello_state.config.duplicate_probability = 1.0
    mutations.update_card(trello_state, next(iter(board.cards)), {"name": "twice"})
    assert trello_state.wait_deliveries(5)
    posts = trello_receiver.posts()
    assert len(posts) == 2
    assert (
        dedupe_key(posts[0].body)
        == dedupe_key(posts[1].body)
        == json.loads(posts[0].body)["action"]["id"]
    )


def test_reordering_lets_a_later_action_arrive_first(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    register(trello_url, trello_http, trello_receiver.url(), board.id)
    card = next(iter(board.cards))
    trello_state.config.reorder_hold_seconds = 0.3
    trello_state.config.reorder_probability = 1.0
    mutations.update_card(trello_state, card, {"name": "first"})
    trello_state.config.reorder_probability = 0.0
    mutations.update_card(trello_state, card, {"name": "second"})
    assert trello_state.wait_deliveries(5)
    names = [b["action"]["data"]["card"]["name"] for b in bodies(trello_receiver)]
    assert names == ["second", "first"]


def test_card_webhook_gets_only_that_cards_actions_with_the_card_as_model(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    watched, other = list(board.cards.values())[:2]
    assert register(trello_url, trello_http, trello_receiver.url(), watched.id).status_code == 200
    mutations.update_card(trello_state, other.id, {"name": "not watched"})
    mutations.update_card(trello_state, watched.id, {"name": "watched"})
    assert trello_state.wait_deliveries(5)
    (payload,) = bodies(trello_receiver)
    assert payload["model"]["id"] == watched.id and payload["model"]["name"] == "watched"


def test_inactive_webhook_receives_nothing(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    board = first_board(trello_state)
    assert (
        register(trello_url, trello_http, trello_receiver.url(), board.id, active="false").json()[
            "active"
        ]
        is False
    )
    mutations.update_card(trello_state, next(iter(board.cards)), {"name": "quiet"})
    assert trello_state.wait_deliveries(5)
    assert trello_receiver.posts() == []


def test_deliveries_are_signed_with_the_secret_of_the_app_owning_the_key_that_registered(
    trello_state: TrelloState,
    trello_url: str,
    trello_http: requests.Session,
    trello_receiver: CallbackReceiver,
) -> None:
    """Trello signs with the app secret of the API key the webhook was created with (B8);
    another application is added through the control API."""
    answer = requests.put(
        f"{trello_url}/_sandbox/apps/other-key", json={"app_secret": "other-secret"}, timeout=5
    )
    assert answer.json()["apps"]["other-key"] == "other-secret"
    board = first_board(trello_state)
    callback = trello_receiver.url("/other")
    created = trello_http.post(
        f"{trello_url}/1/webhooks",
        params={"key": "other-key", "callbackURL": callback, "idModel": board.id},
    )
    assert created.status_code == 200, created.text
    mutations.update_card(trello_state, next(iter(board.cards.values())).id, {"name": "By the other app"})
    assert trello_state.wait_deliveries(5)
    (post,) = trello_receiver.posts()
    header = post.headers["x-trello-webhook"]
    assert verify_signature("other-secret", post.body, callback, header)
    assert not verify_signature(trello_state.app_secret, post.body, callback, header)
    refused = requests.put(f"{trello_url}/_sandbox/apps/bad", json={"app_secret": ""}, timeout=5)
    assert refused.status_code == 400
    unknown = trello_http.get(f"{trello_url}/1/members/me", params={"key": "unknown-key"})
    assert unknown.status_code == 401
