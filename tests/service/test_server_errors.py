"""What counts as a database outage (503, retry) and what is a bug (500, logged once).

The classifier is tested with the real drivers' exceptions (psycopg, asyncpg and sqlite3
failing to reach a store), the log-once rule with a real uvicorn server, since the second
traceback of a 500 came from the server itself.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI

from service.api.problems import RequestIdMiddleware, install_problem_handlers
from service.outage import (
    RETRY_AFTER_SECONDS,
    OutageMonitor,
    describe,
    is_database_unavailable,
    unavailable_reason,
    watch_engine,
)
from tests.service.live import free_port, serve


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"sqlstate {sqlstate}")
        self.sqlstate = sqlstate


def _raised(fn):  # type: ignore[no-untyped-def]
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the exception is what is tested
        return exc
    raise AssertionError("expected an exception")


def test_psycopg_and_asyncpg_refused_connections_are_outages():
    port = free_port()  # nothing listens there
    engine = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    exc = _raised(lambda: engine.connect())
    assert isinstance(exc, sa.exc.OperationalError) and unavailable_reason(exc) == "connection refused"

    import asyncpg

    async def connect() -> None:
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{port}/x")

    # A loop of its own in a thread of its own: an earlier test of the session (the browser tests'
    # sync API) can leave this thread with a running event loop, where asyncio.run() refuses.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        exc = _raised(lambda: pool.submit(asyncio.run, connect()).result())
    assert isinstance(exc, ConnectionRefusedError) and unavailable_reason(exc) == "connection refused"


@pytest.mark.parametrize(("sqlstate", "reason"), [
    ("57P01", "server shutting down (admin shutdown)"),
    ("57P03", "server not accepting connections (starting up or shutting down)"),
    ("08006", "connection lost"), ("53300", "too many connections"),
])
def test_server_side_unavailability_by_sqlstate(sqlstate, reason):
    assert unavailable_reason(sa.exc.OperationalError("SELECT 1", {}, _Orig(sqlstate))) == reason


def test_a_pool_timeout_and_an_unopenable_sqlite_file_are_outages(tmp_path):
    assert unavailable_reason(sa.exc.TimeoutError("QueuePool limit reached")) == "connection pool exhausted"
    exc = _raised(lambda: sqlite3.connect(tmp_path / "missing-dir" / "x.db"))
    assert is_database_unavailable(exc)


def test_an_exhausted_pool_is_busy_and_its_warning_names_a_possible_leak(tmp_path, caplog):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}", pool_size=1, max_overflow=0, pool_timeout=0.01)
    held = engine.connect()  # the pool's only connection, never given back: a leak
    exc = _raised(engine.connect)
    held.close()
    engine.dispose()
    assert unavailable_reason(exc) == "connection pool exhausted"
    assert describe("connection pool exhausted") == "the database is busy (connection pool exhausted)"
    with caplog.at_level(logging.INFO, logger="taskhub.db"):
        OutageMonitor().failed(exc)
    [line] = [r.getMessage() for r in caplog.records if r.name == "taskhub.db"]
    assert line.startswith("database busy: connection pool exhausted") and "connection leak" in line


def test_a_locked_sqlite_file_is_busy_not_unavailable(tmp_path):
    path = tmp_path / "x.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("BEGIN IMMEDIATE")  # holds the write lock
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})

    def insert() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))

    exc = _raised(insert)
    writer.execute("ROLLBACK")
    writer.close()
    engine.dispose()
    reason = unavailable_reason(exc)
    assert reason == "database is locked"
    assert describe(reason) == "the database is busy (database is locked)"
    assert describe("connection refused") == "the database is unavailable (connection refused)"


@pytest.mark.parametrize(("message", "reason"), [
    ("consuming input failed: server closed the connection unexpectedly", "server closed the connection"),
    ('connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused',
     "connection refused"),
    ("connection failed: could not translate host name \"db\" to address", "could not connect"),
])
def test_psycopg_client_errors_of_a_lost_or_refused_connection_are_outages(message, reason):
    import psycopg

    assert unavailable_reason(sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError(message))) == reason


@pytest.mark.postgres
def test_a_psycopg_refusal_of_a_statement_is_a_bug_not_an_outage(pg_db):
    """psycopg raises OperationalError without a SQLSTATE for its own limits too: 70,000 bound
    parameters are refused before anything is sent. That was answered "503 database unavailable
    (connection failed)" and hid the bug; the connection is fine, so it is a 500."""
    from service.ingest.inbox import retry_events

    exc = _raised(lambda: retry_events(pg_db, None, list(range(1, 70_000))))
    assert isinstance(exc, sa.exc.OperationalError) and "65535" in str(exc)
    assert unavailable_reason(exc) is None
    with pg_db.read() as conn:  # and the store is indeed there
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1


def test_retry_takes_at_most_1000_ids(client, acme):
    too_many = client.post("/api/v1/inbox/retry", json={"ids": list(range(1, 1002))}, headers=acme.h("write"))
    assert too_many.status_code == 422 and too_many.headers["content-type"] == "application/problem+json"
    assert "1000" in too_many.text
    most = client.post("/api/v1/inbox/retry", json={"ids": list(range(1, 1001))}, headers=acme.h("write"))
    assert most.status_code == 404, most.text  # none of them exists: the query itself ran


@pytest.mark.postgres
@pytest.mark.parametrize(("message", "lost"), [
    ("cannot switch to state 15; another operation (2) is in progress", True),  # the server hung up
    ("cannot switch to state 16; another operation (12) is in progress", False),  # asyncpg's own trouble
])
def test_only_a_hung_up_server_is_a_lost_inbox_connection(pg_db, message, lost):
    import asyncpg

    from service.ingest.receive import _connection_loss

    async def scenario() -> BaseException:
        conn = await asyncpg.connect(pg_db.url.replace("postgresql+psycopg://", "postgresql://"))
        try:
            async with _connection_loss(conn):
                raise asyncpg.InternalClientError(message)
        except BaseException as exc:  # noqa: BLE001 - the translation is what is tested
            return exc
        finally:
            await conn.close()
        raise AssertionError("expected an exception")

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        exc = pool.submit(asyncio.run, scenario()).result()
    assert isinstance(exc, asyncpg.ConnectionDoesNotExistError if lost else asyncpg.InternalClientError)
    assert is_database_unavailable(exc) is lost


def test_bugs_and_other_services_failures_are_not_outages():
    assert not is_database_unavailable(sa.exc.ProgrammingError("SELECT nope", {}, _Orig("42P01")))
    assert not is_database_unavailable(sa.exc.IntegrityError("INSERT", {}, _Orig("23505")))
    assert not is_database_unavailable(RuntimeError("boom"))

    def call_jira() -> None:  # a refused outbound call: the connector's failure, not the store's
        raise ConnectionRefusedError(111, "Connection refused")

    assert not is_database_unavailable(_raised(call_jira))


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_monitor_logs_an_outage_once_and_its_recovery_with_the_count(caplog):
    clock = _Clock()
    monitor = OutageMonitor(clock=clock)
    down = sa.exc.OperationalError("SELECT 1", {}, _Orig("57P01"))
    with caplog.at_level(logging.INFO, logger="taskhub.db"):
        monitor.recovered()  # no outage: nothing to say
        for _ in range(50):
            monitor.failed(down)
        monitor.failed(down, request=False)  # a background loop: not a request answered 503
        assert monitor.status()["answered_503"] == 50  # type: ignore[index]
        clock.now += RETRY_AFTER_SECONDS  # the quiet period: no failure for a Retry-After
        monitor.recovered()
        monitor.recovered()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "taskhub.db"]
    assert len(lines) == 2
    assert lines[0][0] == "WARNING" and "admin shutdown" in lines[0][1]
    assert lines[1][0] == "INFO" and "50 requests were answered 503" in lines[1][1]
    assert monitor.status() is None
    assert all(r.exc_info is None for r in caplog.records)


def test_a_partial_outage_is_one_outage_not_a_warning_and_a_recovery_per_poll(caplog):
    """"too many connections" refuses the inbox writer's new connections while the worker's pooled
    ones keep answering: failures and successes alternate. One warning, one recovery line."""
    clock = _Clock()
    monitor = OutageMonitor(clock=clock)
    refused = sa.exc.OperationalError("connect", {}, _Orig("53300"))
    with caplog.at_level(logging.INFO, logger="taskhub.db"):
        for _ in range(20):
            monitor.failed(refused)  # a webhook: 503
            clock.now += 0.2
            monitor.recovered()  # the worker's poll on an old connection
            assert monitor.status() is not None
            clock.now += 0.8
        clock.now += RETRY_AFTER_SECONDS - 1.0 + 0.01
        monitor.recovered()  # the first success after a quiet Retry-After ends it
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "taskhub.db"]
    assert [level for level, _ in lines] == ["WARNING", "INFO"], lines
    assert "too many connections" in lines[0][1] and "20 requests were answered 503" in lines[1][1]
    assert monitor.status() is None


def test_a_pooled_checkout_ends_an_outage_after_its_quiet_period_where_it_is_pinged(db):
    """PostgreSQL: every checkout is pre-pinged, so it is the API routes' success signal, not only
    a new connection. SQLite: no pre-ping, so a pooled checkout is no signal at all."""
    clock = _Clock()
    monitor = OutageMonitor(clock=clock)
    with db.read() as conn:  # the pool has its connection before the outage
        conn.execute(sa.text("SELECT 1"))
    unwatch = watch_engine(db.engine, monitor)
    try:
        monitor.failed(sa.exc.OperationalError("SELECT 1", {}, _Orig("57P01")))
        with db.read() as conn:  # within the quiet period: still an outage
            conn.execute(sa.text("SELECT 1"))
        assert monitor.status() is not None
        clock.now += RETRY_AFTER_SECONDS
        with db.read() as conn:  # a pooled connection, no new one
            conn.execute(sa.text("SELECT 1"))
        assert (monitor.status() is None) is (not db.is_sqlite)
    finally:
        unwatch()


def test_a_checkout_from_a_locked_sqlite_file_does_not_end_the_outage(tmp_path):
    """SQLite hands out its pooled connection while another process holds the write lock: a
    checkout proves nothing there, so sparse requests must not end and restart the outage."""
    import sqlite3 as _sqlite3

    path = tmp_path / "locked.db"
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    holder = _sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    clock = _Clock()
    monitor = OutageMonitor(clock=clock)
    unwatch = watch_engine(engine, monitor)
    try:
        for _ in range(3):  # sparse requests, each after the quiet period
            clock.now += RETRY_AFTER_SECONDS + 1
            with pytest.raises(sa.exc.OperationalError) as err, engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO t VALUES (1)"))
            monitor.failed(err.value)
            assert monitor.status() is not None
        assert monitor.status()["answered_503"] == 3  # type: ignore[index] - one outage, counted
    finally:
        unwatch()
        holder.rollback()
        holder.close()
        engine.dispose()


def _store_gone_at_teardown() -> Iterator[None]:
    """Like a session whose rollback fails at close: the store went away after the answer."""
    yield
    raise sa.exc.OperationalError("ROLLBACK", {}, _Orig("57P01"))


def _bug_at_teardown() -> Iterator[None]:
    yield
    raise RuntimeError("a bug in a dependency's cleanup")


def _failing_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/dbapi-bug")
    def dbapi_bug() -> None:
        raise sa.exc.ProgrammingError("SELECT nope", {}, _Orig("42P01"))

    @app.get("/down")
    async def down() -> None:
        raise ConnectionRefusedError(111, "Connection refused") from sa.exc.OperationalError(
            "SELECT 1", {}, _Orig("08001"))

    @app.get("/teardown-outage", dependencies=[Depends(_store_gone_at_teardown)])
    def teardown_outage() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/teardown-bug", dependencies=[Depends(_bug_at_teardown)])
    def teardown_bug() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def _settle(caplog: pytest.LogCaptureFixture) -> None:
    """Wait until the server has no request in flight and the log stopped growing."""
    seen = -1
    while seen != len(caplog.records):
        seen = len(caplog.records)
        time.sleep(0.2)


def test_a_failure_after_the_answer_was_sent_is_logged_once_or_counted_as_an_outage(caplog):
    caplog.set_level(logging.INFO)
    with serve(_failing_app()) as url, httpx.Client(base_url=url) as client:
        caplog.clear()
        assert client.get("/teardown-bug").json() == {"ok": "yes"}
        _settle(caplog)  # the teardown runs after the client has its answer
        assert len([rec for rec in caplog.records if rec.exc_info]) == 1
        caplog.clear()
        assert client.get("/teardown-outage").json() == {"ok": "yes"}
        assert client.get("/teardown-outage").status_code == 200
        _settle(caplog)
    assert not [rec for rec in caplog.records if rec.exc_info]
    warnings = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert [rec.getMessage().split(";")[0] for rec in warnings] == ["database unavailable: server shutting down "
                                                                     "(admin shutdown)"]


def test_each_500_logs_one_traceback_and_an_outage_none(caplog):
    caplog.set_level(logging.INFO)
    with serve(_failing_app()) as url, httpx.Client(base_url=url) as client:
        for path in ("/boom", "/dbapi-bug"):
            caplog.clear()
            r = client.get(path, headers={"X-Request-ID": "rid-7"})
            assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
            assert r.json()["request_id"] == "rid-7" and r.headers["x-request-id"] == "rid-7"
            tracebacks = [rec for rec in caplog.records if rec.exc_info]
            assert len(tracebacks) == 1, [(rec.name, rec.getMessage()) for rec in tracebacks]
            assert getattr(tracebacks[0], "request_id", None) == "rid-7"
        caplog.clear()
        answers = [client.get("/down") for _ in range(3)]
    assert {(r.status_code, r.headers.get("retry-after")) for r in answers} == {(503, "5")}
    assert not [rec for rec in caplog.records if rec.exc_info]
    warnings = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "database unavailable" in warnings[0].getMessage()
