"""Traffic shaping for the sandbox: burst rate limit, injected faults, request counts.

Jira Cloud rate limiting (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/):
a per-second token bucket answers 429 with ``Retry-After`` (seconds),
``X-RateLimit-Reset`` (ISO ``yyyy-MM-ddTHH:mmZ``, not epoch) and
``RateLimit-Reason: jira-burst-based``.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["TokenBucket", "FaultRule", "FaultPlan", "Stats", "rate_limit_headers"]


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored. Thread-safe."""

    def __init__(self, rate: float, burst: int, clock: object = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = max(1, int(burst))
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = self._now()
        self._lock = threading.Lock()

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def take(self) -> float:
        """Take a token: 0.0 when granted, else seconds until one is available."""
        with self._lock:
            now = self._now()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate if self.rate > 0 else 60.0

    @property
    def remaining(self) -> int:
        return int(self._tokens)


def rate_limit_headers(
    wait_seconds: float, limit: int, *, reason: str = "jira-burst-based"
) -> dict[str, str]:
    """Headers of a Jira Cloud 429. Retry-After is whole seconds, at least 1."""
    retry_after = max(1, math.ceil(wait_seconds))
    reset = datetime.now(UTC) + timedelta(seconds=retry_after)
    # Jira rounds the reset to the minute and prints it as yyyy-MM-ddTHH:mmZ.
    reset_minute = (reset + timedelta(seconds=59)).strftime("%Y-%m-%dT%H:%MZ")
    return {
        "Retry-After": str(retry_after),
        "X-RateLimit-Reset": reset_minute,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": "0",
        "RateLimit-Reason": reason,
    }


@dataclass
class FaultRule:
    """Answer the next ``count`` matching requests with ``status`` (a storm or an outage).

    ``path`` is a substring of the request path, ``method`` an HTTP method; both optional.
    ``retry_after`` adds a Retry-After header (429 storms, 503 with Retry-After).
    """

    status: int
    count: int = 1
    retry_after: float | None = None
    path: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path and self.path not in path)


@dataclass
class FaultPlan:
    """Scheduled and random faults. ``error_rate`` is the share of requests answered 5xx."""

    error_rate: float = 0.0
    latency_ms: float = 0.0
    rules: list[FaultRule] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(1234))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_fault(self, method: str, path: str) -> FaultRule | None:
        """The fault to inject for this request, consuming one scheduled occurrence."""
        with self._lock:
            for rule in self.rules:
                if rule.count > 0 and rule.matches(method, path):
                    rule.count -= 1
                    if rule.count == 0:
                        self.rules.remove(rule)
                    return rule
            if self.error_rate > 0 and self.rng.random() < self.error_rate:
                return FaultRule(status=self.rng.choice((500, 502, 503, 504)))
        return None

    def storm(self, count: int, retry_after: float, path: str | None = None) -> None:
        """The next ``count`` requests answer 429 with ``Retry-After: retry_after``."""
        with self._lock:
            self.rules.append(FaultRule(429, count, retry_after, path))


class Stats:
    """Request counts per ``METHOD /path``, per route shape and per status. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_path: Counter[str] = Counter()
        self.by_route: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.total = 0
        self.started = time.time()

    def record(self, method: str, path: str, route: str, status: int) -> None:
        with self._lock:
            self.total += 1
            self.by_path[f"{method} {path}"] += 1
            self.by_route[f"{method} {route}"] += 1
            self.by_status[status] += 1

    def count(self, path_substring: str = "", method: str | None = None) -> int:
        """Requests whose ``METHOD /path`` contains ``path_substring`` (and method, if given)."""
        with self._lock:
            return sum(
                n
                for k, n in self.by_path.items()
                if path_substring in k and (method is None or k.startswith(method.upper() + " "))
            )

    def reset(self) -> None:
        with self._lock:
            self.by_path.clear()
            self.by_route.clear()
            self.by_status.clear()
            self.total = 0

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            return {
                "total": self.total,
                "by_path": dict(self.by_path),
                "by_route": dict(self.by_route),
                "by_status": {str(k): v for k, v in self.by_status.items()},
            }
