"""A PostgreSQL outage under webhook load: 503 with Retry-After, nothing acknowledged lost, recovery
without a restart, one warning and one recovery line in the log.

The test runs its own PostgreSQL (``initdb``/``pg_ctl`` from the install, as the ``postgres`` OS
user when run as root, since ``initdb`` refuses root) so that it can stop and start it, and the
app in a real uvicorn server, so the webhook fast path, the asyncpg inbox writer and the async
engine behave as in production. Senders post signed Jira deliveries in a loop while others read
the API and a dashboard page; PostgreSQL is stopped (``pg_ctl stop -m fast``) for a few seconds and started again.
Without the binaries the test skips, unless ``TASKHUB_REQUIRE_TOOLS=1`` or
``TASKHUB_REQUIRE_POSTGRES=1`` (CI), where it fails.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import hashlib
import hmac
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from service.app import create_app
from service.db import Database
from service.ingest.receive import CachedSource, InboxWriter
from service.outage import is_database_unavailable
from tests.service.conftest import JIRA_SOURCE, make_settings, make_tenant
from tests.service.live import free_port, serve

REQUIRE = os.environ.get("TASKHUB_REQUIRE_TOOLS") == "1" or os.environ.get("TASKHUB_REQUIRE_POSTGRES") == "1"
OUTAGE_SECONDS = 3.0
RECOVERY_DEADLINE = 20.0


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) + [p for p in [shutil.which("pg_ctl")] if p]
    if not found or not Path(found[-1]).with_name("initdb").exists():
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found; install the postgresql package"
        if REQUIRE:
            pytest.fail(msg)
        pytest.skip(msg)
    return Path(found[-1]).parent


@dataclass
class PrivatePostgres:
    bindir: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def data(self) -> Path:
        return self.root / "data"

    def ctl(self, *args: str) -> None:
        cmd = [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{' '.join(args)}: {r.stdout}{r.stderr}"

    def start(self) -> None:
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB")
        self.ctl("-l", str(self.root / "server.log"), "-w", "-t", "30", "-o", opts, "start")

    def stop(self, mode: str = "fast") -> None:
        self.ctl("-m", mode, "-w", "-t", "30", "stop")


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    bindir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="taskhub-pg-"))  # in /tmp: pytest's tmp_path is root's only
    as_user: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    pg = PrivatePostgres(bindir, root, free_port(), as_user)
    try:
        r = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(pg.data), "-U", "postgres", "-A", "trust",
                            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        pg.start()
        admin = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres",
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text("CREATE DATABASE taskhub"))
        admin.dispose()
        yield pg
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(pg.data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class Answer:
    sent: float
    received: float
    status: int
    retry_after: str | None
    ident: str  # the delivery's identifier (webhooks) or the path read (API, dashboard)
    detail: str


def _sender(url: str, source_id: int, secret: str, name: str, stop: threading.Event, out: list[Answer]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        i = 0
        while not stop.is_set():
            i += 1
            ident = f"{name}-{i}"
            body = orjson.dumps({"webhookEvent": "jira:issue_updated", "timestamp": i, "issue": {"id": ident}})
            sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            t0 = time.monotonic()
            r = client.post(f"/webhooks/jira/{source_id}", content=body, headers={
                "X-Hub-Signature": sig, "X-Atlassian-Webhook-Identifier": ident, "content-type": "application/json"})
            out.append(Answer(t0, time.monotonic(), r.status_code, r.headers.get("retry-after"), ident,
                              "" if r.status_code == 202 else r.text))


def _reader(client: httpx.Client, path: str, stop: threading.Event, out: list[Answer]) -> None:
    try:
        while not stop.is_set():
            t0 = time.monotonic()
            r = client.get(path)
            out.append(Answer(t0, time.monotonic(), r.status_code, r.headers.get("retry-after"), path,
                              "" if r.status_code == 200 else r.text))
            time.sleep(0.02)
    finally:
        client.close()


@pytest.mark.slow
def test_postgres_outage_under_webhook_load_is_503_then_recovers_without_loss(private_pg, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="httpx")  # a line per request otherwise
    caplog.set_level(logging.INFO)  # (second: set_level also sets the capturing handler's level)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{private_pg.port}/taskhub"
    Database(url).migrate()
    checker = Database(url)  # the test's own engine: its connections must not signal the app's recovery
    acme = make_tenant(checker, "acme")
    settings = make_settings(tmp_path, poll_sources=False)
    app = create_app(settings, Database(url), run_worker=True, migrate=False)
    answers: list[Answer] = []
    stop = threading.Event()
    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        created = client.post("/api/v1/sources", params={"verify": "false"}, json=JIRA_SOURCE, headers=acme.h())
        assert created.status_code == 201, created.text
        sid, secret = created.json()["id"], created.json()["webhook_secret"]
        threads = [threading.Thread(target=_sender, args=(base, sid, secret, f"s{n}", stop, answers))
                   for n in range(3)]
        api = httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {acme.read}"})
        dashboard = httpx.Client(base_url=base, timeout=10)
        assert dashboard.post("/login", data={"token": acme.read}).status_code == 303  # the session cookie
        assert dashboard.get("/").status_code == 200
        threads += [threading.Thread(target=_reader, args=(api, "/api/v1/sources", stop, answers)),
                    threading.Thread(target=_reader, args=(dashboard, "/", stop, answers))]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            private_pg.stop("fast")
            down_at = time.monotonic()
            time.sleep(OUTAGE_SECONDS / 2)
            ready_down = client.get("/readyz")
            time.sleep(OUTAGE_SECONDS / 2)
            up_at = time.monotonic()
            private_pg.start()
            started_at = time.monotonic()
            deadline = started_at + RECOVERY_DEADLINE
            while True:  # recovered: a delivery sent after the restart is acknowledged, and /readyz is 200
                acked = any(a.status == 202 and a.sent > started_at for a in list(answers))
                if acked and client.get("/readyz").status_code == 200:
                    break
                assert time.monotonic() < deadline, "no recovery within the deadline"
                time.sleep(0.1)
            recovered_in = time.monotonic() - started_at
            # The outage is declared over once nothing failed for a Retry-After (OutageMonitor's quiet
            # period), at the next success: the worker's polls and the senders' deliveries.
            while app.state.db_outage.status() is not None:
                assert time.monotonic() < deadline, "the outage was never declared over"
                time.sleep(0.1)
            processed_before = app.state.worker.processed
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(15)
        worker_deadline = time.monotonic() + 10  # the worker survived and goes on draining the inbox
        while app.state.worker.processed == processed_before and time.monotonic() < worker_deadline:
            time.sleep(0.1)
        worker_processed = app.state.worker.processed - processed_before

    # /readyz during the outage says why and since when.
    assert ready_down.status_code == 503 and ready_down.headers["retry-after"]
    why = ready_down.json()
    assert why["database"] == "unreachable: connection refused" and why["since"]

    # Every answer is 202/200 or 503 with Retry-After, never a 500; during the outage only 503s.
    assert {a.status for a in answers} <= {200, 202, 503}, [a for a in answers if a.status not in (200, 202, 503)][:3]
    unavailable = [a for a in answers if a.status == 503]
    assert unavailable and all(a.retry_after and int(a.retry_after) > 0 for a in unavailable)
    assert all("database is unavailable" in a.detail for a in unavailable)
    during = [a for a in answers if a.sent > down_at and a.received < up_at]
    assert len(during) > 20 and {a.status for a in during} == {503}
    assert {a.ident if a.ident.startswith("/") else "webhook" for a in during} == {"webhook", "/api/v1/sources", "/"}

    # Every acknowledged delivery is stored.
    acked = {f"jira:{a.ident}" for a in answers if a.status == 202}  # (202: webhooks only)
    with checker.read() as c:
        stored = set(c.execute(sa.text("SELECT dedupe_key FROM inbox_event WHERE source_id = :s"),
                               {"s": sid}).scalars())
    assert acked and acked <= stored, f"{len(acked - stored)} acknowledged deliveries lost"
    checker.dispose()

    # The log: one warning when it began, one line with the count when it ended, no tracebacks.
    outage = [r for r in caplog.records if r.name.startswith("taskhub") and r.levelno >= logging.INFO
              and ("database unavailable" in r.getMessage() or "database available again" in r.getMessage())]
    assert [r.levelname for r in outage] == ["WARNING", "INFO"], [r.getMessage() for r in outage]
    # Refused, lost, or not accepted (shutting down): psycopg reports a connect refused by a server
    # that is shutting down as "connection failed: … the database system is shutting down", which
    # service.outage words "could not connect" (seen on a loaded machine, where the stop takes longer).
    assert any(w in outage[0].getMessage() for w in ("connection", "could not connect")), outage[0].getMessage()
    assert f"{len(unavailable)} requests were answered 503" in outage[1].getMessage()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info][:3]
    assert worker_processed > 0
    print(f"\nanswers={len(answers)} 503s={len(unavailable)} acked={len(acked)} recovered_in={recovered_in:.1f}s")


def test_a_worker_outlives_an_unreachable_database_and_says_so_once(tmp_path, caplog):
    from service.worker import Worker

    caplog.set_level(logging.INFO)
    worker = Worker(Database(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/taskhub"),
                    make_settings(tmp_path, poll_sources=False), handlers={})
    attempts = 0
    run_once = worker.run_once

    def counted() -> int:
        nonlocal attempts
        attempts += 1
        return run_once()

    worker.run_once = counted  # type: ignore[method-assign]
    thread = worker.start_thread()
    deadline = time.monotonic() + 15
    while attempts < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    alive = thread.is_alive()
    worker.stop()
    thread.join(10)
    assert attempts >= 3 and alive
    said = [r for r in caplog.records if r.name == "taskhub.worker" and r.levelno >= logging.WARNING]
    assert [r.getMessage().split(";")[0] for r in said] == ["database unavailable: connection refused"]
    assert not [r for r in caplog.records if r.exc_info]


def _inbox_keys(db: Database, source_id: int) -> set[str]:
    with db.read() as c:
        return set(c.execute(sa.text("SELECT dedupe_key FROM inbox_event WHERE source_id = :s"),
                             {"s": source_id}).scalars())


def _jira_source(db: Database) -> CachedSource:
    from service.tables import Source

    org_id = make_tenant(db, "acme").org_id
    with db.session() as s:
        src = Source(org_id=org_id, kind="jira", name="jira")
        s.add(src)
        s.commit()
        return CachedSource(int(src.id), org_id, "jira", True, "secret", "http://testserver/webhooks/jira/1")  # type: ignore[arg-type]


async def _terminate_backend(db: Database, pid: int) -> None:
    """Have the server end session ``pid`` (as ``pg_ctl stop`` does: FATAL 57P01) and wait until it is gone."""
    import asyncpg

    admin = await asyncpg.connect(db.url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        # With a timeout (ms), PostgreSQL 14+ waits until the session has ended.
        assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
    finally:
        await admin.close()
    await asyncio.sleep(0.05)  # let the client read the server's last words


def _in_own_loop(coro: Any) -> Any:
    # A loop of its own in a thread of its own (see test_server_errors: a running loop may be left over).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.postgres
def test_a_failed_release_after_the_commit_keeps_the_batch_acknowledged(pg_db, monkeypatch):
    """The CI flake: the server went away between the batch's COMMIT and the pool's reset of the
    connection; asyncpg's release then terminates it and raises ``InternalClientError: cannot
    switch to state 15; another operation (2) is in progress``. The batch is stored, so its
    senders get their ids (202), and the next batch gets a new connection."""
    import asyncpg
    from asyncpg.pool import Pool

    src = _jira_source(pg_db)
    real_release = Pool.release
    fail_next = [True]

    async def release(pool: Pool, conn: Any, **kw: Any) -> None:
        if not fail_next[0]:
            return await real_release(pool, conn, **kw)  # type: ignore[no-any-return]
        fail_next[0] = False
        await _terminate_backend(pg_db, conn.get_server_pid())
        conn.terminate()  # what asyncpg's PoolConnectionHolder.release does when the reset fails
        raise asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress")

    monkeypatch.setattr(Pool, "release", release)  # on the class: the pool's own helpers call it too

    async def scenario() -> tuple[list[tuple[int, bool]], tuple[int, bool]]:
        writer = InboxWriter(pg_db.url)
        first = await asyncio.gather(*(writer.insert(src, f"k{i}", b"{}", {}) for i in range(3)))
        after = await writer.insert(src, "k-after", b"{}", {})
        await writer.close()
        return list(first), after

    first, after = _in_own_loop(scenario())
    assert not fail_next[0], "the release never ran"
    assert [dup for _, dup in first] == [False] * 3 and not after[1]
    assert _inbox_keys(pg_db, src.id) == {"k0", "k1", "k2", "k-after"}


@pytest.mark.postgres
def test_a_connection_lost_before_the_commit_is_an_outage_and_stores_nothing(pg_db):
    """The server ends the session after the batch's inserts, before its COMMIT: the senders get
    an outage (503, retry), not a 500, nothing half-written stays, and the writer goes on."""
    src = _jira_source(pg_db)

    async def scenario() -> tuple[BaseException | None, tuple[int, bool]]:
        writer = InboxWriter(pg_db.url)
        insert_rows = writer._insert_pg

        async def then_server_leaves(conn: Any, rows: list[list[Any]]) -> list[tuple[int, bool]]:
            out = await insert_rows(conn, rows)
            await _terminate_backend(pg_db, conn.get_server_pid())
            return out

        writer._insert_pg = then_server_leaves  # type: ignore[method-assign]
        failure: BaseException | None = None
        try:
            await writer.insert(src, "lost", b"{}", {})
        except Exception as exc:  # noqa: BLE001 - the failure is what is tested
            failure = exc
        writer._insert_pg = insert_rows  # type: ignore[method-assign]
        after = await writer.insert(src, "k-after", b"{}", {})
        await writer.close()
        return failure, after

    failure, after = _in_own_loop(scenario())
    assert failure is not None and is_database_unavailable(failure), repr(failure)
    assert not after[1]
    assert _inbox_keys(pg_db, src.id) == {"k-after"}


def test_the_waiters_of_a_shared_source_lookup_get_the_outage_not_a_bare_socket_error(monkeypatch):
    """The outage test once saw a 500: concurrent webhooks share one source lookup, and its
    waiters received the refused connection without the driver's frames that classify it."""
    import asyncio
    import concurrent.futures

    from service.ingest.receive import SourceCache
    from service.outage import is_database_unavailable

    driver: dict[str, object] = {"__name__": "asyncpg.connect_utils"}  # a frame of the driver
    exec("async def connect():\n    raise ConnectionRefusedError(111, 'Connection refused')", driver)  # noqa: S102 - a function whose frame names the driver's module

    async def load(self, engine, source_id):  # noqa: ANN001, ARG001 - SourceCache._load's signature
        await asyncio.sleep(0.01)
        await driver["connect"]()  # type: ignore[operator]

    monkeypatch.setattr(SourceCache, "_load", load)

    async def main() -> list[BaseException]:
        cache = SourceCache(settings=None)  # type: ignore[arg-type]
        got = await asyncio.gather(*(cache.get(None, 7) for _ in range(5)), return_exceptions=True)  # type: ignore[arg-type]
        return [g for g in got if isinstance(g, BaseException)]

    # In a thread of its own: a test before this one may leave this thread's event loop running.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        errors = pool.submit(lambda: asyncio.run(main())).result()
    assert len(errors) == 5 and all(is_database_unavailable(e) for e in errors), errors
    # A socket refused outside the driver (a connector's call) is still no outage.
    assert not is_database_unavailable(ConnectionRefusedError(111, "Connection refused"))
