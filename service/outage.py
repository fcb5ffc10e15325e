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
without a traceback, and an info line with the count once the store answers again.
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

__all__ = ["RETRY_AFTER_SECONDS", "OutageMonitor", "is_database_unavailable", "unavailable_reason", "watch_engine"]

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
    if isinstance(exc, sa.exc.TimeoutError):  # QueuePool: every connection busy for pool_timeout
        return "connection pool timeout"
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return "connection lost"
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return _UNAVAILABLE_CODES.get(sqlstate) or _UNAVAILABLE_CLASSES.get(sqlstate[:2])
    module = type(exc).__module__
    message = str(exc).lower()
    if module.startswith("psycopg") and type(exc).__name__ == "OperationalError":
        # Raised by the client (no SQLSTATE): the connection could not be made or was lost.
        if "refused" in message:
            return "connection refused"
        if "closed" in message or "terminat" in message or "lost" in message:
            return "server closed the connection"
        return "connection failed"
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


class OutageMonitor:
    """One outage at a time: when it began, why, and how many requests got a 503.

    Shared by the request paths and the in-process worker of one app, so an outage is one
    warning and one recovery line however many requests and loops meet it. ``recovered`` is
    called after each success and costs one attribute read while the store is up.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log
        self._lock = threading.Lock()
        self.since: datetime | None = None
        self.reason: str | None = None
        self.answered = 0
        self._started = 0.0

    def failed(self, exc: BaseException, *, request: bool = True) -> str:
        """Record a failure caused by an outage; returns its reason. ``request``: a client
        was answered 503 (counted), rather than a background loop backing off."""
        reason = unavailable_reason(exc) or "unavailable"
        with self._lock:
            first = self.since is None
            if first:
                self.since, self.reason, self.answered = datetime.now(UTC), reason, 0
                self._started = time.monotonic()
            if request:
                self.answered += 1
        if first:
            self._log.warning("database unavailable: %s; answering 503 with Retry-After until it is back",
                              reason)
        return reason

    def recovered(self) -> None:
        """The store answered: end the outage, if there was one, with its count."""
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            reason, answered = self.reason, self.answered
            seconds = time.monotonic() - self._started
            self.since, self.reason, self.answered = None, None, 0
        self._log.info("database available again after %.1f s (%s); %d requests were answered 503 "
                       "during the outage", seconds, reason, answered)

    def status(self) -> dict[str, Any] | None:
        """The current outage for ``/readyz``, or None while the store is up."""
        with self._lock:
            if self.since is None:
                return None
            return {"since": self.since.isoformat(), "reason": self.reason, "answered_503": self.answered}


def watch_engine(engine: sa.Engine, monitor: OutageMonitor) -> Callable[[], None]:
    """End ``monitor``'s outage when ``engine`` makes a new connection (the pool opens one after
    an outage invalidated the old ones): the API routes' only success signal. Returns the
    function that stops watching, for an app shut down while its engine lives on."""

    def on_connect(_dbapi_conn: Any, _record: Any) -> None:
        monitor.recovered()

    event.listen(engine, "connect", on_connect)
    return lambda: event.remove(engine, "connect", on_connect)
