"""Retry policies shared by the connectors (tenacity 9.x, https://tenacity.readthedocs.io/).

One rule for every read: retry only what ``connectors.errors`` classified as
``RateLimited`` (wait what the vendor asked — ``Retry-After`` — capped, plus a little
jitter; exponential when it gave no hint) or ``Transient`` (exponential with jitter).
``Unauthorized``, ``NotFound`` and ``Fatal`` are never retried. Every retry is logged
(``jira.retry attempt=2 delay=4.0 status=429``), the number of attempts is bounded, and
the last error is re-raised. Writes are never retried: a duplicate worklog or comment
is worse than a failed call (use ``no_retry``).

``sleep`` is injectable so tests run on a fake clock.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from connectors.errors import RateLimited, Transient

__all__ = ["read_retry", "no_retry", "parse_retry_after", "is_retryable", "RetryWait"]

_SECONDS = re.compile(r"^\s*\d+(\.\d+)?\s*$")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP-date (RFC 9110 §10.2.3).

    Returns None when absent or unreadable; a date in the past gives 0.0.
    """
    if value is None or not value.strip():
        return None
    if _SECONDS.match(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max(0.0, (when - current).total_seconds())


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, RateLimited | Transient)


class RetryWait(wait_base):
    """Seconds to wait before the next attempt, from the error that ended the last one."""

    def __init__(
        self,
        *,
        initial: float = 1.0,
        max_wait: float = 60.0,
        jitter: float = 0.25,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.max_wait = max_wait
        self.jitter = jitter
        self.rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            # Honour the server: never earlier than Retry-After (unless above the cap).
            return min(exc.retry_after, self.max_wait) + self.rng.uniform(0, self.jitter)
        base = min(self.max_wait, self.initial * 2 ** (retry_state.attempt_number - 1))
        return min(self.max_wait, base + self.rng.uniform(0, base * 0.5))


def _log_retry(logger: logging.Logger, prefix: str) -> Callable[[RetryCallState], None]:
    def before_sleep(retry_state: RetryCallState) -> None:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        logger.warning(
            "%s.retry attempt=%d delay=%.1f status=%s error=%s",
            prefix,
            retry_state.attempt_number + 1,
            delay,
            getattr(exc, "status", None),
            type(exc).__name__,
        )

    return before_sleep


def read_retry(
    logger_name: str,
    *,
    max_attempts: int = 6,
    max_wait: float = 60.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> Retrying:
    """The policy for idempotent reads: ``policy(fn, *args)`` or ``for attempt in policy:``.

    ``logger_name`` names the logger; its last dotted part prefixes the log line
    (``"connectors.jira"`` -> ``jira.retry attempt=2 delay=4.0 status=429``).
    """
    logger = logging.getLogger(logger_name)
    return Retrying(
        stop=stop_after_attempt(max_attempts),
        wait=RetryWait(max_wait=max_wait, rng=rng),
        retry=retry_if_exception(is_retryable),
        sleep=sleep,
        before_sleep=_log_retry(logger, logger_name.rsplit(".", 1)[-1]),
        reraise=True,
    )


def no_retry() -> Retrying:
    """The policy for writes: one attempt, the error re-raised as is."""
    return Retrying(stop=stop_after_attempt(1), reraise=True)
