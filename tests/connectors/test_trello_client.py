"""TrelloClient against the running Trello sandbox: pacing, bounded retries, classified errors,
batch and actions paging, and a transport that can only ever reach the configured base URL."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import requests

from connectors.errors import Fatal, NotFound, RateLimited, Transient, Unauthorized
from connectors.trello import RateLimiter, TrelloClient
from sandbox.server import free_port
from sandbox.trello import TrelloState, mutations
from sandbox.trello.testing import FakeClock

World = tuple[str, TrelloState]
MakeApi = Callable[..., TrelloClient]


def full_read(api: TrelloClient) -> int:
    """What a sync does for every board: board, lists, custom fields, cards, actions."""
    api.myself()
    boards = api.boards()
    for board in boards:
        api.board(board["id"])
        api.lists(board["id"])
        api.custom_fields(board["id"])
        api.cards(board["id"])
        api.actions(board["id"])
    return len(boards)


def stats(state: TrelloState) -> dict[str, Any]:
    return state.stats.snapshot()


def test_full_read_of_twenty_boards_is_paced_and_never_draws_a_429(
    trello_world: World, make_trello_api: MakeApi, trello_limiter: RateLimiter
) -> None:
    _, state = trello_world
    api = make_trello_api()
    assert full_read(api) == 20
    assert api.api_calls == 2 + 5 * 20  # more than the 100 a token may send in 10 s
    assert stats(state)["total"] == api.api_calls
    assert "429" not in stats(state)["by_status"]
    assert trello_limiter.waits >= 1  # the bucket held the 101st request back


def test_without_pacing_the_same_read_draws_a_429_that_keeps_trellos_answer(
    trello_world: World, make_trello_api: MakeApi, trello_clock: FakeClock
) -> None:
    unlimited = RateLimiter(
        per_token=(10_000, 10.0),
        per_key=(10_000, 10.0),
        clock=trello_clock.now,
        sleep=trello_clock.sleep,
    )
    api = make_trello_api(limiter=unlimited, max_attempts=1)
    with pytest.raises(RateLimited) as caught:
        full_read(api)
    error = caught.value
    assert (error.status, error.retry_after) == (429, None)
    assert "retry-after" not in {h.lower() for h in error.headers}
    assert '"API_TOKEN_LIMIT_EXCEEDED"' in error.body  # type: ignore[attr-defined]
    assert api.api_calls == 101


def test_a_short_429_storm_is_survived_with_growing_backoff(
    trello_world: World, make_trello_api: MakeApi, trello_clock: FakeClock
) -> None:
    _, state = trello_world
    api = make_trello_api()
    state.config.storm_remaining = 3
    assert api.myself()["id"] == state.me_id
    assert stats(state)["by_status"] == {"429": 3, "200": 1}
    assert len(trello_clock.sleeps) == 3
    assert trello_clock.sleeps[0] < trello_clock.sleeps[2] <= 60


def test_an_endless_429_storm_ends_after_max_attempts_not_in_a_retry_storm(
    trello_world: World, make_trello_api: MakeApi, trello_clock: FakeClock
) -> None:
    _, state = trello_world
    api = make_trello_api(max_attempts=4, max_wait=30.0)
    state.config.storm_remaining = 1_000
    with pytest.raises(RateLimited):
        api.card(next(iter(state.cards)))
    assert stats(state)["total"] == 4
    assert len(trello_clock.sleeps) == 3 and all(s <= 30.0 for s in trello_clock.sleeps)


def test_server_errors_are_transient_and_retried(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    api = make_trello_api(max_attempts=3)
    state.config.fault_5xx_share = 1.0
    with pytest.raises(Transient) as caught:
        api.myself()
    assert caught.value.status in (500, 502, 503) and stats(state)["total"] == 3
    state.config.fault_5xx_share = 0.0
    assert api.myself()["id"] == state.me_id


def test_errors_keep_status_headers_and_body_without_leaking_credentials(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    url, state = trello_world
    api = make_trello_api()
    with pytest.raises(NotFound) as missing:
        api.card("0" * 24)
    assert missing.value.status == 404
    assert missing.value.headers["content-type"].startswith("text/plain")
    assert missing.value.body == "The requested resource was not found."  # type: ignore[attr-defined]
    with pytest.raises(Unauthorized) as denied:
        make_trello_api(token="not-a-token").myself()
    assert (denied.value.status, denied.value.body) == (401, "invalid token")  # type: ignore[attr-defined]
    for error in (missing.value, denied.value):
        text = f"{error} {error.url}"
        assert (
            "sandbox-key" not in text and "sandbox-token" not in text and "not-a-token" not in text
        )


def test_connection_failures_are_transient(
    make_trello_api: MakeApi, trello_clock: FakeClock
) -> None:
    api = make_trello_api(base_url=f"http://127.0.0.1:{free_port()}/1", max_attempts=2, timeout=2.0)
    with pytest.raises(Transient):
        api.myself()
    assert api.api_calls == 2 and len(trello_clock.sleeps) == 1


def test_requests_only_ever_reach_the_base_url(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    api = make_trello_api()
    api.myself()
    # py-trello's own hard-coded https://api.trello.com/1 URL lands on the sandbox too.
    assert api._client.fetch_json("/members/me")["id"] == state.me_id
    assert stats(state)["total"] == api.api_calls == 2
    with pytest.raises(Fatal, match="refused: https://api.trello.com.evil.example:443 is not"):
        api.session.request("GET", "https://api.trello.com.evil.example/1/members/me")
    # py-trello's create_hook posts to trello.com
    with pytest.raises(Fatal, match="refused: https://trello.com:443 is not"):
        api._client.create_hook("https://example.test/hook", next(iter(state.boards)))
    assert stats(state)["total"] == api.api_calls == 2


def test_board_read_nests_lists_custom_fields_labels_and_members_in_one_call(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    api = make_trello_api()
    board_id = next(iter(state.boards))
    board = api.board(board_id)
    assert {"lists", "customFields", "labels", "members"} <= set(board)
    assert len(board["lists"]) == 5 and len(board["customFields"]) == 5
    with_cards = api.board(board_id, cards="all", card_customFieldItems=True, labels=None)
    assert "labels" not in with_cards and len(with_cards["cards"]) == 8
    assert stats(state)["by_route"] == {"GET /1/boards/{board_id}": 2}


def test_cards_include_archived_ones_and_custom_field_items(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    board = next(iter(state.boards.values()))
    card = next(iter(board.cards.values()))
    mutations.set_card_closed(state, card.id, True)
    cards = make_trello_api().cards(board.id)
    assert {c["id"] for c in cards} == set(board.cards)
    assert all("customFieldItems" in c for c in cards)
    assert next(c for c in cards if c["id"] == card.id)["closed"] is True


def test_cards_batch_fetches_ten_per_call_and_maps_missing_cards_to_none(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    ids = list(state.cards)[:23]
    deleted = ids[5]
    mutations.delete_card(state, deleted)
    api = make_trello_api()
    got = api.cards_batch([*ids, "0" * 24, ids[0]])
    assert list(got) == [*ids, "0" * 24]
    assert got[deleted] is None and got["0" * 24] is None
    present = [cid for cid in ids if cid != deleted]
    assert all(got[cid]["id"] == cid and "customFieldItems" in got[cid] for cid in present)  # type: ignore[index]
    assert stats(state)["by_route"] == {"GET /1/batch": math.ceil(24 / 10)}


def test_actions_since_pages_backwards_and_returns_oldest_first(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    board = max(state.boards.values(), key=lambda b: len(b.actions))
    log = [a.id for a in board.actions]
    api = make_trello_api()
    everything = api.actions_since(board.id, None, page_size=7)
    assert [a["id"] for a in everything] == log
    assert stats(state)["total"] == len(log) // 7 + 1
    pivot = log[len(log) // 3]
    newer = api.actions_since(board.id, pivot, page_size=5)
    assert [a["id"] for a in newer] == [i for i in log if i > pivot]


def test_actions_returns_one_newest_first_page(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    board = next(iter(state.boards.values()))
    page = make_trello_api().actions(board.id, limit=5, filter="createCard")
    assert [a["type"] for a in page] == ["createCard"] * 5
    assert [a["id"] for a in page] == sorted((a["id"] for a in page), reverse=True)


def test_session_injects_the_timeout(
    trello_world: World, make_trello_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = make_trello_api(timeout=7.5)
    seen: list[object] = []
    original = requests.Session.request

    def spy(
        self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        seen.append(kwargs.get("timeout"))
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    api.myself()
    assert seen == [7.5]


def test_a_redirect_to_another_host_is_refused_too() -> None:
    import responses

    api = TrelloClient("key", "token", base_url="https://trello.sandbox.test/1", limiter=RateLimiter())
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.get(
            "https://trello.sandbox.test/1/members/me",
            status=302,
            headers={"Location": "https://elsewhere.example/collect"},
        )
        with pytest.raises(Fatal, match="refused: https://elsewhere.example:443 is not"):
            api.myself()


def test_actions_since_accepts_an_iso_date(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    from sandbox.trello.ids import iso

    _, state = trello_world
    board = max(state.boards.values(), key=lambda b: len(b.actions))
    pivot = board.actions[len(board.actions) // 2]
    newer = make_trello_api().actions_since(board.id, iso(pivot.ts), page_size=4)
    assert [a["id"] for a in newer] == [a.id for a in board.actions if a.ts > pivot.ts]


def test_iter_actions_yields_newest_first_pages_one_request_each(
    trello_world: World, make_trello_api: MakeApi
) -> None:
    _, state = trello_world
    board = max(state.boards.values(), key=lambda b: len(b.actions))
    log = [a.id for a in board.actions]
    pages = list(make_trello_api().iter_actions(board.id, page_size=6))
    assert len(pages) == len(log) // 6 + 1 == stats(state)["total"]
    assert [p.is_last for p in pages] == [False] * (len(pages) - 1) + [True]
    assert [a["id"] for p in pages for a in p.actions] == log[::-1]
