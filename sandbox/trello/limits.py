"""Trello's request limits and the sandbox's fault injection.

Trello allows 300 requests / 10 s per API key and 100 / 10 s per token; over that it
answers 429 with ``{"error": "API_TOKEN_LIMIT_EXCEEDED"|"API_KEY_LIMIT_EXCEEDED",
"message": "Rate limit exceeded"}`` and **no** ``Retry-After`` header. More than 200
429s for one key within a window shut the key for the rest of that window.
Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/rate-limits/
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.trello.state import SandboxConfig, TrelloState

__all__ = ["WindowCounter", "RateLimits", "rate_limit_body", "pick_fault"]


def rate_limit_body(error: str) -> dict[str, str]:
    return {"error": error, "message": "Rate limit exceeded"}


class WindowCounter:
    """Counts hits per identity in a sliding (timestamps) or fixed (aligned buckets) window."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._fixed: dict[str, tuple[int, int]] = {}

    def would_exceed(self, ident: str, now: float, limit: int, window: float, mode: str) -> bool:
        if mode == "fixed":
            slot, count = self._fixed.get(ident, (-1, 0))
            return slot == math.floor(now / window) and count >= limit
        hits = self._hits.get(ident)
        if hits is None:
            return limit <= 0
        while hits and hits[0] <= now - window:
            hits.popleft()
        return len(hits) >= limit

    def add(self, ident: str, now: float, window: float, mode: str) -> None:
        if mode == "fixed":
            current = math.floor(now / window)
            slot, count = self._fixed.get(ident, (-1, 0))
            self._fixed[ident] = (current, count + 1 if slot == current else 1)
        else:
            self._hits.setdefault(ident, deque()).append(now)

    def count(self, ident: str, now: float, window: float, mode: str) -> int:
        if mode == "fixed":
            slot, count = self._fixed.get(ident, (-1, 0))
            return count if slot == math.floor(now / window) else 0
        hits = self._hits.get(ident, deque())
        return sum(1 for t in hits if t > now - window)

    def clear(self) -> None:
        self._hits.clear()
        self._fixed.clear()


class RateLimits:
    """The per-token and per-key windows of one sandbox, plus the per-key 429 penalty."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = WindowCounter()
        self._keys = WindowCounter()
        self._rejections = WindowCounter()
        self._shut_until: dict[str, float] = {}

    def check(self, key: str, token: str, now: float, cfg: SandboxConfig) -> str | None:
        """Record one request; return the 429 error code, or None when it may proceed."""
        window, mode = cfg.window_seconds, cfg.window_mode
        with self._lock:
            if self._shut_until.get(key, 0.0) > now:
                return "API_KEY_LIMIT_EXCEEDED"
            error = None
            if self._tokens.would_exceed(token, now, cfg.token_limit, window, mode):
                error = "API_TOKEN_LIMIT_EXCEEDED"
            elif self._keys.would_exceed(key, now, cfg.key_limit, window, mode):
                error = "API_KEY_LIMIT_EXCEEDED"
            if error is None:
                self._tokens.add(token, now, window, mode)
                self._keys.add(key, now, window, mode)
                return None
            # Trello: "if the amount of 429 errors per API key exceeds 200, Trello will
            # return 429 for the remainder of the API key requests for the remainder of
            # the 10 second window" — retrying blindly makes things worse.
            self._rejections.add(key, now, window, mode)
            if self._rejections.count(key, now, window, mode) > cfg.key_penalty_threshold:
                end = (math.floor(now / window) + 1) * window if mode == "fixed" else now + window
                self._shut_until[key] = end
            return error

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._keys.clear()
            self._rejections.clear()
            self._shut_until.clear()


def pick_fault(state: TrelloState) -> tuple[int, object] | None:
    """An injected failure for this request (429 storm first, then the 5xx share), or None."""
    cfg = state.config
    with state.lock:
        if cfg.storm_remaining > 0:
            cfg.storm_remaining -= 1
            return 429, rate_limit_body(cfg.storm_error)
        if cfg.fault_5xx_share > 0 and state.rng.random() < cfg.fault_5xx_share:
            status = state.rng.choice((500, 502, 503))
            return status, "An unexpected error occurred."
    return None
