"""Engines for both stores, sessions, and the migration entry points.

SQLite (embedded default, WAL) and PostgreSQL share one code path. The CRUD
routes, the worker and sync use the sync engine (psycopg 3 / sqlite3); the
webhook ingest path uses the async engine (asyncpg / aiosqlite) so it never
hops through the thread pool.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Session

from service.settings import Settings, get_settings

__all__ = [
    "Database",
    "get_database",
    "reset_database_cache",
    "async_url",
    "json_dumps",
    "JSON_OPTIONS",
    "MIGRATIONS_DIR",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith("postgresql+psycopg://"):
        return "postgresql+asyncpg://" + url[len("postgresql+psycopg://") :]
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url[len("postgresql://") :]
    return url


JSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson (a synced task's ``raw`` is ~5 KB; the stdlib
    encoder was a tenth of a full sync's CPU). Whatever orjson would handle differently
    from ``json.dumps`` (datetimes, dataclasses, big ints, subclasses it rejects) goes
    to ``json.dumps``, which keeps its behaviour, errors included."""
    try:
        return orjson.dumps(value, option=JSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module so BEGIN is ours (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-32768")
    cur.execute("PRAGMA wal_autocheckpoint=8000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers BEGIN IMMEDIATE: in WAL mode a deferred transaction that reads and then
    # writes fails at once with SQLITE_BUSY_SNAPSHOT when another writer got in first;
    # IMMEDIATE waits on busy_timeout instead.
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


_RETRYABLE = {"40P01", "40001"}  # deadlock detected, serialization failure


def retryable(exc: BaseException) -> bool:
    """A PostgreSQL deadlock or serialization failure: the transaction was rolled back and the
    same work can simply run again. (Writers of one source share its project, task and rollup
    rows; each statement locks them in key order, but two transactions of several statements
    can still meet in opposite orders.)"""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) in _RETRYABLE


class Database:
    """Both engines for one URL, created lazily (no I/O until first use)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._echo = echo
        self._engine: Engine | None = None
        self._async_engine: AsyncEngine | None = None
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._make_engine()
        return self._engine

    def _make_engine(self) -> Engine:
        if self.is_sqlite:
            path = self.url.split("sqlite:///", 1)[1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            eng = sa.create_engine(
                self.url,
                echo=self._echo,
                connect_args={"check_same_thread": False, "timeout": 30},
                json_serializer=json_dumps,
            )
            event.listen(eng, "connect", _sqlite_pragmas)
            event.listen(eng, "begin", _sqlite_begin)
            return eng
        return sa.create_engine(
            self.url,
            echo=self._echo,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            json_serializer=json_dumps,
        )

    @property
    def async_engine(self) -> AsyncEngine:
        if self._async_engine is None:
            with self._lock:
                if self._async_engine is None:
                    if self.is_sqlite:
                        eng = create_async_engine(async_url(self.url), echo=self._echo)
                        event.listen(eng.sync_engine, "connect", _sqlite_pragmas)
                    else:
                        # Pre-ping: after a restart of the server the pool's connections are
                        # dead; without it the first lookup through each answered 503 again.
                        # (Only the webhook source cache uses this engine, every few seconds.)
                        eng = create_async_engine(
                            async_url(self.url), echo=self._echo, pool_size=20, max_overflow=30,
                            pool_pre_ping=True,
                        )
                    self._async_engine = eng
        return self._async_engine

    @property
    def write_engine(self) -> Engine:
        """The engine for read-then-write transactions (BEGIN IMMEDIATE on SQLite)."""
        if self.is_sqlite:
            return self.engine.execution_options(sqlite_begin="IMMEDIATE")
        return self.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session for CRUD; writes are serialized on SQLite."""
        with Session(self.write_engine, expire_on_commit=False) as s:
            yield s

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction on a Core connection (a whole sync page goes in one)."""
        with self.write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # --- migrations -------------------------------------------------------------
    # Alembic is imported by these methods only (~85 ms, on purpose): API replicas and workers on
    # PostgreSQL never migrate, `taskhub migrate` does.
    def alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        cfg.attributes["engine"] = self.engine
        return cfg

    def migrate(self, revision: str = "head") -> None:
        from alembic import command

        command.upgrade(self.alembic_config(), revision)

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.alembic_config()).get_current_head()

    def migrations_current(self) -> bool:
        return self.current_revision() == self.head_revision()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._async_engine = None  # async engines are disposed by their loop owner


_cache: dict[str, Database] = {}
_cache_lock = threading.Lock()


def get_database(settings: Settings | None = None) -> Database:
    url = (settings or get_settings()).effective_database_url
    with _cache_lock:
        db = _cache.get(url)
        if db is None:
            db = _cache[url] = Database(url)
        return db


def reset_database_cache() -> None:
    with _cache_lock:
        for db in _cache.values():
            db.dispose()
        _cache.clear()
