"""Trello webhook helpers (signature, dedupe key) and webhook management through TrelloClient."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable

import pytest

from connectors.errors import Fatal, NotFound
from connectors.trello import TrelloClient
from connectors.trello.webhooks import dedupe_key, sign, verify_signature
from sandbox.trello import TrelloState, mutations
from sandbox.trello.testing import CallbackReceiver
from sandbox.trello.webhooks import signature as sandbox_signature
from tests.realdata import REALDATA

World = tuple[str, TrelloState]
MakeApi = Callable[..., TrelloClient]
CALLBACK = "https://taskhub.example.com/webhooks/trello/7?x=1"
SECRET = "app-secret"


def test_sign_is_base64_hmac_sha1_of_body_plus_callback_url() -> None:
    body = b'{"action":{"id":"1"}}'
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), body + CALLBACK.encode(), hashlib.sha1).digest()
    ).decode()
    assert sign(SECRET, body, CALLBACK) == expected == sandbox_signature(SECRET, body, CALLBACK)


def test_verify_accepts_only_the_exact_body_url_and_secret() -> None:
    body = (REALDATA / "trello-webhooks" / "ringcentral" / "updateCard-moved.json").read_bytes()
    header = sign(SECRET, body, CALLBACK)
    assert verify_signature(SECRET, body, CALLBACK, header)
    assert verify_signature(SECRET, body, CALLBACK, f"  {header}\n")
    assert not verify_signature(SECRET, body + b" ", CALLBACK, header)
    assert not verify_signature(
        SECRET, body, CALLBACK.replace("?x=1", ""), header
    )  # query string is signed
    assert not verify_signature(SECRET, body, CALLBACK.replace("https", "http"), header)
    assert not verify_signature("other", body, CALLBACK, header)
    assert not verify_signature(SECRET, body, CALLBACK, None)
    assert not verify_signature(SECRET, body, CALLBACK, "not base64 ☃")


def test_an_empty_secret_verifies_nothing() -> None:
    body = b"{}"
    assert not verify_signature("", body, CALLBACK, sign("", body, CALLBACK))


def test_dedupe_key_is_the_action_id_else_a_body_hash() -> None:
    capture = REALDATA / "trello-webhooks" / "ringcentral" / "createCard.json"
    raw = capture.read_bytes()
    action_id = json.loads(raw)["action"]["id"]
    assert dedupe_key(raw) == dedupe_key(raw.decode()) == dedupe_key(json.loads(raw)) == action_id
    no_action = b'{"model": {"id": "x"}}'
    assert dedupe_key(no_action) == "sha256:" + hashlib.sha256(no_action).hexdigest()
    assert dedupe_key(b"not json") == "sha256:" + hashlib.sha256(b"not json").hexdigest()
    assert dedupe_key({"b": 1, "a": 2}) == dedupe_key({"a": 2, "b": 1})


def test_create_list_and_delete_a_webhook(trello_world: World, make_trello_api: MakeApi) -> None:
    _, state = trello_world
    board = next(iter(state.boards))
    api = make_trello_api()
    with CallbackReceiver() as receiver:
        hook = api.register_webhook(receiver.url(), board, "taskhub source 7")
        assert [r.method for r in receiver.received] == ["HEAD"]
    assert (hook["idModel"], hook["active"], hook["description"]) == (
        board,
        True,
        "taskhub source 7",
    )
    listed = api.webhooks()
    assert [(h["id"], h["consecutiveFailures"], h["firstConsecutiveFailDate"]) for h in listed] == [
        (hook["id"], 0, None)
    ]
    api.delete_webhook(hook["id"])
    assert api.webhooks() == []
    with pytest.raises(NotFound):
        api.delete_webhook(hook["id"])
    by_route = state.stats.snapshot()["by_route"]
    assert by_route["POST /1/webhooks"] == 1 and by_route["DELETE /1/webhooks/{webhook_id}"] == 2


def test_creation_refused_when_the_callback_does_not_answer_head_with_200(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    api = make_trello_api()
    with CallbackReceiver(head_status=405) as receiver, pytest.raises(Fatal) as refused:
        api.register_webhook(receiver.url(), next(iter(state.boards)), "no HEAD route")
    assert refused.value.status == 400
    assert "did not return 200" in refused.value.body  # type: ignore[attr-defined]
    assert api.webhooks() == []


def test_webhook_writes_are_not_retried(trello_world: World, make_trello_api: MakeApi) -> None:
    _, state = trello_world
    api = make_trello_api()
    state.config.storm_remaining = 1
    with CallbackReceiver() as receiver, pytest.raises(Exception, match="429"):
        api.register_webhook(receiver.url(), next(iter(state.boards)))
    assert state.stats.snapshot()["total"] == 1 and state.webhooks == {}


def test_deliveries_to_a_webhook_created_by_the_client_verify_and_failures_show_in_the_listing(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    board = next(iter(state.boards.values()))
    api = make_trello_api()
    with CallbackReceiver() as receiver:
        callback = receiver.url("/webhooks/trello/7")
        api.register_webhook(callback, board.id, "verify me")
        mutations.update_card(state, next(iter(board.cards)), {"name": "Changed"})
        assert state.wait_deliveries(5)
        (post,) = receiver.posts()
        assert verify_signature(
            state.app_secret, post.body, callback, post.headers["x-trello-webhook"]
        )
        receiver.fail_posts = 100
        mutations.update_card(state, next(iter(board.cards)), {"name": "Changed again"})
        assert state.wait_deliveries(5)
    (listed,) = api.webhooks()
    assert listed["consecutiveFailures"] == 1 + len(state.config.retry_backoff)
    assert listed["firstConsecutiveFailDate"] is not None
