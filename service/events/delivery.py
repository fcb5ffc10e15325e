"""Delivery of recorded events to endpoints: claim under a lease, sign, POST, record the answer.

How it keeps its promises:

- **At least once, rarely twice.** A delivery is claimed like an inbox event: one UPDATE that sets
  ``processing`` with a lease, picking rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several
  workers take disjoint rows (SQLite has one worker; ``BEGIN IMMEDIATE`` serializes). The answer is
  recorded only while the lease is ours. A worker killed mid-delivery leaves its rows ``processing``;
  when the lease expires another worker sends them again, with the same ``webhook-id`` (the
  event's ``msg_id``), so the receiver can drop the duplicate.
- **One slow or dead endpoint delays no one else.** Deliveries are sent by a thread pool of their
  own (not the inbox's loop), each bounded by a timeout for the whole attempt (not only each
  socket read: a receiver trickling its answer outlived its lease and took thread after thread,
  ``_Deadlines``), and a worker's claim takes at most
  ``per_endpoint`` rows in flight per endpoint (16 of its 32 threads; the loop counts what it
  holds, in memory): a hanging endpoint holds at most that many of each worker's threads, the
  rest serve the others. (Counted over all workers from the unexpired leases, each claim read
  the status index's dead entries — two per delivery until a vacuum — and at 600 deliveries a
  second the count, not the sending, set the pace: p95 21–35 s against 178–260 ms without it.)
- **A failing endpoint is throttled, not paused** (a circuit breaker's half-open state, kept
  while it fails): while its health is ``failing`` (from its first failure to its next success,
  see below) a worker keeps only ``per_failing_endpoint`` (2) of its deliveries in flight, and a
  failed answer keeps its slot ``failed_pause`` (1 s) after it came back, so a failing endpoint
  gets at most 2 attempts a second from each worker (a 500 answered at once got ~150); the
  first success restores ``per_endpoint`` at once. Its other due rows wait ``pending``: waiting is not
  an attempt (``attempts`` counts sends, the schedule's times are the earliest a retry goes),
  and they go as its slots free up (what an admin asked for first, see below, then oldest due
  first); nothing is dropped, and the health and
  disabling rules are unchanged. Each claim shares the free threads one delivery per endpoint
  and round, in random order, so a backlog (a failing endpoint's retries) is never served
  before a healthy endpoint's new rows. (A hanging endpoint held 16 of each worker's 32 threads
  for 10 s each and a 500 one took its share of every claim, ~400 attempts a second with the
  5 s retries; at 200 changes/s, ``bench/events.py``'s healthy endpoint beside them had p95
  0.9–3.8 s against 74–113 ms beside two healthy ones; now 27 ms against 26 ms, and 26 ms alone.)
- **What an admin asks for goes first.** A test event and a redelivery (of one event or a time
  range) are ``requested`` rows: a claim takes an endpoint's requested due rows before its other
  due rows, each kind oldest due first, on every attempt until the row is delivered or failed.
  On a failing endpoint (2 in flight per worker) a test event waited behind the whole backlog,
  exactly when an admin was testing their receiver's fix; now it takes the endpoint's next free
  slot, and its success lifts the throttle at once (the health rule above). Nothing in the log
  is invented: the row's due time stays when it was queued. The two kinds are two ranges of the
  due index (endpoint, status, requested, next attempt), each ending at its first row not yet
  due; between endpoints nothing changes (the round-robin below shares the threads).
- **Retries over about a day**, Standard Webhooks' suggested schedule with ±20 % jitter:
  after the first attempt 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (eight attempts in all,
  ~27 h); then the delivery is ``failed`` (listed in the log, redeliverable for 30 days).
- **Health like a source's.** A success makes the endpoint ``ok``; a failure makes it ``failing``
  (since the first failure after the last success); failing for ``DISABLE_AFTER`` (5 days) with no
  success, or one ``410 Gone``, disables it (``enabled`` false, health ``disabled``, the reason).
  The row is written on a change of health only (and ``last_success_at`` every
  ``SUCCESS_PRECISION``): rewritten by every batch of failures, each worker's cycle queued on its
  lock behind the others' (0.09–0.38 backends waiting in ``bench/events.py``'s bad part). A loop
  skips the successes of an endpoint it wrote "ok" for moments ago only for rows claimed while it
  was ``ok``: another worker's failure since is seen by the next claim, not 10 s later.
- **One transaction per cycle of the loop** (``cycle``): the answers that came back are recorded,
  then free threads' worth of deliveries claimed, with one commit; on PostgreSQL each of the two
  is one statement built once, on a connection the loop keeps. (Two-step claims and a
  transaction per step cost ~14 round trips and ~0.6 ms of the worker's CPU per delivery; now 4
  and ~0.13 ms.) A queue table's status index fills with dead entries (two per delivery) until
  a vacuum, so the claim reads it only through plain per-endpoint index scans, which mark what
  they find dead, and the answers are found by primary key.
- **Polling.** A loop with nothing in flight claims every ``poll_interval`` (100 ms); within
  ``BUSY_FOR`` (1 s) of a claim that took some, every ``busy_poll_interval`` (20 ms), and an
  answer wakes it sooner; woken, it waits up to ``GATHER`` (20 ms) for the rest of the last
  claim's sends, not for older ones (a hanging endpoint's). At 200 changes/s the 100 ms wait set
  the healthy endpoint's p95 (~95 ms alone) and made it depend on its neighbours' answers waking
  the loop (40 ms beside a quick 500); now 26 ms alone, ~30–60 ms beside others either way.
- **The outbound guard** checks the address at connect time (``OutboundPolicy.connect``, bound to
  ``http.client`` here); redirects are not followed (a 3xx is a failure), no proxy is used.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import queue
import random
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from standardwebhooks.webhooks import Webhook

from connectors.outbound import OutboundPolicy, origin_of
from service.db import Database, retryable
from service.events.endpoints import REDELIVERY_DAYS, aware, signing_secrets
from service.json_rows import json_rows
from service.outage import is_database_unavailable
from service.settings import Settings
from service.tables import Event, EventDelivery, WebhookEndpoint, table, utcnow

__all__ = ["DISABLE_AFTER", "RETRY_SCHEDULE", "DeliveryConfig", "DeliveryLoop", "attempt", "claim", "deliver", "prune",
           "record", "sign", "succeeded"]

log = logging.getLogger("taskhub.events")
EV, DL, EP = table(Event), table(EventDelivery), table(WebhookEndpoint)

# Seconds to wait after attempt n (1-based) failed; an attempt after the last entry is the last one.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
DISABLE_AFTER = timedelta(days=5)
BODY_LIMIT = 1024
SUCCESS_PRECISION = timedelta(seconds=10)
_OK_SECONDS = SUCCESS_PRECISION.total_seconds()
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeliveryConfig:
    threads: int = 32
    per_endpoint: int = 16  # rows in flight per endpoint, in one worker
    per_failing_endpoint: int = 2  # the same while the endpoint's health is "failing"
    failed_pause: float = 1.0  # seconds a failed answer's slot stays taken after it is recorded
    timeout: float = 10.0  # seconds, one attempt in all (connect, send, the answer): ``Sender``
    lease_seconds: float = 60.0  # longer than a send can take (timeout, plus recording)
    poll_interval: float = 0.1  # idle wait between claims
    busy_poll_interval: float = 0.02  # the same within ``BUSY_FOR`` seconds of a claim that took some


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
    # The endpoint's health when the row was claimed: a success of a row claimed while it was not
    # "ok" is written (``_health``) whatever this loop remembers having written.
    health: str = "ok"


@dataclass(frozen=True)
class Answer:
    """What one attempt got: a status code and body, or an error (no answer)."""

    code: int | None
    body: str | None
    error: str | None
    latency_ms: int


def succeeded(answer: Answer) -> bool:
    """A 2xx answer."""
    return answer.code is not None and 200 <= answer.code < 300


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones (None: that was the last)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_SCHEDULE[attempts - 1] * random.uniform(0.8, 1.2)


def _in_flight_limit(per_endpoint: Any, per_failing_endpoint: Any) -> Any:
    """An endpoint's in-flight limit in one worker: ``per_failing_endpoint`` while its health is
    "failing" (since a failure, until a success: ``_health``), else ``per_endpoint``."""
    return sa.case((EP.c.health == "failing", per_failing_endpoint), else_=per_endpoint)


def _slots(conn: sa.Connection, config: DeliveryConfig, now: datetime, limit: int,
           held: Mapping[int, int]) -> dict[int, int]:
    """How many deliveries to take per enabled endpoint that has some due: its free in-flight
    slots (its limit, ``_in_flight_limit``, less what this worker ``held`` in flight), ``limit`` in
    all, shared round-robin in random order so no endpoint always comes first."""
    has_due = sa.or_(*(sa.exists(_lane(DL, EP.c.id, now, asked)) for asked in (True, False)))
    cap = _in_flight_limit(config.per_endpoint, config.per_failing_endpoint)
    free: dict[int, int] = {e: n - held.get(e, 0) for e, n in conn.execute(
        sa.select(EP.c.id, cap).where(EP.c.enabled.is_(True), has_due)).all()}
    order = [e for e, n in free.items() if n > 0]
    random.shuffle(order)
    take: dict[int, int] = {}
    while order and limit > 0:
        for e in list(order):
            if limit == 0:
                break
            take[e] = take.get(e, 0) + 1
            limit -= 1
            if take[e] >= free[e]:
                order.remove(e)
    return take


def claim(db: Database, worker_id: str, *, limit: int, config: DeliveryConfig, now: datetime,
          held: Mapping[int, int] | None = None) -> list[Claimed]:
    """Take up to ``limit`` due deliveries of enabled endpoints, at most ``config.per_endpoint`` in
    flight per endpoint with what the worker ``held`` (endpoint id → deliveries it has in flight),
    under a lease, in a transaction of its own (the loop claims in its cycle's transaction:
    ``cycle``)."""
    if limit <= 0:
        return []
    with db.write() as conn:
        return _claim(conn, worker_id, limit, config, now, held=held or {})


def _claim(conn: sa.Connection, worker_id: str, limit: int, config: DeliveryConfig, now: datetime,
           expired: bool = True, held: Mapping[int, int] | None = None) -> list[Claimed]:
    """``claim`` on the caller's transaction. Due means pending and its time has come, or
    processing with an expired lease (a crashed worker's). Each endpoint's due rows are read from
    the index (endpoint, status, requested, next attempt) up to its free slots alone, the rows
    an admin asked for first (``_lane``), so the cost of a claim does not grow with a dead
    endpoint's backlog; ``limit`` is shared round-robin over the endpoints, in random order so
    no endpoint always comes first.

    PostgreSQL: one statement (slots, candidates, ``SKIP LOCKED``, the lease and the rows' event
    and endpoint in its ``RETURNING``), built once: at hundreds of deliveries a second the four
    round trips and the per-call statement building of the two-step form were most of a
    worker's CPU. SQLite (one worker; ``BEGIN IMMEDIATE`` serializes): the slots read first,
    then the update and the rows' event and endpoint. ``expired``: whether to look for expired
    leases too (the loop does every ``EXPIRED_EVERY`` seconds: each look reads the dead index
    entries that updates left since the last)."""
    if limit <= 0:
        return []
    held = held or {}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_PG_CLAIM, {"now": now, "per_endpoint": config.per_endpoint,
                                        "per_failing_endpoint": config.per_failing_endpoint, "limit": limit,
                                        "worker": worker_id, "until": now + timedelta(seconds=config.lease_seconds),
                                        "expired": expired, "held": json.dumps({str(e): n for e, n in held.items()})})
        return sorted((Claimed(*r) for r in rows), key=lambda c: c.id)
    take = _slots(conn, config, now, limit, held)
    parts = []
    for e, n in take.items():
        lanes = sa.union_all(*(sa.select(lane.c.id, lane.c.requested, lane.c.next_attempt_at) for lane in (
            _lane(DL, e, now, asked).limit(n).subquery() for asked in (True, False)))).subquery()
        parts.append(sa.select(lanes.c.id).order_by(lanes.c.requested.desc(), lanes.c.next_attempt_at).limit(n))
    if not parts and not expired:
        return []
    candidates = _candidates(parts, _expired(now, limit) if expired else None, limit)
    pick = sa.select(DL.c.id).where(DL.c.id.in_(candidates.scalar_subquery()), _due(now))
    leased = conn.execute(
        sa.update(DL).where(DL.c.id.in_(pick.scalar_subquery()))
        .values(**_lease_values(worker_id, now, now + timedelta(seconds=config.lease_seconds))).returning(DL.c.id)
    ).scalars().all()
    if not leased:
        return []
    rows = conn.execute(sa.select(*_CLAIMED).join(EV, EV.c.id == DL.c.event_id).join(EP, EP.c.id == DL.c.endpoint_id)
                        .where(DL.c.id.in_(leased)).order_by(DL.c.id))
    return [Claimed(*r) for r in rows]


def _candidates(shared: list[Any], expired: Any | None, limit: Any) -> Any:
    """The ids a claim tries to lease: the expired leases (``_expired``) first, then the slots'
    rows (``shared``), ``limit`` in all. (Each part had its own limit, so a claim after a crash
    leased up to twice its free threads: the rest queued in the pool, their leases running,
    behind whatever held its threads.)"""
    parts = [sa.select(sa.literal(1).label("k"), q.subquery().c.id) for q in shared]
    if expired is not None:
        parts.append(sa.select(sa.literal(0).label("k"), expired.subquery().c.id))
    both = sa.union_all(*parts).subquery("candidates")
    return sa.select(both.c.id).order_by(both.c.k).limit(limit)


def _lane(t: Any, endpoint_id: Any, now: Any, requested: bool) -> Any:
    """An endpoint's due rows of one lane, oldest due first: those an admin asked for
    (``requested``: a test event, a redelivery), or the rest. A claim takes the first lane's before
    the second's (a test event waited behind a failing endpoint's whole backlog, at its 2
    attempts a second); each lane is a range of the due index (endpoint, status, requested, next
    attempt) that ends at its first row not yet due, whatever the backlog waiting behind it."""
    return (sa.select(t.c.id, t.c.requested, t.c.next_attempt_at)
            .where(t.c.endpoint_id == endpoint_id, t.c.status == "pending",
                   t.c.requested == (sa.true() if requested else sa.false()), t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at))


def _due(now: Any, by_key: bool = False) -> Any:
    """Pending and due, or processing under an expired lease (a crashed worker's). ``by_key``: the
    status compared through coalesce, which no index covers, for rows found by primary key (the
    planner would read the status index's every due entry, a throttled endpoint's backlog)."""
    status = sa.func.coalesce(DL.c.status, "") if by_key else DL.c.status
    return sa.or_(sa.and_(status == "pending", DL.c.next_attempt_at <= now),
                  sa.and_(status == "processing", DL.c.lease_expires_at < now))


def _expired(now: Any, limit: Any) -> Any:
    """A crashed worker's rows: few, taken whatever the endpoint's slots (they were counted before)."""
    return (sa.select(DL.c.id).join(EP, EP.c.id == DL.c.endpoint_id)
            .where(DL.c.status == "processing", DL.c.lease_expires_at < now, EP.c.enabled.is_(True))
            .order_by(DL.c.id).limit(limit))


def _lease_values(worker_id: Any, now: Any, until: Any) -> dict[str, Any]:
    return {"status": "processing", "lease_owner": worker_id, "attempts": DL.c.attempts + 1,
            "lease_expires_at": until, "last_attempt_at": now}


# What a claim returns of each row, in ``Claimed``'s order.
_CLAIMED = (DL.c.id, DL.c.event_id, DL.c.endpoint_id, DL.c.attempts, EV.c.msg_id, EV.c.payload, EP.c.url,
            EP.c.secret_enc, EP.c.secret_prev_enc, EP.c.secret_prev_until, EP.c.health)


def _pg_claim() -> Any:
    """The PostgreSQL claim (``_claim``), parameters ``now``, ``per_endpoint``,
    ``per_failing_endpoint``, ``limit``, ``worker``, ``until``, ``expired`` (whether to look for
    expired leases):

    - ``free``: each enabled endpoint's free slots (its limit, ``_in_flight_limit``, less what the
      worker ``held``, a JSON object endpoint id → deliveries in flight);
    - ``firsts``: per endpoint (LATERAL, from the due index) its first due rows up to its slots,
      the requested lane's and the other's (``_lane``), ranked requested first, then oldest due;
    - the round-robin: each endpoint's first row, then each one's second, …, in random order
      within a round, ``limit`` in all; with the expired leases, locked ``SKIP LOCKED`` (another
      worker's candidates are passed over) and checked still due;
    - the lease set, returning each row with its event and endpoint."""
    now = sa.bindparam("now", type_=DL.c.next_attempt_at.type)
    limit = sa.bindparam("limit", type_=sa.Integer)
    cap = _in_flight_limit(sa.bindparam("per_endpoint", type_=sa.Integer),
                           sa.bindparam("per_failing_endpoint", type_=sa.Integer))
    held = sa.cast(sa.bindparam("held", type_=sa.Text), JSONB).op("->>")(sa.cast(EP.c.id, sa.Text))
    slots = cap - sa.func.coalesce(sa.cast(held, sa.Integer), 0)
    slot = sa.select(EP.c.id.label("endpoint_id"), slots.label("n")).where(EP.c.enabled.is_(True)).subquery("slots")
    free = sa.select(slot).where(slot.c.n > 0).cte("free")
    d = DL.alias("d")
    lanes = [sa.select(free.c.endpoint_id, free.c.n, f.c.id, f.c.requested, f.c.next_attempt_at)
             .select_from(free.join(f, sa.true()))
             for f in (_lane(d, free.c.endpoint_id, now, asked).limit(free.c.n).lateral(f"lane{int(asked)}")
                       for asked in (True, False))]
    firsts = sa.union_all(*lanes).subquery("firsts")
    rank = sa.func.row_number().over(partition_by=firsts.c.endpoint_id,
                                     order_by=(firsts.c.requested.desc(), firsts.c.next_attempt_at, firsts.c.id))
    ranked = sa.select(firsts.c.id, firsts.c.n, rank.label("round")).subquery("ranked")
    shared = sa.select(ranked.c.id).where(ranked.c.round <= ranked.c.n).order_by(ranked.c.round, sa.func.random()
                                                                                 ).limit(limit)
    expired = _expired(now, limit).where(sa.bindparam("expired", type_=sa.Boolean))
    candidates = _candidates([shared], expired, limit)
    # The candidates as an array (computed once) and the due check by key, so their rows are found
    # by primary key only: with ``IN (subquery)`` and a plain status the planner read every due
    # entry of the status index (a throttled endpoint's backlog: thousands, and their dead
    # entries) and joined or ANDed them with the candidates, 6-20 ms a claim.
    pick = (sa.select(DL.c.id)
            .where(DL.c.id == sa.any_(sa.func.array(candidates.scalar_subquery())), _due(now, by_key=True))
            .with_for_update(skip_locked=True))
    return (sa.update(DL)
            .where(DL.c.id.in_(pick.scalar_subquery()), EV.c.id == DL.c.event_id, EP.c.id == DL.c.endpoint_id)
            .values(**_lease_values(sa.bindparam("worker", type_=DL.c.lease_owner.type), now,
                                    sa.bindparam("until", type_=DL.c.lease_expires_at.type)))
            .returning(*_CLAIMED))


_PG_CLAIM = _pg_claim()


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


class _GuardedHTTP(http.client.HTTPConnection):
    """An ``http.client`` connection whose socket comes from the outbound guard's one check
    (``OutboundPolicy.connect``: resolve, refuse internal answers, connect to the checked address).

    Why not ``requests`` (``guard_session``), as the syncs use: it costs ~0.6 ms of CPU a request
    against ~0.1 ms here, and deliveries are hundreds a second on two shared cores. No redirects
    are followed and no proxy is used, by construction."""

    def __init__(self, policy: OutboundPolicy, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.policy = policy

    def connect(self) -> None:
        self.sock = self.policy.connect(self.host, self.port, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _GuardedHTTPS(_GuardedHTTP):
    """TLS over the guarded socket, verified against the host name (SNI and certificate as usual)."""

    def __init__(self, policy: OutboundPolicy, host: str, port: int, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(policy, host, port, timeout)
        self.context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:  # the CA bundle the syncs honour (connectors.outbound.guard_session)
        context.load_verify_locations(bundle)
    return context


_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


class _Deadlines:
    """Ends the sends that outlive their deadline. ``http.client``'s timeout bounds each socket
    operation, not the answer: a receiver trickling its answer a byte at a time kept a send going
    as long as it liked, holding a thread, and past the lease (60 s) the row was claimed again
    (expired leases are taken whatever the endpoint's slots) into another thread, and another:
    one such endpoint could take every thread of every worker. A thread (while sends are under
    way) shuts such a connection's socket down, which ends its read; each send registers and
    unregisters itself under a lock (no thread or timer per send)."""

    TICK = 0.1  # seconds between looks: the deadline's precision

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active: dict[int, tuple[float, http.client.HTTPConnection]] = {}
        self._watching = False

    def watch(self, conn: http.client.HTTPConnection, deadline: float) -> None:
        with self._lock:
            self._active[id(conn)] = (deadline, conn)
            if not self._watching:
                self._watching = True
                threading.Thread(target=self._run, name="taskhub-deliver-deadlines", daemon=True).start()

    def release(self, conn: http.client.HTTPConnection) -> bool:
        """Stop watching ``conn``; False when its deadline came first (its socket is shut)."""
        with self._lock:
            return self._active.pop(id(conn), None) is not None

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                for key, (deadline, conn) in list(self._active.items()):
                    if deadline <= now:
                        del self._active[key]
                        if conn.sock is not None:
                            try:  # the plain socket's (an SSL socket's would drop its TLS state under the reader)
                                socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)
                            except OSError:
                                pass
                if not self._active:
                    self._watching = False
                    return


class Sender:
    """POSTs through the outbound guard, keeping one connection per origin and thread (keep-alive).
    ``timeout`` bounds the connect and each read, and the whole attempt (``_Deadlines``)."""

    def __init__(self, settings: Settings, timeout: float) -> None:
        self.policy = settings.outbound_policy
        self.timeout = timeout
        self._local = threading.local()
        self._tls: ssl.SSLContext | None = None
        self._deadlines = _Deadlines()

    def _connection(self, origin: tuple[str, str, int]) -> tuple[http.client.HTTPConnection, bool]:
        """The thread's open connection to ``origin`` (and True), or a new one (False)."""
        conns: dict[tuple[str, str, int], http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        if origin in conns:
            return conns[origin], True
        scheme, host, port = origin
        if scheme == "https":
            self._tls = self._tls or _tls_context()
            conns[origin] = _GuardedHTTPS(self.policy, host, port, self.timeout, self._tls)
        else:
            conns[origin] = _GuardedHTTP(self.policy, host, port, self.timeout)
        return conns[origin], False

    def _drop(self, origin: tuple[str, str, int]) -> None:
        conn = self._local.__dict__.get("conns", {}).pop(origin, None)
        if conn is not None:
            conn.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        origin = origin_of(url)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = {**headers, "content-type": "application/json", "user-agent": "taskhub-webhooks/1"}
        deadline = started + self.timeout
        for _ in range(2):
            conn, reused = self._connection(origin)
            self._deadlines.watch(conn, deadline)
            try:
                conn.request("POST", target, body=body, headers=sent)
                response = conn.getresponse()
                raw = response.read(BODY_LIMIT)
                if not response.isclosed():
                    response.read(64 * 1024)  # drain a short rest to keep the connection
                if not self._deadlines.release(conn):
                    raise TimeoutError
                if not response.isclosed() or response.will_close:
                    self._drop(origin)
                return Answer(response.status, raw.decode("utf-8", "replace"), None, _ms(started))
            except Exception as exc:  # noqa: BLE001 - any failure to get an answer is this attempt's result
                self._drop(origin)
                if not self._deadlines.release(conn) or time.monotonic() >= deadline:
                    return Answer(None, None, f"no complete answer within the timeout ({self.timeout:g} s)",
                                  _ms(started))
                if reused and isinstance(exc, _STALE):
                    continue  # the receiver closed an idle keep-alive connection: once more, anew
                return Answer(None, None, f"{type(exc).__name__}: {exc}"[:1000], _ms(started))
        raise AssertionError("unreachable")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


@dataclass(frozen=True)
class Result:
    item: Claimed
    answer: Answer
    at: datetime


def attempt(settings: Settings, sender: Sender, item: Claimed) -> Answer:
    """Sign and send one claimed delivery (no database)."""
    sent_at = utcnow()  # the signature's time is the wall clock the receiver compares with
    secrets = signing_secrets(settings, item.secret_enc, item.secret_prev_enc, item.secret_prev_until, sent_at)
    body = body_bytes(item.payload)
    return sender.post(item.url, body, sign(secrets, item.msg_id, sent_at, body))


def deliver(db: Database, settings: Settings, sender: Sender, worker_id: str, item: Claimed, clock: Clock) -> str:
    """Send one claimed delivery and record the answer at once; its new status."""
    return record(db, worker_id, [Result(item, attempt(settings, sender, item), clock())])[0]


def record(db: Database, worker_id: str, results: list[Result],
           ok_written: dict[int, float] | None = None) -> list[str]:
    """Write the attempts' results and their endpoints' health in one transaction of its own
    (the loop records in its cycle's transaction: ``cycle``); their new statuses, "lost" for a
    result whose lease is no longer ours (not written)."""
    return cycle(db, worker_id, results, limit=0, config=DeliveryConfig(), now=utcnow(), ok_written=ok_written)[0]


def cycle(db: Database, worker_id: str, results: list[Result], *, limit: int, config: DeliveryConfig,
          now: datetime, ok_written: dict[int, float] | None = None, connection: sa.Connection | None = None,
          expired: bool = True, held: Mapping[int, int] | None = None) -> tuple[list[str], list[Claimed]]:
    """One transaction of the loop: record ``results`` (``_record_batch``), then claim up to
    ``limit`` (``_claim``). One commit for both: at hundreds of deliveries a second a commit, or a
    round trip, per delivery or per step would be the bottleneck. Recorded first, so the slots
    the claim counts are free as soon as an answer is written. Run again on a deadlock or a
    serialization failure. ``ok_written`` (endpoint id → when this loop last wrote "ok" for it,
    monotonic) is updated only when the transaction commits. ``connection``: a connection of
    ``db.write_engine`` to run it on (the loop keeps one), else one from the pool. ``expired``:
    see ``_claim``; ``held``: the worker's deliveries in flight per endpoint, ``results`` not
    counted (their slots are free once they are recorded)."""
    ok_written = {} if ok_written is None else ok_written
    for tries in range(3):
        written = dict(ok_written)
        try:
            with _transaction(db, connection) as conn:
                statuses = _record_batch(conn, worker_id, results, written) if results else {}
                claimed = _claim(conn, worker_id, limit, config, now, expired, held)
            break
        except Exception as exc:
            if not retryable(exc) or tries == 2:
                raise
    ok_written.clear()
    ok_written.update(written)
    for r in results:
        status = statuses[r.item.id]
        if status == "lost":
            log.warning("events.lease_lost delivery=%s", r.item.id)
        elif status != "delivered":
            log.info("events.attempt_failed delivery=%s endpoint=%s attempts=%s status=%s code=%s error=%s",
                     r.item.id, r.item.endpoint_id, r.item.attempts, status, r.answer.code,
                     (r.answer.error or "")[:200])
    return [statuses[r.item.id] for r in results], claimed


@contextmanager
def _transaction(db: Database, connection: sa.Connection | None) -> Iterator[sa.Connection]:
    if connection is None:
        with db.write() as conn:
            yield conn
        return
    with connection.begin():
        yield connection


def _text(value: str | None) -> str | None:
    """Text both stores keep: a NUL (a receiver's body may hold one) as U+FFFD, a lone surrogate
    (an exception's text may) as "?". PostgreSQL refuses either, and the batch's transaction."""
    if value is None or (value.isascii() and "\x00" not in value):
        return value
    return value.encode("utf-8", "replace").decode().replace("\x00", "\ufffd")


def _outcome(result: Result) -> tuple[str, dict[str, Any]]:
    """The delivery's new status and column values after one answer."""
    answer, now = result.answer, result.at
    ok = succeeded(answer)
    gone = answer.code == 410
    delay = None if ok or gone else retry_delay(result.item.attempts)
    status = "delivered" if ok else "failed" if gone or delay is None else "pending"
    return status, {
        "id": result.item.id, "status": status, "response_code": answer.code, "latency_ms": answer.latency_ms,
        "response_body": _text(answer.body),
        "error": _text(answer.error) if answer.error else None if ok else f"HTTP {answer.code}",
        "delivered_at": now if ok else None,
        "next_attempt_at": now + timedelta(seconds=delay) if delay is not None else now,
    }


_WRITTEN = ("status", "response_code", "latency_ms", "response_body", "error", "delivered_at", "next_attempt_at")
_RELEASED = {"lease_owner": None, "lease_expires_at": None}


def _pg_write() -> Any:
    """PostgreSQL: the batch's answers in one UPDATE from a JSON array of rows (parameters
    ``rows``, ``worker``), each row written only while its lease is ours; the ids written come
    back. (One statement and one parameter, where an ``executemany`` sent a statement per row.)"""
    rows = json_rows("postgresql", "rows", {c: DL.c[c].type for c in ("id", *_WRITTEN)}, name="answer", record=DL)
    # The rows are found by primary key (``ids``, the same ids as an array); the status compared
    # through coalesce, which no index covers. (Compared plainly, the planner read the status
    # index, whose "processing" entries are mostly dead ones until a vacuum, two per delivery;
    # without the array, it scanned the table.)
    from sqlalchemy.dialects.postgresql import ARRAY

    return (sa.update(DL)
            .where(DL.c.id == sa.any_(sa.bindparam("ids", type_=ARRAY(DL.c.id.type))), DL.c.id == rows.c.id,
                   DL.c.lease_owner == sa.bindparam("worker", type_=DL.c.lease_owner.type),
                   sa.func.coalesce(DL.c.status, "") == "processing")
            .values(**{c: rows.c[c] for c in _WRITTEN}, **_RELEASED).returning(DL.c.id))


_PG_WRITE = _pg_write()
_WRITE = (  # SQLite: one row at a time (in-process: no round trips to save)
    sa.update(DL).where(DL.c.id == sa.bindparam("b_id"))
    .values(**{c: sa.bindparam(c, type_=DL.c[c].type) for c in _WRITTEN}, **_RELEASED)
)


def _record_batch(conn: sa.Connection, worker_id: str, results: list[Result],
                  ok_written: dict[int, float]) -> dict[int, str]:
    """Write the answers of ``results`` whose lease is still ours, then their endpoints' health;
    each result's status ("lost" when not written)."""
    outcomes = {r.item.id: _outcome(r) for r in results}
    if conn.dialect.name == "postgresql":
        rows = [values for _, values in outcomes.values()]
        mine = set(conn.execute(_PG_WRITE, {"rows": orjson.dumps(rows).decode(), "ids": list(outcomes),
                                            "worker": worker_id}).scalars())
    else:
        ids = sorted(outcomes)
        mine = set(conn.execute(sa.select(DL.c.id).where(
            DL.c.id.in_(ids), DL.c.lease_owner == worker_id, DL.c.status == "processing")).scalars())
        if mine:
            conn.execute(_WRITE, [{**{k: v for k, v in outcomes[i][1].items() if k != "id"}, "b_id": i}
                                  for i in ids if i in mine])
    statuses = {i: outcome[0] if i in mine else "lost" for i, outcome in outcomes.items()}
    by_endpoint: dict[int, list[Result]] = {}
    for r in results:
        if r.item.id in mine:
            by_endpoint.setdefault(r.item.endpoint_id, []).append(r)
    for endpoint_id in sorted(by_endpoint):
        _health(conn, endpoint_id, by_endpoint[endpoint_id], ok_written)
    return statuses


def _health(conn: sa.Connection, endpoint_id: int, results: list[Result], ok_written: dict[int, float]) -> None:
    """The endpoint's health after a batch of its answers (see the module's docstring): any 410
    disables it; a success resets the failing period; a failure after the batch's last success
    starts one (or, five days into one, disables it)."""
    codes = [(r.at, r.answer.code) for r in sorted(results, key=lambda r: r.at)]
    now = codes[-1][0]
    if any(code == 410 for _, code in codes):
        _disable(conn, endpoint_id, now, "the endpoint answered 410 Gone")
        return
    successes = [at for at, code in codes if code is not None and 200 <= code < 300]
    if (len(successes) == len(codes) and time.monotonic() - ok_written.get(endpoint_id, -1e9) < _OK_SECONDS
            and all(r.item.health == "ok" for r in results)):
        # This loop wrote "ok" for it moments ago: not a statement per batch. Unless a row was
        # claimed while its health was not "ok" (another worker's failure since): remembered
        # alone, the endpoint stayed "failing", throttled, for up to SUCCESS_PRECISION.
        return
    ok_written.pop(endpoint_id, None)
    if successes:
        # Not on every success: hundreds a second would queue on the endpoint's row. Only a change
        # of health, or a ``last_success_at`` older than SUCCESS_PRECISION.
        last_ok = successes[-1]
        fresh = sa.and_(EP.c.health == "ok", EP.c.failing_since.is_(None), EP.c.last_success_at.is_not(None),
                        EP.c.last_success_at >= last_ok - SUCCESS_PRECISION)
        conn.execute(sa.update(EP).where(EP.c.id == endpoint_id, sa.not_(fresh)).values(
            last_success_at=last_ok, failing_since=None,
            health=sa.case((EP.c.enabled.is_(True), "ok"), else_=EP.c.health),
            health_reason=sa.case((EP.c.enabled.is_(True), None), else_=EP.c.health_reason)))
        if codes[-1][0] == last_ok:
            ok_written[endpoint_id] = time.monotonic()
            return
    ep = conn.execute(sa.select(EP.c.failing_since, EP.c.enabled, EP.c.health).where(EP.c.id == endpoint_id)
                      ).one_or_none()
    if ep is None or not ep.enabled:
        return
    since = aware(ep.failing_since) or now
    if now - since >= DISABLE_AFTER:
        _disable(conn, endpoint_id, now, f"no successful delivery since {since.isoformat()}")
        return
    if ep.health == "failing" and ep.failing_since is not None:
        return  # already so: rewriting the row each batch made the workers queue on its lock
    conn.execute(sa.update(EP).where(EP.c.id == endpoint_id).values(
        health="failing", failing_since=since, health_reason="the last delivery failed"))


def _disable(conn: sa.Connection, endpoint_id: int, now: datetime, reason: str) -> None:
    conn.execute(sa.update(EP).where(EP.c.id == endpoint_id).values(
        enabled=False, health="disabled", health_reason=reason, updated_at=now))
    log.warning("events.endpoint_disabled endpoint=%s reason=%s", endpoint_id, reason)


def prune(db: Database, now: datetime, *, batch: int = 5000) -> int:
    """Delete events (and their deliveries) recorded more than REDELIVERY_DAYS ago: past
    redelivery, nothing reads them. At most ``batch`` a call, so no transaction grows large."""
    old = sa.select(EV.c.id).where(EV.c.created_at < now - timedelta(days=REDELIVERY_DAYS)).limit(batch)
    with db.write() as conn:
        ids = list(conn.execute(old).scalars())
        if ids:
            conn.execute(sa.delete(DL).where(DL.c.event_id.in_(ids)))
            conn.execute(sa.delete(EV).where(EV.c.id.in_(ids)))
    return len(ids)


PRUNE_EVERY = 3600.0  # seconds between prunes of one worker
KEEP_CONNECTION = 30.0  # seconds a loop's connection may sit idle and be used again without a check
EXPIRED_EVERY = 5.0  # seconds between a loop's looks for expired leases (a crashed worker's rows)
GATHER = 0.02  # seconds a woken loop waits for the rest of its sends' answers, to record them together
BUSY_FOR = 1.0  # seconds after a claim that took some during which the loop polls at the busy interval


class DeliveryLoop:
    """A thread that claims due deliveries as threads of its pool free up, sends them there, and
    records the answers the pool hands back, in the transaction of its next claim."""

    def __init__(self, db: Database, settings: Settings, worker_id: str, stop_event: threading.Event, *,
                 config: DeliveryConfig | None = None, clock: Clock = utcnow) -> None:
        self.db, self.settings, self.worker_id, self.stop_event = db, settings, worker_id, stop_event
        self.config = config or DeliveryConfig()
        self.clock = clock
        self.sender = Sender(settings, self.config.timeout)
        self._lock = threading.Lock()
        self._busy = 0
        self._done: queue.SimpleQueue[Result] = queue.SimpleQueue()
        self._freed = threading.Event()  # a pool thread finished: record and claim without waiting
        self._next_prune = 0.0
        self._ok_written: dict[int, float] = {}
        self._conn: sa.Connection | None = None
        self._conn_used = 0.0
        self._next_expired = 0.0
        # Claimed by this loop and not yet recorded, per endpoint: the in-flight limit's count.
        self._held: Counter[int] = Counter()
        self._busy_until = 0.0  # monotonic: until when to poll at ``busy_poll_interval``
        self._pauses: list[tuple[float, int]] = []  # (monotonic until, endpoint) per failed answer
        self._claims = 0  # claims that took some, so far
        self._last_claim_busy = 0  # sends of the last such claim not answered yet
        self.sent = 0

    def run_once(self, pool: ThreadPoolExecutor | None = None) -> int:
        """Record the answers that came back and claim what the free threads can take, in one
        transaction (``cycle``), then send the claimed (in ``pool``; when None, here, each
        recorded at once); how many were claimed."""
        if time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + PRUNE_EVERY
            prune(self.db, self.clock())
        with self._lock:
            free = self.config.threads - self._busy
        items = self._cycle(free)
        if items:
            self._busy_until = time.monotonic() + BUSY_FOR
            if pool is not None:
                with self._lock:
                    self._claims += 1
                    self._last_claim_busy = len(items)
        for item in items:
            if pool is None:
                deliver(self.db, self.settings, self.sender, self.worker_id, item, self.clock)
                self.sent += 1
                continue
            with self._lock:
                self._busy += 1
            self._held[item.endpoint_id] += 1
            pool.submit(self._send, item, self._claims)
        return len(items)

    def record_done(self) -> int:
        """Record the answers that came back (and claim nothing); how many."""
        before = self.sent
        self._cycle(0)
        return self.sent - before

    def _cycle(self, limit: int) -> list[Claimed]:
        results: list[Result] = []
        while True:
            try:
                results.append(self._done.get_nowait())
            except queue.Empty:
                break
        if not results and limit <= 0:
            return []
        expired = limit > 0 and time.monotonic() >= self._next_expired
        held = self._held.copy()
        held.subtract(r.item.endpoint_id for r in results)
        held = +held  # without the zeros
        try:
            _, items = cycle(self.db, self.worker_id, results, limit=limit, config=self.config, now=self.clock(),
                             ok_written=self._ok_written, connection=self._connection(), expired=expired,
                             held=held + self._paused(results))
        except Exception as exc:
            self.close()
            if is_database_unavailable(exc):  # recorded once it is back, while their leases are ours
                for r in results:
                    self._done.put(r)
            else:  # dropped: their leases expire and a claim takes them again; not ours to count
                self._held = held
            raise
        self._held = held  # the recorded ones' slots are free (the claimed are counted by run_once)
        self._conn_used = time.monotonic()
        if expired:
            self._next_expired = self._conn_used + EXPIRED_EVERY
        self.sent += len(results)
        return items

    def _paused(self, results: list[Result]) -> Counter[int]:
        """Slots still taken by failed answers, per endpoint: each keeps its slot ``failed_pause``
        seconds after it came back, so a failing endpoint (``per_failing_endpoint`` slots) gets
        at most that many attempts a second from this worker, not one per cycle (a 500 answered
        at once: ~150 a second); a success frees its endpoint's at once."""
        now = time.monotonic()
        ok = {r.item.endpoint_id for r in results if succeeded(r.answer)}
        self._pauses = [(until, e) for until, e in self._pauses if until > now and e not in ok]
        self._pauses += [(now + self.config.failed_pause, r.item.endpoint_id) for r in results
                         if r.item.endpoint_id not in ok]
        return Counter(e for _, e in self._pauses)

    def _connection(self) -> sa.Connection:
        """The loop's own connection: a cycle needs no pool checkout (whose liveness check is a
        round trip of its own, the cycle's fifth of six). After ``KEEP_CONNECTION`` idle seconds
        it goes back and a checked one is taken; after an error, it is closed (``close``)."""
        if self._conn is not None and time.monotonic() - self._conn_used > KEEP_CONNECTION:
            self.close()
        if self._conn is None:
            self._conn = self.db.write_engine.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - a broken connection: not back to the pool
                conn.invalidate()
                conn.close()

    def poll_timeout(self) -> float:
        """How long to wait for a send's answer before claiming again: ``busy_poll_interval``
        within ``BUSY_FOR`` seconds of a claim that took some, else ``poll_interval``. At 200
        changes/s the 100 ms idle wait set the healthy endpoint's p95 (~95 ms) whenever no answer
        came back to wake the loop, so its latency depended on its neighbours' answers (40 ms
        beside a quick 500 endpoint); an idle loop still claims 10 times a second."""
        return self.config.busy_poll_interval if time.monotonic() < self._busy_until else self.config.poll_interval

    def _wait(self) -> None:
        """Until a send answers (at most ``poll_timeout``), then up to ``GATHER`` more for the
        rest of the last claim's sends: their answers are recorded together, and their slots freed
        at once, by the next cycle. (Cycling again at once recorded nothing and held the slots a
        cycle longer.) Not for older sends: a hanging endpoint's, until its timeout, made every
        wait a full ``GATHER`` (20 ms a cycle)."""
        if not self._done.empty():
            return
        self._freed.wait(self.poll_timeout())
        self._freed.clear()
        until = time.monotonic() + GATHER
        while (left := until - time.monotonic()) > 0:
            with self._lock:
                if self._last_claim_busy == 0:
                    return
            self._freed.wait(left)
            self._freed.clear()

    def _send(self, item: Claimed, claim_no: int = 0) -> None:
        try:
            answer = attempt(self.settings, self.sender, item)
        except Exception as exc:  # noqa: BLE001 - e.g. a secret no configured key opens
            # Recorded as a failed attempt, so the retry schedule (and "failed" at its end)
            # applies: left to the lease, it would be claimed again every minute, forever.
            log.exception("events.deliver_error delivery=%s", item.id)
            answer = Answer(None, None, f"not sent: {type(exc).__name__}: {exc}"[:1000], 0)
        try:
            self._done.put(Result(item, answer, self.clock()))
        finally:
            with self._lock:
                self._busy -= 1
                if claim_no == self._claims:
                    self._last_claim_busy -= 1
            self._freed.set()

    def run(self) -> None:
        with ThreadPoolExecutor(self.config.threads, thread_name_prefix="taskhub-deliver") as pool:
            backoff = 0.0
            while not self.stop_event.is_set():
                try:
                    self.run_once(pool)
                    backoff = 0.0
                except Exception as exc:  # noqa: BLE001 - a database blip must not end deliveries
                    # An outage is logged once by the worker's monitor; here only waited out.
                    if not is_database_unavailable(exc):
                        log.exception("events.claim_error")
                    backoff = min(max(backoff * 2, 0.5), 5.0)
                    self.stop_event.wait(backoff)
                    continue
                self._wait()
        try:  # the pool has finished its sends: record them (else their leases expire, resent)
            self.record_done()
        except Exception:  # noqa: BLE001
            log.exception("events.record_error")
        finally:
            self.close()

    def start_thread(self) -> threading.Thread:
        t = threading.Thread(target=self.run, name=f"taskhub-deliveries-{self.worker_id}", daemon=True)
        t.start()
        return t
