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
from service.outage import OutageMonitor, is_database_unavailable, unavailable_reason
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
    assert unavailable_reason(sa.exc.TimeoutError("QueuePool limit reached")) == "connection pool timeout"
    exc = _raised(lambda: sqlite3.connect(tmp_path / "missing-dir" / "x.db"))
    assert is_database_unavailable(exc)


def test_bugs_and_other_services_failures_are_not_outages():
    assert not is_database_unavailable(sa.exc.ProgrammingError("SELECT nope", {}, _Orig("42P01")))
    assert not is_database_unavailable(sa.exc.IntegrityError("INSERT", {}, _Orig("23505")))
    assert not is_database_unavailable(RuntimeError("boom"))

    def call_jira() -> None:  # a refused outbound call: the connector's failure, not the store's
        raise ConnectionRefusedError(111, "Connection refused")

    assert not is_database_unavailable(_raised(call_jira))


def test_the_monitor_logs_an_outage_once_and_its_recovery_with_the_count(caplog):
    monitor = OutageMonitor()
    down = sa.exc.OperationalError("SELECT 1", {}, _Orig("57P01"))
    with caplog.at_level(logging.INFO, logger="taskhub.db"):
        monitor.recovered()  # no outage: nothing to say
        for _ in range(50):
            monitor.failed(down)
        monitor.failed(down, request=False)  # a background loop: not a request answered 503
        assert monitor.status()["answered_503"] == 50  # type: ignore[index]
        monitor.recovered()
        monitor.recovered()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "taskhub.db"]
    assert len(lines) == 2
    assert lines[0][0] == "WARNING" and "admin shutdown" in lines[0][1]
    assert lines[1][0] == "INFO" and "50 requests were answered 503" in lines[1][1]
    assert monitor.status() is None
    assert all(r.exc_info is None for r in caplog.records)


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
