"""Client-side Trello pacing: sliding buckets per token, key and route, shared process-wide."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from connectors.trello import (
    RateLimiter,
    SlidingBucket,
    TrelloClient,
    default_limiter,
    set_default_limiter,
)
from sandbox.trello.testing import FakeClock


def max_in_any_window(times: list[float], window: float) -> int:
    """The most events inside any half-open window of ``window`` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class Recorder:
    """Wraps a limiter and records when each acquisition was granted (on the fake clock)."""

    def __init__(self, limiter: RateLimiter, clock: FakeClock) -> None:
        self.limiter, self.clock, self.granted = limiter, clock, []  # type: ignore[var-annotated]

    def acquire(self, key: str, token: str, path: str = "") -> None:
        self.limiter.acquire(key, token, path)
        self.granted.append(self.clock.now())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture(autouse=True)
def fresh_default_limiter() -> Iterator[None]:
    set_default_limiter(None)
    yield
    set_default_limiter(None)


def test_a_spent_token_comes_back_exactly_one_window_later() -> None:
    bucket = SlidingBucket(2, 10.0)
    bucket.take(0.0)
    bucket.take(4.0)
    assert bucket.delay(5.0) == pytest.approx(5.0)  # the first token returns at t=10
    assert bucket.delay(10.0) == 0.0
    with pytest.raises(ValueError):
        SlidingBucket(0, 10.0)


def test_no_window_of_ten_seconds_ever_sees_more_than_100_requests_per_token(
    clock: FakeClock,
) -> None:
    rec = Recorder(RateLimiter(clock=clock.now, sleep=clock.sleep, slack=0.0), clock)
    for i in range(450):
        rec.acquire("key", "token")
        if i % 37 == 0:
            clock.advance(0.7)  # irregular gaps between bursts
    assert max_in_any_window(rec.granted, 10.0) == 100
    assert clock.sleeps, "the limiter had to wait"


def test_tokens_of_one_key_share_the_300_per_10_seconds_key_budget(clock: FakeClock) -> None:
    rec = Recorder(RateLimiter(clock=clock.now, sleep=clock.sleep, slack=0.0), clock)
    for i in range(800):
        rec.acquire("key", f"token-{i % 4}")  # four tokens: 400 per window by tokens alone
    assert max_in_any_window(rec.granted, 10.0) == 300


def test_slack_widens_each_window_for_network_jitter(clock: FakeClock) -> None:
    rec = Recorder(RateLimiter(clock=clock.now, sleep=clock.sleep, slack=0.5), clock)
    for _ in range(201):
        rec.acquire("key", "token")
    assert max_in_any_window(rec.granted, 10.5) == 100


def test_members_routes_have_their_own_100_per_900_seconds_budget(clock: FakeClock) -> None:
    rec = Recorder(RateLimiter(clock=clock.now, sleep=clock.sleep, slack=0.0), clock)
    for _ in range(101):
        rec.acquire("key", "token", "/members/me")
        clock.advance(0.2)  # well under 100 / 10 s, but /members/ allows 100 / 900 s
    assert rec.granted[-1] - rec.granted[0] >= 900
    other = Recorder(RateLimiter(clock=clock.now, sleep=clock.sleep, slack=0.0), clock)
    start = clock.now()
    for _ in range(101):
        other.acquire("key", "token", "/boards/x")
        clock.advance(0.2)
    assert other.granted[-1] - start < 30


def test_concurrent_callers_never_overrun_the_limit(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[float] = []
    original = SlidingBucket.take

    def record(self: SlidingBucket, now: float) -> None:  # called under the limiter's lock
        if self.capacity == 20:
            taken.append(now)
        original(self, now)

    monkeypatch.setattr(SlidingBucket, "take", record)
    limiter = RateLimiter(per_token=(20, 1.0), clock=clock.now, sleep=clock.sleep, slack=0.0)

    def worker() -> None:
        for _ in range(25):
            limiter.acquire("key", "token")

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 200 and max_in_any_window(taken, 1.0) == 20


def test_api_clients_without_their_own_limiter_share_the_process_wide_one() -> None:
    first = TrelloClient("key", "token", base_url="http://127.0.0.1:9/1")
    second = TrelloClient("key", "token", base_url="http://127.0.0.1:9/1")
    assert first.session.limiter is second.session.limiter is default_limiter()
    own = RateLimiter()
    assert TrelloClient("key", "token", limiter=own).session.limiter is own


def test_the_registry_holds_no_raw_credentials(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock.now, sleep=clock.sleep)
    limiter.acquire("my-secret-key", "my-secret-token", "/members/me")
    assert not any("my-secret" in ident for ident in limiter._buckets)
