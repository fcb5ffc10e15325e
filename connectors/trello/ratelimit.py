"""Client-side pacing for Trello: 100 requests / 10 s per token, 300 / 10 s per API key.

Trello answers 429 without any ``Retry-After`` (and shuts a key for the rest of the
window after 200 429s), so the only good strategy is never to draw one: take a
token from every bucket that applies before each request, and wait when one is
empty. Limits: https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/

The buckets are *sliding*: a spent token comes back exactly one window after it was
spent. A classic refill-rate bucket (capacity 100, 10 tokens/s) would let 100 go at
once and another ~100 during the next 10 s — up to 2× the limit inside one of
Trello's windows. A little slack is added to each window for network jitter (the
server counts arrival, we count departure).

One process-wide limiter (``default_limiter()``) is shared by every ``TrelloClient`` that
is not given its own, so two sources on one token share one budget.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

__all__ = [
    "SlidingBucket",
    "RateLimiter",
    "default_limiter",
    "set_default_limiter",
    "TOKEN_LIMIT",
    "KEY_LIMIT",
    "WINDOW_SECONDS",
    "MEMBERS_ROUTE_LIMIT",
]

TOKEN_LIMIT = (100, 10.0)
KEY_LIMIT = (300, 10.0)
# Trello: "/1/members/ is limited to 100 requests / 900 s" (per token).
MEMBERS_ROUTE_LIMIT = {"/members/": (100, 900.0)}
WINDOW_SECONDS = 10.0
DEFAULT_SLACK = 0.5


class SlidingBucket:
    """``capacity`` tokens; each spent token returns ``window`` seconds after it was spent."""

    def __init__(self, capacity: int, window: float) -> None:
        if capacity < 1 or window <= 0:
            raise ValueError("a bucket needs capacity >= 1 and a positive window")
        self.capacity = capacity
        self.window = window
        self._spent: deque[float] = deque()

    def delay(self, now: float) -> float:
        """Seconds until a token is free (0.0 when one is free now)."""
        while self._spent and self._spent[0] <= now - self.window:
            self._spent.popleft()
        if len(self._spent) < self.capacity:
            return 0.0
        return self._spent[0] + self.window - now

    def take(self, now: float) -> None:
        self._spent.append(now)

    def in_use(self, now: float) -> int:
        self.delay(now)
        return len(self._spent)


def _ident(kind: str, secret: str) -> str:
    # Keyed by a digest: the registry never holds raw keys or tokens.
    return kind + ":" + hashlib.sha256(secret.encode()).hexdigest()[:16]


class RateLimiter:
    """Thread-safe registry of buckets keyed by API key, by token and by (token, route prefix)."""

    def __init__(
        self,
        *,
        per_token: tuple[int, float] = TOKEN_LIMIT,
        per_key: tuple[int, float] = KEY_LIMIT,
        per_route: Mapping[str, tuple[int, float]] | None = None,
        slack: float = DEFAULT_SLACK,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_token = per_token
        self.per_key = per_key
        self.per_route = dict(MEMBERS_ROUTE_LIMIT if per_route is None else per_route)
        self.slack = slack
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, SlidingBucket] = {}
        self.waits = 0  # how many times a caller had to wait
        self.waited_seconds = 0.0

    def _bucket(self, ident: str, limit: tuple[int, float]) -> SlidingBucket:
        bucket = self._buckets.get(ident)
        if bucket is None:
            bucket = self._buckets[ident] = SlidingBucket(limit[0], limit[1] + self.slack)
        return bucket

    def _buckets_for(self, api_key: str, token: str, path: str) -> list[SlidingBucket]:
        buckets = [
            self._bucket(_ident("token", token), self.per_token),
            self._bucket(_ident("key", api_key), self.per_key),
        ]
        for prefix, limit in self.per_route.items():
            if path.startswith(prefix):
                buckets.append(self._bucket(_ident(f"route{prefix}", token), limit))
        return buckets

    def acquire(self, api_key: str, token: str, path: str = "") -> float:
        """Block (via the injected ``sleep``) until every bucket has a token; take them.

        ``path`` is the API path without the ``/1`` prefix (for per-route limits).
        Returns the seconds waited.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                buckets = self._buckets_for(api_key, token, path)
                delay = max(b.delay(now) for b in buckets)
                if delay <= 0:
                    for bucket in buckets:
                        bucket.take(now)
                    if waited:
                        self.waits += 1
                        self.waited_seconds += waited
                    return waited
            self.sleep(delay)
            waited += delay


_default: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The process-wide limiter shared by every ``TrelloClient`` built without its own."""
    global _default
    with _default_lock:
        if _default is None:
            _default = RateLimiter()
        return _default


def set_default_limiter(limiter: RateLimiter | None) -> None:
    """Replace the process-wide limiter (tests; ``None`` → a fresh default on next use)."""
    global _default
    with _default_lock:
        _default = limiter
