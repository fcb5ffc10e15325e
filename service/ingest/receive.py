"""The webhook hot path: verify on raw bytes, dedupe, one INSERT, 202.

Signature verifiers and dedupe-key functions are registered per kind in plain
dicts. Tools that cannot sign (Jira Automation's "Send web request") have a second door per
kind, ``AUTOMATION``: a body normalizer, behind one verifier for all of them
(``verify_secret_header``: a per-source random secret in ``X-Taskhub-Secret``).

Sources are cached in-process for a few seconds (the hot path should not pay a query to
look them up); changes through the API evict the entry at once, other processes see them
within the TTL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from connectors.jira import automation as jira_automation
from connectors.jira import webhooks as jira_webhooks
from connectors.trello import webhooks as trello_webhooks
from service.outage import OutageMonitor, StoreUnavailable, unavailable_reason
from service.settings import Settings
from service.tables import InboxEvent, Source, table, utcnow

__all__ = [
    "AUTOMATION",
    "CachedSource",
    "HeaderSecret",
    "SECRET_HEADER",
    "SourceCache",
    "VERIFIERS",
    "DEDUPE",
    "REPLAY",
    "InboxWriter",
    "automation_dedupe",
    "body_hash",
    "verify_secret_header",
]

IE = table(InboxEvent)
S = table(Source)
log = logging.getLogger("taskhub.ingest")


@dataclass(frozen=True)
class HeaderSecret:
    """A secret a sender sends as it is (it cannot sign), and the one a rotation replaced,
    accepted until ``previous_until`` (epoch seconds)."""

    current: str | None = None
    previous: str | None = None
    previous_until: float | None = None

    def at(self, now: float) -> tuple[str, ...]:
        current = (self.current,) if self.current else ()
        if self.previous and self.previous_until is not None and now < self.previous_until:
            return (*current, self.previous)
        return current


@dataclass(frozen=True)
class CachedSource:
    id: int
    org_id: int
    kind: str
    enabled: bool
    webhook_secret: str | None
    callback_url: str
    # The secret a rotation replaced and until when (epoch seconds) it is still accepted.
    previous_secret: str | None = None
    previous_until: float | None = None
    # The X-Taskhub-Secret of the automation door (service.api.automation_secret); none: closed.
    automation: HeaderSecret = HeaderSecret()

    def secrets_at(self, now: float) -> tuple[str, ...]:
        """The secrets a delivery may be signed with at ``now``: current, then previous in overlap."""
        current = (self.webhook_secret,) if self.webhook_secret else ()
        if self.previous_secret and self.previous_until is not None and now < self.previous_until:
            return (*current, self.previous_secret)
        return current


# (source, raw body, headers, request url, now in epoch seconds) -> None when valid, else the
# reason for a 401. ``now`` decides whether a rotated-out secret is still in its overlap.
Verifier = Callable[[CachedSource, bytes, Mapping[str, str], str, float], str | None]
# (parsed body, raw body, headers) -> dedupe key
DedupeFn = Callable[[Any, bytes, Mapping[str, str]], str]


def body_hash(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def body_digest(body: bytes) -> int:
    """The replay guard's key with the body's event time: the first 64 bits of its SHA-256,
    as a signed BIGINT. A digest match is confirmed on the stored bytes (``_duplicate_of``), so
    a collision is never taken for a replay: that body is stored without a digest instead."""
    return int.from_bytes(hashlib.sha256(body).digest()[:8], "big", signed=True)


# The replay guard, per kind: (parsed body, headers) -> the event time (ms) the body itself
# carries, which leads the guard's index key (0: none), or None when the dedupe key already
# comes from the signed body, so a replayed body is a duplicate without a guard.
#
# Why the time: the index is (source_id, body_ts, body_digest). Keyed by the digest alone
# every insert lands on a random index page (about 15 us more per SQLite insert, ~15% of the
# ingest benchmark); led by the event time, which rises with arrival, inserts stay at the
# index's end and cost about nothing. A replayed body carries its original time, so it meets
# its first copy all the same.
ReplayFn = Callable[[Any, Mapping[str, str]], int | None]


def _replay_jira(parsed: Any, headers: Mapping[str, str]) -> int | None:
    # The identifier is a header the signature does not cover: guard by the body, also when
    # the identifier is left out (the body-hash key would not meet a copy stored under one).
    ts = parsed.get("timestamp") if isinstance(parsed, dict) else None
    return ts if type(ts) is int and 0 <= ts < 2**62 else 0


def _replay_trello(parsed: Any, headers: Mapping[str, str]) -> int | None:
    return None  # the dedupe key is the action id inside the signed body, or the body's hash


def _duplicate_of(found: Any, dedupe_key: str, body: bytes) -> int | None:
    """Of the rows an insert conflicted with (id, dedupe_key, body), the one it duplicates:
    the same dedupe key, or byte for byte the same body. None: only the digest collided."""
    for row in found:
        if row[1] == dedupe_key or bytes(row[2]) == body:
            return int(row[0])
    return None


def _verify_jira(src: CachedSource, body: bytes, headers: Mapping[str, str], url: str, now: float) -> str | None:
    if not src.webhook_secret:
        return "this source has no webhook secret: webhooks are disabled until one is set"
    header = headers.get("x-hub-signature")
    if not header:
        return "missing X-Hub-Signature header (sha256=<hex HMAC of the body>)"
    for secret in src.secrets_at(now):
        if jira_webhooks.verify_signature(secret, body, header):
            return None
    return "X-Hub-Signature does not match the body"


def _verify_trello(src: CachedSource, body: bytes, headers: Mapping[str, str], url: str, now: float) -> str | None:
    if not src.webhook_secret:
        return ("this source has no Trello app secret (credentials.app_secret): webhooks are disabled "
                "until it is set")
    header = headers.get("x-trello-webhook")
    if not header:
        return "missing X-Trello-Webhook header"
    # Trello signs body + the exact callback URL it was registered with; behind a proxy the
    # request URL differs, so the configured public URL is tried first. (Its secret is the
    # Trello app's, which taskhub never rotates, so there is no previous one in practice.)
    for secret in src.secrets_at(now):
        for candidate in dict.fromkeys((src.callback_url, url)):
            if trello_webhooks.verify_signature(secret, body, candidate, header):
                return None
    return "X-Trello-Webhook does not match the body and callback URL"


def _dedupe_jira(parsed: Any, body: bytes, headers: Mapping[str, str]) -> str:
    ident = headers.get("x-atlassian-webhook-identifier")
    return f"jira:{ident[:150]}" if ident else body_hash(body)


def _dedupe_trello(parsed: Any, body: bytes, headers: Mapping[str, str]) -> str:
    if isinstance(parsed, dict):
        action = parsed.get("action")
        if isinstance(action, dict) and isinstance(action.get("id"), str):
            return f"trello:{action['id'][:150]}"
    return body_hash(body)


SECRET_HEADER = "X-Taskhub-Secret"  # noqa: S105 - a header name, not a secret


def verify_secret_header(src: CachedSource, headers: Mapping[str, str], now: float) -> str | None:
    """The scheme for senders that cannot sign, whatever the kind: the source's automation secret
    (``secrets.token_urlsafe(32)``, 256 random bits) sent as it is in ``X-Taskhub-Secret``, compared
    in constant time with the current one and, during a rotation's overlap, the previous one.
    None when it matches, else the reason for a 401."""
    if not src.automation.current:
        return (f"source {src.id} has no automation secret: create one with POST /api/v1/sources/{src.id}"
                "/automation-secret and send it in the X-Taskhub-Secret header")
    given = headers.get(SECRET_HEADER.lower())
    if not given:
        return f"missing {SECRET_HEADER} header (the source's automation secret)"
    # Bytes: compare_digest refuses non-ASCII str, and a header may hold any byte.
    sent = given.strip().encode("utf-8", "surrogateescape")
    matched = False
    for secret in src.automation.at(now):  # no early exit: every candidate is compared
        matched |= hmac.compare_digest(sent, secret.encode("utf-8"))
    return None if matched else f"{SECRET_HEADER} does not match this source's automation secret"


def automation_dedupe(body: bytes) -> str:
    """An automation request has no delivery id: a byte-identical body (the same issue data)
    for the same source is a duplicate. Its key comes from the authenticated body itself, so
    no replay guard is needed beside it (``REPLAY``'s None)."""
    return "automation:" + body_hash(body)


# kind -> (parsed body) -> (the payload that kind's webhook handler takes, which body it was);
# raises ValueError naming what is missing (a 422). Only tools that cannot sign have a door.
Normalizer = Callable[[Any], tuple[dict[str, Any], str]]
AUTOMATION: dict[str, Normalizer] = {"jira": jira_automation.to_webhook_payload}

VERIFIERS: dict[str, Verifier] = {"jira": _verify_jira, "trello": _verify_trello}
DEDUPE: dict[str, DedupeFn] = {"jira": _dedupe_jira, "trello": _dedupe_trello}
REPLAY: dict[str, ReplayFn] = {"jira": _replay_jira, "trello": _replay_trello}


class SourceCache:
    def __init__(self, settings: Settings, ttl: float = 5.0) -> None:
        self._settings = settings
        self._ttl = ttl
        self._items: dict[int, tuple[float, CachedSource | None]] = {}
        self._inflight: dict[int, Any] = {}

    def evict(self, source_id: int | None = None) -> None:
        if source_id is None:
            self._items.clear()
        else:
            self._items.pop(source_id, None)

    async def get(self, engine: AsyncEngine, source_id: int) -> CachedSource | None:
        now = time.monotonic()
        hit = self._items.get(source_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        # Single flight: concurrent misses for one source share one lookup.
        pending = self._inflight.get(source_id)
        if pending is not None:
            return await pending
        fut = asyncio.get_running_loop().create_future()
        self._inflight[source_id] = fut
        try:
            cached = await self._load(engine, source_id)
            self._items[source_id] = (time.monotonic() + self._ttl, cached)
            fut.set_result(cached)
            return cached
        except BaseException as exc:
            # Waiters get the exception without the frames that show it came from the driver
            # (an outage test saw them answer 500): an outage is classified here, where they are.
            reason = unavailable_reason(exc)
            shared = StoreUnavailable(reason) if reason is not None else exc
            if shared is not exc:
                shared.__cause__ = exc
            fut.set_exception(shared)
            fut.exception()  # retrieved: no "never retrieved" warning when nobody else waits
            raise
        finally:
            self._inflight.pop(source_id, None)

    async def _load(self, engine: AsyncEngine, source_id: int) -> CachedSource | None:
        async with engine.connect() as conn:
            row = (await conn.execute(
                sa.select(S.c.id, S.c.org_id, S.c.kind, S.c.enabled, S.c.credentials_enc, S.c.webhook_secret_enc,
                          S.c.webhook_secret_prev_enc, S.c.webhook_secret_prev_until, S.c.automation_secret_enc,
                          S.c.automation_secret_prev_enc, S.c.automation_secret_prev_until)
                .where(S.c.id == source_id)
            )).first()
        if row is None:
            return None
        from service.security.crypto import get_vault
        from service.sources import callback_url, delivery_secret

        vault = get_vault(self._settings)
        # Only Trello's credentials hold a signing secret (its app secret): Jira's are not decrypted.
        creds = vault.decrypt(row.credentials_enc) if row.kind == "trello" and row.credentials_enc else {}
        stored = vault.decrypt_str(row.webhook_secret_enc) if row.webhook_secret_enc else None
        secret = delivery_secret(row.kind, creds, stored)
        until = row.webhook_secret_prev_until
        previous = vault.decrypt_str(row.webhook_secret_prev_enc) if row.webhook_secret_prev_enc and until else None
        return CachedSource(row.id, row.org_id, row.kind, row.enabled, secret,
                            callback_url(self._settings, row.kind, row.id), previous,
                            until.timestamp() if previous and until else None,
                            _header_secret(vault, row.automation_secret_enc, row.automation_secret_prev_enc,
                                           row.automation_secret_prev_until))


def _header_secret(vault: Any, current: str | None, previous: str | None, until: Any) -> HeaderSecret:
    """The decrypted automation secret and, while its overlap runs, the previous one (a naive
    time read from SQLite is UTC, as every stored time)."""
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return HeaderSecret(vault.decrypt_str(current) if current else None,
                        vault.decrypt_str(previous) if previous and until else None,
                        until.timestamp() if previous and until else None)


_COLS = ("org_id", "source_id", "kind", "dedupe_key", "received_at", "headers", "body", "body_ts", "body_digest",
         "status", "attempts", "next_attempt_at")


def compiled_insert(dialect_name: str) -> tuple[str, tuple[str, ...]]:
    """The inbox INSERT as a Core statement over the table, compiled once for the raw driver."""
    from sqlalchemy.dialects import postgresql, sqlite
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect

    pg = dialect_name == "postgresql"
    dialect = asyncpg_dialect() if pg else sqlite.dialect()
    stmt = (
        (postgresql.insert(IE) if pg else sqlite.insert(IE))
        .values({c: sa.bindparam(c) for c in _COLS})
        # No conflict target: a clash on either unique key (the dedupe key or the body digest,
        # the replay guard) makes the delivery a duplicate.
        .on_conflict_do_nothing()
        .returning(IE.c.id)
    )
    compiled = stmt.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup or ())


_SELECT_EXISTING = ("SELECT id, dedupe_key, body FROM inbox_event WHERE source_id = {p1} "
                    "AND (dedupe_key = {p2} OR (body_ts = {p3} AND body_digest = {p4})) ORDER BY id")


# asyncpg's words when a statement finds the protocol still consuming an error that no operation
# asked for (state 2, PROTOCOL_ERROR_CONSUME): the server's FATAL "terminating connection" sent
# to an idle session. Other "cannot switch to state" errors are asyncpg's own inconsistencies.
_SERVER_HUNG_UP = "another operation (2) is in progress"


@asynccontextmanager
async def _connection_loss(conn: Any) -> AsyncIterator[None]:
    """Name a connection the server closed mid-transaction for what it is. When PostgreSQL
    terminates a session between two statements (``pg_ctl stop``: admin shutdown), asyncpg's
    next statement fails with ``InternalClientError: cannot switch to state …; another
    operation (2) is in progress`` rather than a connection error (the socket's end may not be
    read yet), and the webhook answered 500 instead of the outage's 503. Only that state, or a
    connection already closed, is a loss: any other ``InternalClientError`` is a bug (500)."""
    import asyncpg

    try:
        yield
    except asyncpg.InternalClientError as exc:
        if not (conn.is_closed() or _SERVER_HUNG_UP in str(exc)):
            raise
        conn.terminate()  # its protocol state is broken: the pool must not hand it out again
        raise asyncpg.ConnectionDoesNotExistError("the server closed the connection during the write") from exc


class InboxWriter:
    """Writes inbox events through the raw driver, with group commit.

    The statement comes from the SQLModel table via SQLAlchemy Core, compiled once;
    executing it without SQLAlchemy's async layers keeps the hot path close to a
    bare driver (see bench/ingest.py). Concurrent requests are grouped: while one
    batch is being written, new arrivals queue for the next, and each batch is one
    transaction — one commit (and one thread hop on SQLite) for many events. A
    request's 202 is sent only after the transaction holding its event committed.
    """

    MAX_BATCH = 256

    def __init__(self, url: str, monitor: OutageMonitor | None = None) -> None:
        self.url = url
        # Told of each committed batch: the first one after a database outage ends it.
        self.monitor = monitor
        self.is_sqlite = url.startswith("sqlite")
        self._sql, self._order = compiled_insert("sqlite" if self.is_sqlite else "postgresql")
        p = ("?", "?", "?", "?") if self.is_sqlite else ("$1", "$2", "$3", "$4")
        self._select = _SELECT_EXISTING.format(p1=p[0], p2=p[1], p3=p[2], p4=p[3])
        self._pending: list[tuple[list[Any], Any]] = []
        self._flushing = False
        self._conn: Any = None
        self._pool: Any = None
        self._executor: Any = None
        self._lock: Any = None

    # --- connections -------------------------------------------------------------
    def _sqlite_connect(self) -> Any:
        import sqlite3

        conn = sqlite3.connect(self.url.split("sqlite:///", 1)[1], isolation_level=None, check_same_thread=False,
                               timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000", "foreign_keys=ON"):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    async def _ensure(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.is_sqlite:
                if self._conn is None:
                    from concurrent.futures import ThreadPoolExecutor

                    self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="taskhub-inbox")
                    self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, self._sqlite_connect)
            elif self._pool is None:
                import asyncpg

                dsn = self.url.replace("postgresql+psycopg://", "postgresql://").replace(
                    "postgresql+asyncpg://", "postgresql://")
                # min_size=0: with a floor, asyncpg's pool logs a traceback per reconnect attempt while
                # the server is down; connections are kept between requests either way.
                self._pool = await asyncpg.create_pool(dsn, min_size=0, max_size=4)

    # --- the write path -------------------------------------------------------------
    async def insert(self, src: CachedSource, dedupe_key: str, body: bytes,
                     headers: dict[str, str], event_ts: int | None = None) -> tuple[int, bool]:
        """Store one event; ``(id, duplicate)``. ``event_ts`` (see ``REPLAY``): None, no replay
        guard for it; else the body's event time, and its digest joins the guard's index."""
        if (self._conn if self.is_sqlite else self._pool) is None:
            await self._ensure()
        now = utcnow()
        stamp: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if self.is_sqlite else now  # SQLAlchemy's SQLite form
        values = {"org_id": src.org_id, "source_id": src.id, "kind": src.kind, "dedupe_key": dedupe_key,
                  "received_at": stamp, "headers": orjson.dumps(headers).decode(), "body": body,
                  "body_ts": event_ts, "body_digest": None if event_ts is None else body_digest(body),
                  "status": "pending", "attempts": 0, "next_attempt_at": stamp}
        fut = asyncio.get_running_loop().create_future()
        self._pending.append(([values[k] for k in self._order], fut))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending[: self.MAX_BATCH], self._pending[self.MAX_BATCH :]
                try:
                    if self.is_sqlite:
                        results = await asyncio.get_running_loop().run_in_executor(
                            self._executor, self._write_sqlite, [a for a, _ in batch])
                    else:
                        results = await self._write_pg([a for a, _ in batch])
                except Exception as exc:  # noqa: BLE001 - every waiter gets the failure
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                if self.monitor is not None:
                    self.monitor.recovered()
                for (_, fut), res in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(res)
        finally:
            self._flushing = False

    def _write_sqlite(self, rows: list[list[Any]]) -> list[tuple[int, bool]]:
        conn = self._conn
        out: list[tuple[int, bool]] = []
        src_i, key_i, ts_i, dig_i, body_i = (self._order.index(c) for c in ("source_id", "dedupe_key", "body_ts",
                                                                             "body_digest", "body"))
        conn.execute("BEGIN IMMEDIATE")
        try:
            for args in rows:
                row = conn.execute(self._sql, args).fetchone()
                if row is not None:
                    out.append((int(row[0]), False))
                    continue
                found = conn.execute(self._select, (args[src_i], args[key_i], args[ts_i], args[dig_i])).fetchall()
                dup = _duplicate_of(found, args[key_i], args[body_i])
                if dup is not None:
                    out.append((dup, True))
                else:  # a 64-bit digest collision: stored without a digest (the only writer holds the lock)
                    row = conn.execute(self._sql, [*args[:dig_i], None, *args[dig_i + 1:]]).fetchone()
                    out.append((int(row[0]), False))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return out

    async def _write_pg(self, rows: list[list[Any]]) -> list[tuple[int, bool]]:
        """One transaction for the batch, on a connection acquired and released explicitly.

        Not ``async with pool.acquire()``: its exit releases the connection, and the release
        resets it (a query) after the commit. When the server stops at that moment, asyncpg
        raises ``InternalClientError`` from the release, after every event of the batch was
        committed; answering that with an error (a 500, or even a 503) would deny deliveries
        that are stored. So a failed release after the commit only discards the connection.
        """
        conn = await self._pool.acquire()
        try:
            async with _connection_loss(conn), conn.transaction():
                out = await self._insert_pg(conn, rows)
        except BaseException:
            await self._release(conn)  # the write's own failure is the answer (a lost connection: 503)
            raise
        await self._release(conn)  # committed: the 202s are true whatever the connection does now
        return out

    async def _release(self, conn: Any) -> None:
        """Give ``conn`` back to the pool, or, when that fails (its reset met a server that went
        away), make sure it is terminated: the pool opens a new connection for the next batch."""
        try:
            await self._pool.release(conn)
        except Exception as exc:  # noqa: BLE001 - a broken connection is discarded, not reported
            log.debug("inbox writer: releasing a connection failed (%s); terminating it", exc)
            # asyncpg terminates it itself when its reset fails; then the proxy is already detached.
            with suppress(Exception):
                conn.terminate()

    async def _insert_pg(self, conn: Any, rows: list[list[Any]]) -> list[tuple[int, bool]]:
        """Insert each row in ``conn``'s open transaction: ``(id, duplicate)`` per row."""
        out: list[tuple[int, bool]] = []
        src_i, key_i, ts_i, dig_i, body_i = (self._order.index(c) for c in ("source_id", "dedupe_key", "body_ts",
                                                                             "body_digest", "body"))
        for args in rows:
            new_id = await conn.fetchval(self._sql, *args)
            if new_id is not None:
                out.append((int(new_id), False))
                continue
            found = await conn.fetch(self._select, args[src_i], args[key_i], args[ts_i], args[dig_i])
            dup = _duplicate_of(found, args[key_i], args[body_i])
            if dup is None:  # a 64-bit digest collision: store it without a digest
                new_id = await conn.fetchval(self._sql, *args[:dig_i], None, *args[dig_i + 1:])
                if new_id is not None:
                    out.append((int(new_id), False))
                    continue
                # Its dedupe key was committed meanwhile by another writer: that one it duplicates.
                dup = _duplicate_of(await conn.fetch(self._select, args[src_i], args[key_i], None, None),
                                    args[key_i], args[body_i])
            assert dup is not None, "the inbox insert conflicted with a row it neither duplicates nor found again"
            out.append((int(dup), True))
        return out

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None


def parse_json(body: bytes) -> Any:
    return orjson.loads(body)
