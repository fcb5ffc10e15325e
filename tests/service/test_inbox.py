"""Inbox and worker: outcomes, retries with backoff, parking, leases, exactly-once on PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from mappings.model import Ignored
from service.ingest.inbox import Outcome, StateWrite, claim, process_batch, retry_events
from service.tables import Change, InboxEvent, SyncState, utcnow
from tests.service.conftest import make_settings
from tests.service.factories import make_org, make_source, task
from tests.service.inbox_proc import applied

IE = InboxEvent.__table__
ROOT = Path(__file__).resolve().parents[2]


def _enqueue(db, org, src, n, kind="jira"):
    now = utcnow()
    rows = [{"org_id": org, "source_id": src, "kind": kind, "dedupe_key": f"k{i}", "received_at": now,
             "headers": {}, "body": b'{"n": %d}' % i, "status": "pending", "attempts": 0,
             "next_attempt_at": now} for i in range(n)]
    with db.write() as c:
        for i in range(0, n, 500):
            c.execute(sa.insert(IE), rows[i:i + 500])


def _statuses(db):
    with db.read() as c:
        return dict(c.execute(sa.select(IE.c.status, sa.func.count()).group_by(IE.c.status)).all())


def test_outcomes_are_recorded_and_effects_applied(db, tmp_path):
    settings = make_settings(tmp_path)
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 3)

    def handler(ctx, events):
        return [Outcome("done", effects=[task("1")]),
                Outcome("ignored", reason="sprint events are not tracked", effects=[Ignored(reason="x")]),
                Outcome("done", effects=[task("2")])]

    events = claim(db, "w1", batch=10, lease_seconds=30)
    assert [e.attempts for e in events] == [1, 1, 1]
    stats = process_batch(db, settings, "w1", events, {"jira": handler}, max_attempts=3)
    assert stats.changed == 2
    with db.read() as c:
        rows = c.execute(sa.select(IE.c.status, IE.c.reason).order_by(IE.c.id)).all()
    assert [r.status for r in rows] == ["done", "ignored", "done"]
    assert rows[1].reason == "sprint events are not tracked"


def test_failures_back_off_then_park_and_retry_requeues(db, tmp_path):
    settings = make_settings(tmp_path)
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 1)

    def boom(ctx, events):
        raise RuntimeError("jira said no")

    for attempt in range(1, 4):
        with db.write() as c:  # make it due again without waiting for the backoff
            c.execute(sa.update(IE).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        events = claim(db, "w1", batch=10, lease_seconds=30)
        assert len(events) == 1 and events[0].attempts == attempt
        process_batch(db, settings, "w1", events, {"jira": boom}, max_attempts=3)
        with db.read() as c:
            row = c.execute(sa.select(IE)).one()
        assert row.error == "RuntimeError: jira said no"
        if attempt < 3:
            assert row.status == "failed" and row.next_attempt_at > utcnow()
    assert row.status == "parked"
    assert claim(db, "w1", batch=10, lease_seconds=30) == []
    assert retry_events(db, org) == 1
    assert len(claim(db, "w1", batch=10, lease_seconds=30)) == 1


def test_expired_lease_is_reclaimed_and_the_loser_cannot_commit(db, tmp_path):
    settings = make_settings(tmp_path)
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 2)
    first = claim(db, "slow", batch=10, lease_seconds=30)
    assert claim(db, "other", batch=10, lease_seconds=30) == []
    with db.write() as c:
        c.execute(sa.update(IE).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    second = claim(db, "other", batch=10, lease_seconds=30)
    assert [e.id for e in second] == [e.id for e in first]

    def handler(ctx, events):
        return [applied(e) for e in events]

    process_batch(db, settings, "slow", first, {"jira": handler}, max_attempts=3)  # lease lost: rolled back
    assert _applications(db) == {}
    process_batch(db, settings, "other", second, {"jira": handler}, max_attempts=3)
    assert _statuses(db) == {"done": 2}
    assert _applications(db) == {f"ev{e.id}": 1 for e in first}
    with db.read() as c:
        assert set(c.execute(sa.select(IE.c.lease_owner)).scalars()) == {None}


def _applications(db):
    C = Change.__table__
    with db.read() as c:
        return dict(c.execute(sa.select(C.c.task_external_id, sa.func.count()).where(C.c.field == "applied")
                              .group_by(C.c.task_external_id)).all())


def test_an_outcomes_changes_and_state_rows_commit_with_its_mark(db, tmp_path):
    settings = make_settings(tmp_path)
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 2)
    SS = SyncState.__table__

    def handler(ctx, events):
        done = applied(events[0])
        done.state = [StateWrite("board:b1", '{"board": {"id": "b1"}}')]
        return [done, Outcome("ignored", reason="not tracked", changes=applied(events[1]).changes)]

    events = claim(db, "w1", batch=10, lease_seconds=30)
    process_batch(db, settings, "w1", events, {"jira": handler}, max_attempts=3)
    assert _statuses(db) == {"done": 1, "ignored": 1}
    assert _applications(db) == {f"ev{e.id}": 1 for e in events}  # an ignored event's rows are written too
    with db.read() as c:
        assert c.execute(sa.select(SS.c.cursor).where(SS.c.source_id == src, SS.c.stream == "board:b1")
                         ).scalar() == '{"board": {"id": "b1"}}'


def test_unknown_kind_fails_with_reason(db, tmp_path):
    settings = make_settings(tmp_path)
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 1)
    events = claim(db, "w1", batch=10, lease_seconds=30)
    process_batch(db, settings, "w1", events, {}, max_attempts=3)
    with db.read() as c:
        assert "no handler registered" in c.execute(sa.select(IE.c.error)).scalar()


@pytest.mark.postgres
@pytest.mark.slow
def test_two_worker_processes_drain_5000_events_exactly_once_despite_sigkill(pg_db):
    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 5000)
    lease = 3.0

    def spawn(name, delay):
        return subprocess.Popen([sys.executable, "-m", "tests.service.inbox_proc", db.url, name, str(lease),
                                 str(delay)],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})

    victim = spawn("victim", 0.01)  # slow batches (0.5 s each): SIGKILL lands mid-batch
    survivor = spawn("survivor", 0.0)
    t0 = time.monotonic()
    # Kill the victim once it holds a claimed batch.
    while time.monotonic() - t0 < 60:
        with db.read() as c:
            held = c.execute(sa.select(sa.func.count()).where(IE.c.lease_owner == "victim",
                                                             IE.c.status == "processing")).scalar()
        if held:
            break
        time.sleep(0.02)
    assert held, "the victim never claimed a batch"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    out, err = survivor.communicate(timeout=240)
    elapsed = time.monotonic() - t0
    assert survivor.returncode == 0, err[-2000:]
    assert _statuses(db) == {"done": 5000}
    per_event = _applications(db)
    assert len(per_event) == 5000
    assert set(per_event.values()) == {1}, "an event was applied more than once"
    print(f"drained 5000 events in {elapsed:.1f}s ({5000 / elapsed:.0f}/s incl. a {lease}s lease expiry)")


def test_a_deadlocked_commit_is_retried(db, tmp_path, monkeypatch):
    """PostgreSQL aborts one of two deadlocked transactions (40P01); the batch runs again."""
    import service.ingest.inbox as inbox

    class Deadlock(Exception):
        sqlstate = "40P01"

    settings = make_settings(tmp_path)
    org = make_org(db)
    src = make_source(db, org)
    _enqueue(db, org, src, 2)
    real, calls = inbox.apply_effects, []

    def flaky(conn, org_id, source_id, effects):
        calls.append(1)
        stats = real(conn, org_id, source_id, effects)  # written, then the transaction is rolled back
        if len(calls) == 1:
            raise sa.exc.OperationalError("INSERT …", {}, Deadlock("deadlock detected"))
        return stats

    monkeypatch.setattr(inbox, "apply_effects", flaky)
    events = claim(db, "w1", batch=10, lease_seconds=30)
    stats = process_batch(db, settings, "w1", events, {"jira": lambda ctx, evs: [
        Outcome("done", effects=[task("1")]), Outcome("done", effects=[task("2")])]}, max_attempts=3)
    assert len(calls) == 2 and stats.changed == 2  # the second attempt saw nothing of the first
    assert _statuses(db) == {"done": 2}

    _enqueue_more = [{"org_id": org, "source_id": src, "kind": "jira", "dedupe_key": "other", "received_at": utcnow(),
                      "headers": {}, "body": b"{}", "status": "pending", "attempts": 0, "next_attempt_at": utcnow()}]
    with db.write() as c:
        c.execute(sa.insert(IE), _enqueue_more)
    calls.clear()

    def broken(conn, org_id, source_id, effects):
        calls.append(1)
        raise sa.exc.OperationalError("INSERT …", {}, ValueError("disk full"))  # not retryable

    monkeypatch.setattr(inbox, "apply_effects", broken)
    events = claim(db, "w1", batch=10, lease_seconds=30)
    process_batch(db, settings, "w1", events, {"jira": lambda ctx, evs: [Outcome("done", effects=[task("3")])]},
                  max_attempts=3)
    assert len(calls) == 1 and _statuses(db) == {"done": 2, "failed": 1}


def test_a_slow_date_pass_does_not_hold_the_inbox(db, tmp_path, monkeypatch):
    """The date-driven passes (an organization's daily evaluation, its weekly reports: every
    project's views) ran on the inbox's loop and held every webhook for as long as they took. They
    have their own thread now: an event is applied while a pass is still running."""
    import threading

    from service import worker as worker_module

    settings = make_settings(tmp_path).model_copy(update={"worker_poll_interval": 0.05})
    org = make_org(db)
    src = make_source(db, org)
    in_pass, release = threading.Event(), threading.Event()

    def slow_date_pass(database):  # a pass that takes until the test releases it
        in_pass.set()
        release.wait(30)
        return 0

    monkeypatch.setattr(worker_module, "date_pass", slow_date_pass)
    w = worker_module.Worker(db, settings, handlers={"jira": lambda ctx, events: [applied(e) for e in events]},
                             poll_sources=False)
    runner = w.start_thread()
    try:
        assert in_pass.wait(10)
        _enqueue(db, org, src, 3)
        for _ in range(200):
            if _statuses(db).get("done") == 3:
                break
            time.sleep(0.05)
        assert _statuses(db) == {"done": 3}
        assert not release.is_set()  # the pass is still running
    finally:
        release.set()
        w.stop()
        runner.join(20)
    assert not runner.is_alive()


def test_a_date_pass_that_met_an_outage_is_retried_after_the_backoff_not_a_minute_later(db, tmp_path,
                                                                                       monkeypatch):
    """The pass marks its next run a minute ahead before it runs; one that failed because the
    database was down ran again only a minute later (found in review). It is retried after the
    outage backoff now."""
    import threading

    from service import worker as worker_module
    from service.outage import StoreUnavailable

    calls: list[float] = []
    second = threading.Event()

    def flaky_date_pass(database):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise StoreUnavailable("connection refused")
        second.set()
        return 0

    monkeypatch.setattr(worker_module, "date_pass", flaky_date_pass)
    monkeypatch.setattr(worker_module, "weekly_pass", lambda database: 0)
    w = worker_module.Worker(db, make_settings(tmp_path), handlers={}, poll_sources=False)
    runner = w.start_thread()
    try:
        assert second.wait(20), calls  # not 60 s later
    finally:
        w.stop()
        runner.join(20)
    assert len(calls) == 2
