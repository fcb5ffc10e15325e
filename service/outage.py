"""Database outages: recognize them once, answer 503 with Retry-After, log them once.

When PostgreSQL stops (or SQLite's file cannot be opened), every request that touches
the store fails with some driver's exception: psycopg's ``OperationalError``, asyncpg's
``ConnectionDoesNotExistError`` or a bare ``ConnectionRefusedError`` from its connect,
SQLAlchemy's pool ``TimeoutError``, a ``DBAPIError`` whose ``connection_invalidated`` is
set. ``unavailable_reason`` is the one place that tells those apart from bugs, so that
webhooks, the API, the dashboard, ``/readyz`` and the worker all answer the same way:
a 503 a sender can retry, never a 500 with a traceback per request.

``OutageMonitor`` keeps the state of one outage (since when, why, how many requests
were turned away) and writes two log lines per outage: a warning at the first failure,
without a traceback, and an info line with the count once the store answers again after
a quiet period (so a partial outage does not flap). A store that is there but overloaded
(SQLite's lock, an exhausted pool) is "busy" rather than "unavailable", a 503 all the same.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["BUSY_REASONS", "RETRY_AFTER_SECONDS", "OutageMonitor", "describe", "is_database_unavailable",
           "unavailable_reason", "watch_engine"]

log = logging.getLogger("taskhub.db")

# Long enough that a sender's retries do not hammer a restarting server, short enough that
# deliveries resume soon after it is back (the store recovers within ~2 s of a restart).
RETRY_AFTER_SECONDS = 5

# SQLSTATEs meaning "the server is not there for us", by class or by code.
_UNAVAILABLE_CLASSES = {"08": "connection lost"}  # connection exception
_UNAVAILABLE_CODES = {
    "57P01": "server shutting down (admin shutdown)",
    "57P02": "server crashed",
    "57P03": "server not accepting connections (starting up or shutting down)",
    "53300": "too many connections",
}
# Modules whose raw socket errors are the store's (asyncpg's connect does not wrap them).
_DB_MODULES = ("asyncpg", "sqlalchemy", "psycopg", "aiosqlite")
_SQLITE_UNAVAILABLE = ("unable to open database file", "disk i/o error", "database is locked")
# psycopg's client-side OperationalError (no SQLSTATE): message fragments of a connection that
# could not be made or was lost (libpq's wording), and the reason each one gives.
_PSYCOPG_LOST = (
    (("connection refused",), "connection refused"),
    (("server closed the connection", "terminating connection", "connection lost", "the connection is lost",
      "could not receive data", "could not send data", "no connection to the server", "eof detected"),
     "server closed the connection"),
    (("could not connect", "could not translate host name", "timeout expired", "connection is bad",
      "connection failed"), "could not connect"),
)
# Reasons that mean the store is there but overloaded, not down: a 503 that says "busy".
BUSY_REASONS = frozenset({"database is locked", "connection pool exhausted"})


class StoreUnavailable(Exception):
    """An outage recognized where its evidence was at hand, for callers that cannot see it: the
    waiters of a shared lookup (``SourceCache``) receive the loader's exception without the
    driver's frames that tell a refused database connection from any other refused socket."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _from_db_module(tb: TracebackType | None) -> bool:
    """Whether a traceback passes through a database driver: a ``ConnectionRefusedError`` from
    ``requests`` (a Jira call) is a connector failure, not an outage of the store."""
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DB_MODULES):
            return True
        tb = tb.tb_next
    return False


def _socket_reason(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "connection reset"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    return f"connection failed ({exc.strerror or exc.__class__.__name__})"


def _one(exc: BaseException, db_context: bool) -> str | None:
    """The reason for one exception of a chain, without looking at its causes."""
    if isinstance(exc, StoreUnavailable):
        return exc.reason
    if isinstance(exc, sa.exc.TimeoutError):  # QueuePool: every connection busy for pool_timeout
        return "connection pool exhausted"
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return "connection lost"
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return _UNAVAILABLE_CODES.get(sqlstate) or _UNAVAILABLE_CLASSES.get(sqlstate[:2])
    module = type(exc).__module__
    message = str(exc).lower()
    if module.startswith("psycopg") and type(exc).__name__ == "OperationalError":
        # Raised by the client (no SQLSTATE): an outage only when the message says the connection
        # could not be made or was lost. psycopg raises the same class for its own refusals
        # ("number of parameters must be between 0 and 65535"): a bug, answered 500 with its
        # traceback, never hidden behind a 503. (A connection psycopg marked broken in use is
        # caught above: SQLAlchemy sets ``connection_invalidated`` from ``conn.broken``.)
        return next((reason for words, reason in _PSYCOPG_LOST if any(w in message for w in words)), None)
    if module.startswith("asyncpg") and type(exc).__name__ == "InterfaceError" and "closed" in message:
        return "connection lost"
    if isinstance(exc, sqlite3.OperationalError) and message.startswith(_SQLITE_UNAVAILABLE):
        return message
    if isinstance(exc, OSError) and isinstance(exc, (ConnectionError, TimeoutError, socket.gaierror)) and (
            db_context or _from_db_module(exc.__traceback__)):
        return _socket_reason(exc)
    return None


def unavailable_reason(exc: BaseException) -> str | None:
    """Why the database cannot serve this request (``"connection refused"``, ``"server shutting
    down (admin shutdown)"``, …), or None when ``exc`` is not an outage. Looks through
    SQLAlchemy's wrapper (``.orig``), explicit and implicit causes and exception groups."""
    seen: set[int] = set()
    todo: list[tuple[BaseException, bool]] = [(exc, False)]
    while todo and len(seen) < 16:
        cur, db_context = todo.pop()
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        reason = _one(cur, db_context)
        if reason is not None:
            return reason
        inner_context = db_context or isinstance(cur, sa.exc.SQLAlchemyError)
        orig = getattr(cur, "orig", None)
        if isinstance(orig, BaseException):
            todo.append((orig, True))
        for nxt in (cur.__cause__, cur.__context__):
            if nxt is not None:
                todo.append((nxt, inner_context))
        if isinstance(cur, BaseExceptionGroup):
            todo.extend((e, db_context) for e in cur.exceptions)
    return None


def is_database_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the store is down or unreachable (answer 503, retry later),
    False for everything else (a bug: 500)."""
    return unavailable_reason(exc) is not None


def describe(reason: str) -> str:
    """The 503's words for ``reason``: "the database is busy (database is locked)" when the
    store is there but overloaded, else "the database is unavailable (connection refused)"."""
    return f"the database is {'busy' if reason in BUSY_REASONS else 'unavailable'} ({reason})"


class OutageMonitor:
    """One outage at a time: when it began, why, and how many requests got a 503.

    Shared by the request paths and the in-process worker of one app, so an outage is one
    warning and one recovery line however many requests and loops meet it. ``recovered`` is
    called after each success and costs one attribute read while the store is up.

    Successes and failures come from many paths at once (the inbox writer's asyncpg pool, both
    SQLAlchemy pools, the worker, ``/readyz``), and in a partial outage some keep succeeding
    while others fail ("too many connections" refuses new connections, old ones still work).
    So an outage ends only at a success that comes ``quiet`` seconds after its last failure: a
    failure every few seconds keeps it one outage (one warning, one recovery line, one count)
    instead of a WARNING/INFO pair per poll. The default quiet period is the Retry-After the 503
    asks for: a sender still turned away would have retried and failed within it.
    """

    def __init__(self, logger: logging.Logger | None = None, *, quiet: float = RETRY_AFTER_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger or log
        self._lock = threading.Lock()
        self._quiet = quiet
        self._clock = clock
        self.since: datetime | None = None
        self.reason: str | None = None
        self.answered = 0
        self._started = 0.0
        self._last_failure = 0.0

    def failed(self, exc: BaseException, *, request: bool = True) -> str:
        """Record a failure caused by an outage; returns its reason. ``request``: a client
        was answered 503 (counted), rather than a background loop backing off."""
        reason = unavailable_reason(exc) or "unavailable"
        with self._lock:
            now = self._clock()
            self._last_failure = now
            first = self.since is None
            if first:
                self.since, self.reason, self.answered = datetime.now(UTC), reason, 0
                self._started = now
            if request:
                self.answered += 1
        if not first:
            return reason
        if reason == "connection pool exhausted":
            # Not an outage of the store: every pooled connection stayed checked out for the pool's
            # timeout. A burst can do that; if it lasts, something holds connections (a leak).
            self._log.warning("database busy: connection pool exhausted (no connection came free within the "
                              "pool timeout; if this persists, look for a connection leak or raise the pool "
                              "size); answering 503 with Retry-After until one does")
        else:
            self._log.warning("database %s: %s; answering 503 with Retry-After until it is back",
                              "busy" if reason in BUSY_REASONS else "unavailable", reason)
        return reason

    def recovered(self) -> None:
        """The store answered: end the outage, if there was one and it has been quiet for the
        quiet period, with its count. Otherwise nothing: an early success ends nothing."""
        if self.since is None:
            return
        with self._lock:
            now = self._clock()
            if self.since is None or now - self._last_failure < self._quiet:
                return
            reason, answered = self.reason, self.answered
            seconds = self._last_failure - self._started
            self.since, self.reason, self.answered = None, None, 0
        self._log.info("database available again after %.1f s of failures (%s); %d requests were answered 503 "
                       "during the outage", seconds, reason, answered)

    def status(self) -> dict[str, Any] | None:
        """The current outage for ``/readyz``, or None while the store is up."""
        with self._lock:
            if self.since is None:
                return None
            return {"since": self.since.isoformat(), "reason": self.reason, "answered_503": self.answered}


def watch_engine(engine: sa.Engine, monitor: OutageMonitor) -> Callable[[], None]:
    """Tell ``monitor`` when ``engine`` proves the store answers. With ``pool_pre_ping`` (the
    PostgreSQL engines, ``service.db``) a checkout is a connection that just answered, new or
    pooled, so it is the API routes' success signal, and an outage ends at the first request
    after its quiet period rather than at the next new connection. Without a pre-ping (SQLite) a
    checkout proves nothing — a locked file still hands out its pooled connections, and each
    sparse request would end and restart the outage — so only a new connection counts there (the
    worker's and the inbox writer's committed writes are SQLite's real signal). Returns the
    function that stops watching, for an app shut down while its engine lives on."""
    name = "checkout" if getattr(engine.pool, "_pre_ping", False) else "connect"

    def on_success(*_args: Any) -> None:
        monitor.recovered()

    event.listen(engine, name, on_success)
    return lambda: event.remove(engine, name, on_success)
