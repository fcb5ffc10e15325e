"""Delivery of recorded events to endpoints: claim under a lease, sign, POST, record the answer.

How it keeps its promises:

- **At least once, rarely twice.** A delivery is claimed like an inbox event: one UPDATE that sets
  ``processing`` with a lease, picking rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several
  workers take disjoint rows (SQLite has one worker; ``BEGIN IMMEDIATE`` serializes). The answer is
  recorded only while the lease is ours. A worker killed mid-delivery leaves its rows ``processing``;
  when the lease expires another worker sends them again, with the same ``webhook-id`` (the
  event's ``msg_id``), so the receiver can drop the duplicate.
- **One slow or dead endpoint delays no one else.** Deliveries are sent by a thread pool of their
  own (not the inbox's loop), each with a bounded timeout, and the claim takes at most
  ``per_endpoint`` rows in flight per endpoint (counting every worker's unexpired leases): a
  hanging endpoint holds at most that many threads, the rest serve the others.
- **Retries over about a day**, Standard Webhooks' suggested schedule with ±20 % jitter:
  after the first attempt 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts in all,
  ~27 h); then the delivery is ``failed`` (listed in the log, redeliverable for 30 days).
- **Health like a source's.** A success makes the endpoint ``ok``; a failure makes it ``failing``
  (since the first failure after the last success); failing for ``DISABLE_AFTER`` (5 days) with no
  success, or one ``410 Gone``, disables it (``enabled`` false, health ``disabled``, the reason).
- **The outbound guard** checks the address at connect time (``connectors.outbound``); redirects
  are not followed (a 3xx is a failure).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook

from connectors.outbound import guard_session, origin_of
from service.db import Database
from service.events.endpoints import aware, signing_secrets
from service.outage import is_database_unavailable
from service.settings import Settings
from service.tables import Event, EventDelivery, WebhookEndpoint, table, utcnow

__all__ = ["DISABLE_AFTER", "RETRY_SCHEDULE", "DeliveryConfig", "DeliveryLoop", "claim", "deliver", "sign"]

log = logging.getLogger("taskhub.events")
EV, DL, EP = table(Event), table(EventDelivery), table(WebhookEndpoint)

# Seconds to wait after attempt n (1-based) failed; an attempt after the last entry is the last one.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
DISABLE_AFTER = timedelta(days=5)
BODY_LIMIT = 1024
SUCCESS_PRECISION = timedelta(seconds=10)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeliveryConfig:
    threads: int = 16
    per_endpoint: int = 4  # rows in flight per endpoint, over all workers
    timeout: float = 10.0  # seconds, connect and read
    lease_seconds: float = 60.0  # longer than a send can take (timeout, plus recording)
    poll_interval: float = 0.1  # idle wait between claims


@dataclass(frozen=True)
class Claimed:
    id: int
    event_id: int
    endpoint_id: int
    attempts: int
    msg_id: str
    payload: dict[str, object]
    url: str
    secret_enc: str
    secret_prev_enc: str | None
    secret_prev_until: datetime | None


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status code and body, or an error (no answer)."""

    code: int | None
    body: str | None
    error: str | None
    latency_ms: int


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones (None: that was the last)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_SCHEDULE[attempts - 1] * random.uniform(0.8, 1.2)


def claim(db: Database, worker_id: str, *, limit: int, config: DeliveryConfig, now: datetime) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of enabled endpoints, at most ``config.per_endpoint`` in
    flight per endpoint, under a lease; due means pending and its time has come, or processing
    with an expired lease (a crashed worker's)."""
    if limit <= 0:
        return []
    live = sa.and_(DL.c.status == "processing", DL.c.lease_expires_at >= now)
    in_flight = (sa.select(DL.c.endpoint_id, sa.func.count().label("n")).where(live)
                 .group_by(DL.c.endpoint_id).subquery())
    due = sa.or_(sa.and_(DL.c.status == "pending", DL.c.next_attempt_at <= now),
                 sa.and_(DL.c.status == "processing", DL.c.lease_expires_at < now))
    ranked = (
        sa.select(DL.c.id, DL.c.endpoint_id, sa.func.row_number().over(
            partition_by=DL.c.endpoint_id, order_by=(DL.c.next_attempt_at, DL.c.id)).label("rn"))
        .join(EP, EP.c.id == DL.c.endpoint_id)
        .where(due, EP.c.enabled.is_(True))
        .subquery()
    )
    candidates = (
        sa.select(ranked.c.id)
        .outerjoin(in_flight, in_flight.c.endpoint_id == ranked.c.endpoint_id)
        .where(ranked.c.rn <= config.per_endpoint - sa.func.coalesce(in_flight.c.n, 0))
        .order_by(ranked.c.id).limit(limit)
    )
    # The window cannot be locked (PostgreSQL: no FOR UPDATE with window functions): lock the
    # candidates it named, skipping those another worker holds, checking they are still due.
    pick = sa.select(DL.c.id).where(DL.c.id.in_(candidates.scalar_subquery()), due)
    if db.dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        sa.update(DL).where(DL.c.id.in_(pick.scalar_subquery()))
        .values(status="processing", lease_owner=worker_id, attempts=DL.c.attempts + 1,
                lease_expires_at=now + timedelta(seconds=config.lease_seconds), last_attempt_at=now)
        .returning(DL.c.id, DL.c.event_id, DL.c.endpoint_id, DL.c.attempts)
    )
    with db.write() as conn:
        rows = conn.execute(stmt).all()
        if not rows:
            return []
        info = {r.id: r for r in conn.execute(
            sa.select(DL.c.id, EV.c.msg_id, EV.c.payload, EP.c.url, EP.c.secret_enc, EP.c.secret_prev_enc,
                      EP.c.secret_prev_until)
            .join(EV, EV.c.id == DL.c.event_id).join(EP, EP.c.id == DL.c.endpoint_id)
            .where(DL.c.id.in_([r.id for r in rows]))
        )}
    return sorted((Claimed(r.id, r.event_id, r.endpoint_id, r.attempts, info[r.id].msg_id, info[r.id].payload,
                           info[r.id].url, info[r.id].secret_enc, info[r.id].secret_prev_enc,
                           info[r.id].secret_prev_until) for r in rows), key=lambda c: c.id)


def body_bytes(payload: dict[str, object]) -> bytes:
    """The exact bytes sent and signed (compact JSON)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(secrets: list[str], msg_id: str, sent_at: datetime, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers; one signature per secret, space-separated."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, sent_at, body) for s in secrets),
    }


class Sender:
    """POSTs through the outbound guard, one ``requests`` session per origin and thread (keep-alive)."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout
        self._local = threading.local()

    def _session(self, url: str) -> requests.Session:
        sessions: dict[tuple[str, str, int], requests.Session] = self._local.__dict__.setdefault("sessions", {})
        key = origin_of(url)
        if key not in sessions:
            s = requests.Session()
            guard_session(s, url, self.settings.outbound_policy)
            sessions[key] = s
        return sessions[key]

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        try:
            with self._session(url).post(url, data=body, timeout=self.timeout, allow_redirects=False, stream=True,
                                         headers={**headers, "content-type": "application/json",
                                                  "user-agent": "taskhub-webhooks/1"}) as r:
                raw = r.raw.read(BODY_LIMIT, decode_content=True) or b""
                return Answer(r.status_code, raw.decode("utf-8", "replace"), None, _ms(started))
        except Exception as exc:  # noqa: BLE001 - any failure to get an answer is this attempt's result
            return Answer(None, None, f"{type(exc).__name__}: {exc}"[:1000], _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def deliver(db: Database, settings: Settings, sender: Sender, worker_id: str, item: Claimed, clock: Clock) -> str:
    """Sign and send one claimed delivery and record the answer; its new status."""
    sent_at = utcnow()  # the signature's time is the wall clock the receiver compares with
    secrets = signing_secrets(settings, item.secret_enc, item.secret_prev_enc, item.secret_prev_until, sent_at)
    body = body_bytes(item.payload)
    answer = sender.post(item.url, body, sign(secrets, item.msg_id, sent_at, body))
    return record(db, worker_id, item, answer, clock())


def record(db: Database, worker_id: str, item: Claimed, answer: Answer, now: datetime) -> str:
    """Write the attempt's result and the endpoint's health, if the lease is still ours."""
    ok = answer.code is not None and 200 <= answer.code < 300
    gone = answer.code == 410
    delay = None if ok or gone else retry_delay(item.attempts)
    status = "delivered" if ok else "failed" if gone or delay is None else "pending"
    values: dict[str, object] = {
        "status": status, "response_code": answer.code, "latency_ms": answer.latency_ms,
        "response_body": answer.body, "error": answer.error if answer.error else None if ok else f"HTTP {answer.code}",
        "lease_owner": None, "lease_expires_at": None,
        "delivered_at": now if ok else None,
        "next_attempt_at": now + timedelta(seconds=delay) if delay is not None else now,
    }
    with db.write() as conn:
        mine = conn.execute(sa.update(DL).where(DL.c.id == item.id, DL.c.lease_owner == worker_id,
                                                DL.c.status == "processing").values(**values)).rowcount
        if not mine:
            log.warning("events.lease_lost delivery=%s", item.id)
            return "lost"
        _health(conn, item.endpoint_id, ok=ok, gone=gone, now=now)
    if not ok:
        log.info("events.attempt_failed delivery=%s endpoint=%s attempts=%s status=%s code=%s error=%s", item.id,
                 item.endpoint_id, item.attempts, status, answer.code, (answer.error or "")[:200])
    return status


def _health(conn: sa.Connection, endpoint_id: int, *, ok: bool, gone: bool, now: datetime) -> None:
    """The endpoint's health after one answer (see the module's docstring)."""
    if ok:
        # Not on every success: hundreds a second would queue on the endpoint's row. Only a change
        # of health, or a ``last_success_at`` older than SUCCESS_PRECISION.
        fresh = sa.and_(EP.c.health == "ok", EP.c.failing_since.is_(None), EP.c.last_success_at.is_not(None),
                        EP.c.last_success_at >= now - SUCCESS_PRECISION)
        conn.execute(sa.update(EP).where(EP.c.id == endpoint_id, sa.not_(fresh)).values(
            last_success_at=now, failing_since=None,
            health=sa.case((EP.c.enabled.is_(True), "ok"), else_=EP.c.health),
            health_reason=sa.case((EP.c.enabled.is_(True), None), else_=EP.c.health_reason)))
        return
    if gone:
        _disable(conn, endpoint_id, now, "the endpoint answered 410 Gone")
        return
    ep = conn.execute(sa.select(EP.c.failing_since, EP.c.enabled).where(EP.c.id == endpoint_id)).one_or_none()
    if ep is None or not ep.enabled:
        return
    since = aware(ep.failing_since) or now
    if now - since >= DISABLE_AFTER:
        _disable(conn, endpoint_id, now, f"no successful delivery since {since.isoformat()}")
        return
    conn.execute(sa.update(EP).where(EP.c.id == endpoint_id).values(
        health="failing", failing_since=since, health_reason="the last delivery failed"))


def _disable(conn: sa.Connection, endpoint_id: int, now: datetime, reason: str) -> None:
    conn.execute(sa.update(EP).where(EP.c.id == endpoint_id).values(
        enabled=False, health="disabled", health_reason=reason, updated_at=now))
    log.warning("events.endpoint_disabled endpoint=%s reason=%s", endpoint_id, reason)


class DeliveryLoop:
    """A thread that claims due deliveries as threads of its pool free up, and sends them there."""

    def __init__(self, db: Database, settings: Settings, worker_id: str, stop_event: threading.Event, *,
                 config: DeliveryConfig | None = None, clock: Clock = utcnow) -> None:
        self.db, self.settings, self.worker_id, self.stop_event = db, settings, worker_id, stop_event
        self.config = config or DeliveryConfig()
        self.clock = clock
        self.sender = Sender(settings, self.config.timeout)
        self._busy = 0
        self._lock = threading.Lock()
        self._freed = threading.Event()  # a pool thread finished: claim again without waiting
        self.sent = 0

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Claim what the free threads can take and send it (in ``pool``, or here when None)."""
        with self._lock:
            free = self.config.threads - self._busy
        items = claim(self.db, self.worker_id, limit=free, config=self.config, now=self.clock())
        for item in items:
            if pool is None:
                self._send(item)
                continue
            with self._lock:
                self._busy += 1
            pool.submit(self._send_counted, item)
        return len(items)

    def _send(self, item: Claimed) -> None:
        try:
            deliver(self.db, self.settings, self.sender, self.worker_id, item, self.clock)
            self.sent += 1
        except Exception:  # noqa: BLE001 - the lease expires and another attempt follows
            log.exception("events.deliver_error delivery=%s", item.id)

    def _send_counted(self, item: Claimed) -> None:
        try:
            self._send(item)
        finally:
            with self._lock:
                self._busy -= 1
            self._freed.set()

    def run(self) -> None:
        with ThreadPoolExecutor(self.config.threads, thread_name_prefix="taskhub-deliver") as pool:
            backoff = 0.0
            while not self.stop_event.is_set():
                try:
                    n = self.run_once(pool)
                    backoff = 0.0
                except Exception as exc:  # noqa: BLE001 - a database blip must not end deliveries
                    # An outage is logged once by the worker's monitor; here only waited out.
                    if not is_database_unavailable(exc):
                        log.exception("events.claim_error")
                    backoff = min(max(backoff * 2, 0.5), 5.0)
                    self.stop_event.wait(backoff)
                    continue
                if n == 0:
                    self._freed.wait(self.config.poll_interval)
                    self._freed.clear()

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name=f"taskhub-deliveries-{self.worker_id}", daemon=True)
        t.start()
        return t
