"""Admin webhook delivery from the sandbox, on a background thread.

Mirrors Jira Cloud's delivery (https://developer.atlassian.com/cloud/jira/platform/webhooks/):
JSON POST signed with ``X-Hub-Signature: sha256=<hex>`` when the webhook has a secret,
``X-Atlassian-Webhook-Identifier`` unique per event and kept across retries,
``X-Atlassian-Webhook-Retry: n`` on retries, retries on 408/409/425/429/5xx and connection
failures with backoff. Duplicate delivery and reordering can be switched on (probabilities)
because Jira documents both as possible.
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from connectors.jira.webhooks import IDENTIFIER_HEADER, RETRY_HEADER, SIGNATURE_HEADER, sign
from sandbox.jira.records import Webhook

if TYPE_CHECKING:
    from sandbox.jira.state import JiraState

__all__ = ["WebhookDispatcher", "Delivery", "RETRY_STATUSES"]

RETRY_STATUSES = frozenset({408, 409, 425, 429}) | frozenset(range(500, 600))


@dataclass
class Delivery:
    identifier: str
    event: str
    body: bytes
    hook: Webhook
    attempt: int = 0  # 0 = first try; n = n-th retry
    log: list[dict[str, Any]] = field(default_factory=list)


class WebhookDispatcher:
    """Queue of deliveries; one worker thread sends them. ``wait_idle`` lets tests wait."""

    def __init__(self, state: JiraState) -> None:
        self._state = state
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._busy = 0
        self._stopped = False
        self._rng = random.Random(state.config.seed)
        self.attempts: list[dict[str, Any]] = []  # every HTTP attempt, in send order
        # Jira delivers in parallel; several senders also keep a slow receiver from
        # stalling everything behind it.
        self._threads = [
            threading.Thread(target=self._run, name=f"jira-sandbox-webhooks-{i}", daemon=True)
            for i in range(max(1, state.config.webhook_concurrency))
        ]
        for t in self._threads:
            t.start()

    # --- producer side ---------------------------------------------------------------

    def enqueue(self, event: str, payload: dict[str, Any], hooks: list[Webhook]) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        now = time.monotonic()
        with self._cond:
            for hook in hooks:
                delivery = Delivery(
                    str(uuid.UUID(int=self._rng.getrandbits(128))), event, body, hook
                )
                heapq.heappush(self._heap, (now, next(self._seq), delivery))
                if self._rng.random() < self._state.config.webhook_duplicate_probability:
                    dup = Delivery(delivery.identifier, event, body, hook)
                    heapq.heappush(self._heap, (now, next(self._seq), dup))
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout=5)

    # --- worker side -------------------------------------------------------------------

    def _next_ready(self) -> Delivery | None:
        """Pop the next due delivery (maybe swapped with the one after it). Holds the lock."""
        while not self._stopped:
            if self._heap:
                due = self._heap[0][0] - time.monotonic()
                if due <= 0:
                    _, _, first = heapq.heappop(self._heap)
                    reorder = self._state.config.webhook_reorder_probability
                    if (
                        self._heap
                        and self._heap[0][0] <= time.monotonic()
                        and self._rng.random() < reorder
                    ):
                        _, _, second = heapq.heappop(self._heap)
                        heapq.heappush(self._heap, (time.monotonic(), next(self._seq), first))
                        first = second
                    self._busy += 1
                    return first
                self._cond.wait(due)
            else:
                self._cond.wait(0.5)
        return None

    def _run(self) -> None:
        with httpx.Client(timeout=self._state.config.webhook_timeout_s) as client:
            while True:
                with self._cond:
                    delivery = self._next_ready()
                if delivery is None:
                    return
                try:
                    self._send(client, delivery)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()

    def _send(self, client: httpx.Client, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian Webhook HTTP Client",
            IDENTIFIER_HEADER: delivery.identifier,
            "X-Atlassian-Webhook-Flow": "Primary",
        }
        if delivery.hook.secret:
            headers[SIGNATURE_HEADER] = sign(delivery.hook.secret, delivery.body)
        if delivery.attempt:
            headers[RETRY_HEADER] = str(delivery.attempt)
        status: int | None = None
        error: str | None = None
        try:
            status = client.post(
                delivery.hook.url, content=delivery.body, headers=headers
            ).status_code
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record = {
            "identifier": delivery.identifier,
            "event": delivery.event,
            "url": delivery.hook.url,
            "webhook_id": delivery.hook.id,
            "attempt": delivery.attempt,
            "status": status,
            "error": error,
            "at": time.time(),
        }
        with self._cond:
            self.attempts.append(record)
        failed = error is not None or (status is not None and status in RETRY_STATUSES)
        if failed and delivery.attempt < self._state.config.webhook_retries:
            backoff = self._state.config.webhook_backoff_s * (2**delivery.attempt)
            retry = Delivery(
                delivery.identifier,
                delivery.event,
                delivery.body,
                delivery.hook,
                delivery.attempt + 1,
            )
            with self._cond:
                heapq.heappush(self._heap, (time.monotonic() + backoff, next(self._seq), retry))
                self._cond.notify_all()
