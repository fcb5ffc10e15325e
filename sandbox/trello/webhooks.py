"""Webhook deliveries: signed POSTs to registered callbacks from a background worker.

Trello POSTs ``{"action": …, "model": …, "webhook": …}`` to every webhook watching
the changed model (board, list or card), with header ``X-Trello-Webhook`` =
base64(HMAC-SHA1(app secret, raw body + callbackURL)), the secret of the application
whose API key created the webhook (``TrelloState.apps``). A failed delivery is
retried (Trello: 3 retries at 30/60/120 s; here a short configurable backoff), and
``consecutiveFailures``/``firstConsecutiveFailDate`` are kept on the webhook; a
success resets them. The sandbox can also send duplicates and reorder deliveries
(``duplicate_probability``, ``reorder_probability``), as real webhooks may.
Reference: https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from sandbox.trello.records import Action, Webhook
from sandbox.trello.serialize import (
    BOARD_DEFAULT_FIELDS,
    action_json,
    board_json,
    card_json,
    list_json,
    select_fields,
    webhook_json,
)
from sandbox.trello.state import TrelloState

__all__ = ["WebhookDelivery", "signature", "head_check"]


def signature(secret: str, body: bytes, callback_url: str) -> str:
    """Trello's ``X-Trello-Webhook`` value for ``body`` sent to ``callback_url``."""
    digest = hmac.new(secret.encode(), body + callback_url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def head_check(url: str, timeout: float) -> str | None:
    """Trello's creation probe: HEAD the callback; None when it answered 200, else the reason."""
    try:
        response = httpx.head(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        return f"URL ({url}) did not return 200 status code: {exc.__class__.__name__}"
    if response.status_code != 200:
        return f"URL ({url}) did not return 200 status code, got {response.status_code}"
    return None


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    webhook_id: str = field(compare=False)
    callback_url: str = field(compare=False)
    body: bytes = field(compare=False)
    action_id: str = field(compare=False)
    attempt: int = field(default=0, compare=False)


class WebhookDelivery:
    """One worker thread draining a time-ordered queue of deliveries (started lazily)."""

    def __init__(self, state: TrelloState) -> None:
        self._state = state
        self._cond = threading.Condition()
        self._heap: list[_Job] = []
        self._busy = 0
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(follow_redirects=False)
        self.log: deque[dict[str, Any]] = deque(maxlen=10_000)

    # -- producing --------------------------------------------------------------------
    def fan_out(self, action: Action) -> None:
        """Queue one delivery per active webhook watching a model this action touches.

        Called with ``state.lock`` held, so the ``model`` is the state right after the action.
        """
        state = self._state
        models = {action.board["id"]}
        if action.id_card:
            models.add(action.id_card)
        for ref in (action.list, action.list_before, action.list_after):
            if ref:
                models.add(ref["id"])
        for hook in list(state.webhooks.values()):
            if hook.active and hook.id_model in models:
                self._queue(hook, self._payload(hook, action), action.id)

    def _payload(self, hook: Webhook, action: Action) -> bytes:
        state = self._state
        model: dict[str, Any] = {}
        if hook.id_model in state.boards:
            model = select_fields(
                board_json(state, state.boards[hook.id_model]), None, BOARD_DEFAULT_FIELDS
            )
        elif hook.id_model in state.cards:
            model = card_json(state, state.cards[hook.id_model])
        elif hook.id_model in state.lists:
            model = list_json(state.lists[hook.id_model])
        payload = {
            "model": model,
            "action": action_json(state, action, display=True),
            "webhook": webhook_json(hook),
        }
        return orjson.dumps(payload)

    def _queue(self, hook: Webhook, body: bytes, action_id: str) -> None:
        cfg = self._state.config
        now = time.monotonic()
        delay = (
            cfg.reorder_hold_seconds if self._state.rng.random() < cfg.reorder_probability else 0.0
        )
        copies = 2 if self._state.rng.random() < cfg.duplicate_probability else 1
        with self._cond:
            for _ in range(copies):
                heapq.heappush(
                    self._heap,
                    _Job(now + delay, next(self._seq), hook.id, hook.callback_url, body, action_id),
                )
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="trello-sandbox-webhooks", daemon=True
            )
            self._thread.start()

    # -- consuming --------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and (
                    not self._heap or self._heap[0].due > time.monotonic()
                ):
                    wait = self._heap[0].due - time.monotonic() if self._heap else None
                    self._cond.wait(timeout=wait)
                if self._stopping:
                    return
                job = heapq.heappop(self._heap)
                self._busy += 1
            try:
                self._attempt(job)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, job: _Job) -> None:
        state = self._state
        with state.lock:
            hook = state.webhooks.get(job.webhook_id)
            if hook is None or not hook.active:
                return
            secret, cfg = state.secret_for(hook.api_key), state.config
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Trello-Sandbox-Webhooks",
            "X-Trello-Webhook": signature(secret, job.body, job.callback_url),
        }
        status: int | None = None
        try:
            response = self._client.post(
                job.callback_url, content=job.body, headers=headers, timeout=cfg.delivery_timeout
            )
            status = response.status_code
        except httpx.HTTPError:
            status = None
        ok = status is not None and 200 <= status < 300
        self.log.append(
            {
                "webhook": job.webhook_id,
                "action": job.action_id,
                "attempt": job.attempt,
                "status": status,
                "ok": ok,
            }
        )
        with state.lock:
            hook = state.webhooks.get(job.webhook_id)
            if hook is not None:
                if ok:
                    hook.consecutive_failures = 0
                    hook.first_consecutive_fail_date = None
                else:
                    hook.consecutive_failures += 1
                    hook.first_consecutive_fail_date = (
                        hook.first_consecutive_fail_date or state.now_iso()
                    )
        if not ok and job.attempt < len(cfg.retry_backoff):
            with self._cond:
                job.due = time.monotonic() + float(cfg.retry_backoff[job.attempt])
                job.attempt += 1
                job.seq = next(self._seq)
                heapq.heappush(self._heap, job)
                self._cond.notify_all()

    # -- control ----------------------------------------------------------------------
    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._heap or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(timeout=remaining)
            return True

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()
