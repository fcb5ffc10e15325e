"""Trello's gatekeeping in the sandbox: auth, GET-body rule, rate limits, faults, counters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.trello import TrelloState, generate
from sandbox.trello.testing import FakeClock, running_trello

KEY, TOKEN = "sandbox-key", "sandbox-token"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1_750_000_000.0)


@pytest.fixture
def served(clock: FakeClock) -> Iterator[tuple[str, TrelloState]]:
    state = TrelloState(seed=3, clock=clock.now)
    generate(state, boards=1, cards_per_board=5, seed=3)
    state.add_token("second-token")
    with running_trello(state) as (url, st):
        yield url, st


def get(url: str, token: str = TOKEN, **kw: object) -> requests.Response:
    return requests.get(f"{url}/1/members/me", params={"key": KEY, "token": token}, timeout=5, **kw)  # type: ignore[arg-type]


def configure(url: str, **values: object) -> None:
    assert requests.put(f"{url}/_sandbox/config", json=values, timeout=5).status_code == 200


def test_101st_request_of_a_token_within_10_seconds_is_429_without_retry_after(
    served: tuple[str, TrelloState], clock: FakeClock
) -> None:
    url, _ = served
    assert all(get(url).status_code == 200 for _ in range(100))
    limited = get(url)
    assert limited.status_code == 429
    assert limited.json() == {"error": "API_TOKEN_LIMIT_EXCEEDED", "message": "Rate limit exceeded"}
    assert "retry-after" not in {h.lower() for h in limited.headers}
    clock.advance(10.001)
    assert get(url).status_code == 200


def test_key_limit_is_shared_by_all_tokens_of_the_key(served: tuple[str, TrelloState]) -> None:
    url, _ = served
    configure(url, token_limit=3, key_limit=5)
    assert [get(url).status_code for _ in range(3)] == [200] * 3
    assert [get(url, "second-token").status_code for _ in range(2)] == [200] * 2
    limited = get(url, "second-token")
    assert (limited.status_code, limited.json()["error"]) == (429, "API_KEY_LIMIT_EXCEEDED")


def test_sliding_window_frees_a_slot_exactly_one_window_after_the_request(
    served: tuple[str, TrelloState], clock: FakeClock
) -> None:
    url, _ = served
    configure(url, token_limit=2, window_mode="sliding")
    assert get(url).status_code == 200
    clock.advance(6)
    assert get(url).status_code == 200
    assert get(url).status_code == 429
    clock.advance(4.01)  # the first request left the window, the second has not
    assert [get(url).status_code, get(url).status_code] == [200, 429]


def test_fixed_window_resets_at_the_window_boundary(
    served: tuple[str, TrelloState], clock: FakeClock
) -> None:
    url, _ = served
    configure(url, token_limit=2, window_mode="fixed")
    clock.advance(10 - clock.now() % 10 - 0.5)  # half a second before a boundary
    assert [get(url).status_code for _ in range(3)] == [200, 200, 429]
    clock.advance(0.6)
    assert [get(url).status_code for _ in range(3)] == [200, 200, 429]


def test_too_many_429s_shut_the_whole_key_for_the_rest_of_the_window(
    served: tuple[str, TrelloState], clock: FakeClock
) -> None:
    url, _ = served
    configure(url, token_limit=1, key_limit=100, key_penalty_threshold=2)
    assert get(url).status_code == 200
    assert [get(url).status_code for _ in range(3)] == [
        429
    ] * 3  # the third 429 crosses the threshold
    shut = get(url, "second-token")  # a fresh token of the same key is refused too
    assert (shut.status_code, shut.json()["error"]) == (429, "API_KEY_LIMIT_EXCEEDED")
    clock.advance(10.01)
    assert get(url, "second-token").status_code == 200


def test_limits_can_be_switched_off(served: tuple[str, TrelloState]) -> None:
    url, _ = served
    configure(url, token_limit=1, limits_enabled=False)
    assert {get(url).status_code for _ in range(5)} == {200}


def test_get_with_a_body_is_refused_with_403_before_anything_else(
    served: tuple[str, TrelloState],
) -> None:
    url, state = served
    refused = get(url, data=b'{"name": "x"}', headers={"Content-Type": "application/json"})
    assert refused.status_code == 403
    assert "request could not be satisfied" in refused.text
    assert get(url, token="wrong", data=b"x=1").status_code == 403  # the edge answers before auth
    assert get(url).status_code == 200


def test_wrong_key_or_token_is_401_with_trellos_text(served: tuple[str, TrelloState]) -> None:
    url, _ = served
    bad_key = requests.get(f"{url}/1/members/me", params={"key": "nope", "token": TOKEN}, timeout=5)
    assert (bad_key.status_code, bad_key.text) == (401, "invalid key")
    assert (get(url, token="nope").status_code, get(url, token="nope").text) == (
        401,
        "invalid token",
    )
    missing = requests.get(f"{url}/1/members/me", timeout=5)
    assert missing.status_code == 401


def test_oauth_authorization_header_is_accepted_instead_of_query_credentials(
    served: tuple[str, TrelloState],
) -> None:
    url, state = served
    header = f'OAuth oauth_consumer_key="{KEY}", oauth_token="{TOKEN}"'
    me = requests.get(f"{url}/1/members/me", headers={"Authorization": header}, timeout=5)
    assert me.status_code == 200 and me.json()["id"] == state.me_id
    wrong = requests.get(
        f"{url}/1/members/me", headers={"Authorization": header.replace(TOKEN, "x")}, timeout=5
    )
    assert (wrong.status_code, wrong.text) == (401, "invalid token")


def test_429_storm_switch_fails_exactly_the_next_n_requests(
    served: tuple[str, TrelloState],
) -> None:
    url, _ = served
    requests.post(f"{url}/_sandbox/faults/storm", json={"count": 3}, timeout=5)
    statuses = [get(url).status_code for _ in range(4)]
    assert statuses == [429, 429, 429, 200]


def test_5xx_share_injects_server_errors(served: tuple[str, TrelloState]) -> None:
    url, _ = served
    configure(url, fault_5xx_share=1.0)
    assert {get(url).status_code for _ in range(5)} <= {500, 502, 503}
    configure(url, fault_5xx_share=0.0)
    assert get(url).status_code == 200


def test_stats_count_requests_per_route_and_status(served: tuple[str, TrelloState]) -> None:
    url, state = served
    requests.post(f"{url}/_sandbox/stats/reset", timeout=5)
    board = next(iter(state.boards))
    get(url)
    requests.get(f"{url}/1/boards/{board}/cards", params={"key": KEY, "token": TOKEN}, timeout=5)
    requests.get(f"{url}/1/cards/{'0' * 24}", params={"key": KEY, "token": TOKEN}, timeout=5)
    stats = requests.get(f"{url}/_sandbox/stats", timeout=5).json()
    assert stats["total"] == 3
    assert stats["by_route"] == {
        "GET /1/members/{member_ref}": 1,
        "GET /1/boards/{board_id}/cards": 1,
        "GET /1/cards/{card_id}": 1,
    }
    assert stats["by_status"] == {"200": 2, "404": 1}
