"""The sandbox's whole world: boards, cards, actions, webhooks, config and counters.

One ``TrelloState`` per simulated Trello. Every read and write holds ``state.lock``
(an ``RLock``), so the HTTP threads, the control API and the webhook worker can
share it. The clock is injectable (ids, action dates and rate-limit windows all
read ``state.now()``), which lets tests move time without sleeping.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sandbox.trello.ids import IdFactory, iso
from sandbox.trello.limits import RateLimits
from sandbox.trello.records import (
    Action,
    Board,
    Card,
    CheckItem,
    Checklist,
    CustomField,
    Label,
    Member,
    TList,
    Webhook,
)

if TYPE_CHECKING:
    from sandbox.trello.webhooks import WebhookDelivery

__all__ = ["SandboxConfig", "Stats", "TrelloState"]


@dataclass
class SandboxConfig:
    """Knobs of the simulation, settable via ``PUT /_sandbox/config``."""

    limits_enabled: bool = True
    token_limit: int = 100  # requests per window per token (Trello: 100 / 10 s)
    key_limit: int = 300  # requests per window per API key (Trello: 300 / 10 s)
    window_seconds: float = 10.0
    window_mode: str = "sliding"  # sliding | fixed
    key_penalty_threshold: int = 200  # 429s per key per window after which the key is shut
    storm_remaining: int = 0  # the next N API requests answer 429
    storm_error: str = "API_TOKEN_LIMIT_EXCEEDED"
    fault_5xx_share: float = 0.0  # share of API requests answered with a 5xx
    duplicate_probability: float = 0.0  # a webhook delivery is sent twice
    reorder_probability: float = 0.0  # a webhook delivery is held back behind the next one
    reorder_hold_seconds: float = 0.05
    retry_backoff: list[float] = field(default_factory=lambda: [0.05, 0.1, 0.2])
    delivery_timeout: float = 5.0
    head_timeout: float = 5.0

    def update(self, values: dict[str, Any]) -> None:
        known = asdict(self)
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(unknown)}; known: {sorted(known)}")
        coerced: dict[str, Any] = {}
        for key, value in values.items():
            kind = type(known[key])
            try:
                if kind is list:
                    coerced[key] = [float(v) for v in value]
                elif kind is bool:
                    if not isinstance(value, bool):
                        raise TypeError
                    coerced[key] = value
                else:
                    coerced[key] = kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"config {key} must be a {kind.__name__}, got {value!r}") from None
        for key, value in coerced.items():
            setattr(self, key, value)


class Stats:
    """Request counters per route template and status, for ``GET /_sandbox/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.by_path: Counter[str] = Counter()

    def record(self, route: str, path: str, status: int) -> None:
        with self._lock:
            self.total += 1
            self.by_route[route] += 1
            self.by_path[path] += 1
            self.by_status[str(status)] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_route": dict(self.by_route),
                "by_status": dict(self.by_status),
                "by_path": dict(self.by_path),
            }


class TrelloState:
    """All objects of one simulated Trello, plus auth, config, counters and deliveries."""

    def __init__(
        self,
        *,
        api_key: str = "sandbox-key",
        token: str = "sandbox-token",  # noqa: S107 - the sandbox's fixed test credential
        app_secret: str = "sandbox-app-secret",  # noqa: S107 - ditto
        seed: int = 0,
        clock: Callable[[], float] = time.time,
        username: str = "sandboxuser",
        full_name: str = "Sandbox User",
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.ids = IdFactory(seed)
        self.rng = random.Random(seed)
        self.config = SandboxConfig()
        self.stats = Stats()
        self.rate_limits = RateLimits()
        self.api_key = api_key  # the default application's key (the one the fixtures use)
        # API key -> that application's secret: Trello signs a webhook's deliveries with the
        # secret of the application whose key created the webhook (VENDOR_FACTS B8).
        self.apps: dict[str, str] = {api_key: app_secret}
        self.id_organization = self.ids.new(self.now())
        self.members: dict[str, Member] = {}
        self.tokens: dict[str, str] = {}  # token -> member id
        self.boards: dict[str, Board] = {}
        self.lists: dict[str, TList] = {}
        self.cards: dict[str, Card] = {}
        self.labels: dict[str, Label] = {}
        self.custom_fields: dict[str, CustomField] = {}
        self.checklists: dict[str, Checklist] = {}
        self.check_items: dict[str, tuple[Checklist, CheckItem]] = {}
        self.actions: dict[str, Action] = {}
        self.webhooks: dict[str, Webhook] = {}
        self._delivery: WebhookDelivery | None = None
        me = self.add_member(username, full_name, email=f"{username}@example.test")
        self.me_id = me.id
        self.tokens[token] = me.id

    @property
    def app_secret(self) -> str:
        """The default application's secret."""
        return self.apps[self.api_key]

    @app_secret.setter
    def app_secret(self, secret: str) -> None:
        self.apps[self.api_key] = secret

    def set_app(self, api_key: str, app_secret: str) -> None:
        """Accept ``api_key`` (another application, or a new secret for one we know)."""
        with self.lock:
            self.apps[api_key] = app_secret

    def secret_for(self, api_key: str) -> str:
        """The secret of the application owning ``api_key`` (the default one for an unknown key)."""
        return self.apps.get(api_key, self.app_secret)

    # -- time -------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock()

    def now_iso(self) -> str:
        return iso(self.now())

    # -- members and tokens -----------------------------------------------------------
    def add_member(
        self, username: str, full_name: str, *, email: str | None = None, ts: float | None = None
    ) -> Member:
        with self.lock:
            member = Member(
                self.ids.new(self.now() if ts is None else ts), username, full_name, email
            )
            self.members[member.id] = member
            return member

    def add_token(self, token: str, member_id: str | None = None) -> None:
        """Accept another token (for the member ``member_id``, default the sandbox user)."""
        with self.lock:
            self.tokens[token] = member_id or self.me_id

    # -- lookups ----------------------------------------------------------------------
    def board(self, board_id: str) -> Board | None:
        return self.boards.get(board_id)

    def card(self, card_id: str) -> Card | None:
        return self.cards.get(card_id)

    def board_for_model(self, model_id: str) -> Board | None:
        """The board a webhook model (board, list or card id) lives on."""
        if model_id in self.boards:
            return self.boards[model_id]
        if model_id in self.lists:
            return self.boards.get(self.lists[model_id].id_board)
        if model_id in self.cards:
            return self.boards.get(self.cards[model_id].id_board)
        return None

    # -- actions ----------------------------------------------------------------------
    def record_action(self, board: Board, action: Action) -> Action:
        """Append ``action`` to the board's log (kept sorted by id) and fan it out to webhooks."""
        with self.lock:
            log = board.actions
            if not log or log[-1].id < action.id:
                log.append(action)
            else:  # a backdated action (generator history, or an injected clock going back)
                bisect.insort(log, action, key=lambda a: a.id)
            self.actions[action.id] = action
            if self.webhooks:
                self.delivery().fan_out(action)
            return action

    # -- webhook deliveries -----------------------------------------------------------
    def delivery(self) -> WebhookDelivery:
        with self.lock:
            if self._delivery is None:
                from sandbox.trello.webhooks import WebhookDelivery

                self._delivery = WebhookDelivery(self)
            return self._delivery

    def wait_deliveries(self, timeout: float = 5.0) -> bool:
        """Block until every queued webhook delivery (and its retries) is done; False on timeout."""
        return self.delivery().wait_idle(timeout)

    def close(self) -> None:
        """Stop the delivery worker (if it was started)."""
        with self.lock:
            delivery, self._delivery = self._delivery, None
        if delivery is not None:
            delivery.stop()
