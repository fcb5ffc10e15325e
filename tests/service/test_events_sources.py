"""Source events (issue 22): a backfill or first sync sends one ``source.synced`` with its
counts instead of per-task events; each health transition (failing, degraded, recovered) fires
once, in the transaction that sets it."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import service.sync.runner as runner
from connectors.errors import Transient
from service import store
from service.db import Database
from service.sources import SourceSecrets
from service.tables import Source, table
from tests.service.factories import make_org, make_source, task
from tests.service.test_events_tasks import events, subscribe

S = table(Source)


def _world(db: Database) -> tuple[Database, int, int]:
    org = make_org(db)
    src = make_source(db, org)
    subscribe(db, org)
    return db, org, src


@pytest.fixture
def world(db: Database) -> tuple[Database, int, int]:
    return _world(db)

class _Client:
    api_calls = 0


class _Syncer:
    """Writes the tasks the test gives it, or fails."""

    plan: list[Any] = []

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.client = _Client()

    def run(self, mode: str) -> None:
        step = self.plan.pop(0)
        if isinstance(step, Exception):
            raise step
        with self.ctx.db.write() as c:
            stats = store.upsert_tasks(c, self.ctx.source.org_id, self.ctx.source.id, step)
        self.ctx.recorder.items_seen += stats.seen
        self.ctx.recorder.items_changed += stats.changed


@pytest.fixture
def fake_sync(monkeypatch: pytest.MonkeyPatch) -> type[_Syncer]:
    monkeypatch.setitem(runner.SYNCERS, "jira", _Syncer)
    monkeypatch.setattr(runner, "source_secrets", lambda settings, source: SourceSecrets({}, None))
    _Syncer.plan = []
    return _Syncer


def _sync(db: Database, src: int, mode: str = "incremental") -> None:
    runner.run_sync(db, None, src, mode=mode)


def test_a_first_sync_emits_one_source_synced_and_the_next_one_task_events(world, fake_sync):
    db, org, src = world
    fake_sync.plan = [[task("1"), task("2")], [task("1", minutes=1, priority="High"), task("3")]]
    _sync(db, src)  # incremental, but the source never synced: a backfill
    [(kind, data)] = events(db)
    assert kind == "source.synced"
    assert (data["source_id"], data["mode"], data["items_seen"], data["items_changed"], data["tasks"]) == (
        src, "incremental", 2, 2, {"created": 2, "updated": 0, "deleted": 0})
    _sync(db, src)
    assert [(k, d["external_id"]) for k, d in events(db)[1:]] == [("task.updated", "1"), ("task.created", "3")]


def test_a_full_resync_is_quiet_too(world, fake_sync):
    db, org, src = world
    fake_sync.plan = [[task("1")], [task("1", minutes=1, priority="High"), task("2")]]
    _sync(db, src)
    _sync(db, src, "full")
    assert [(k, d.get("tasks")) for k, d in events(db)] == [
        ("source.synced", {"created": 1, "updated": 0, "deleted": 0}),
        ("source.synced", {"created": 1, "updated": 1, "deleted": 0})]


def test_health_events_fire_on_each_transition_once(world, fake_sync):
    db, org, src = world
    fake_sync.plan = [[task("1")], Transient("down"), Transient("down"), Transient("down"), Transient("down"),
                      [], []]
    _sync(db, src)
    for _ in range(4):
        with pytest.raises(Transient):
            _sync(db, src)
    _sync(db, src)
    _sync(db, src)  # ok → ok: nothing
    got = [(k, d["previous_status"], d["status"]) for k, d in events(db, "source.") if k != "source.synced"]
    assert got == [("source.failing", "ok", "failing"), ("source.degraded", "failing", "degraded"),
                   ("source.recovered", "degraded", "ok")]
    with db.read() as c:
        assert c.execute(sa.select(S.c.status).where(S.c.id == src)).scalar_one() == "ok"


def test_a_runs_end_and_an_organization_wide_writer_do_not_deadlock(pg_db):
    """Found in review: set_health locked the source FOR UPDATE, then the run's evaluation asked
    for the organization's row, which an organization-wide writer (a rate change) held while it
    waited for the source: PostgreSQL's deadlock detector aborted one of them."""
    import threading
    import time

    from service.state_events.sources import set_health
    from service.state_events.transitions import evaluate_source
    from service.store.rollups import lock_sources
    from tests.service.test_events_transitions import _milestone, _write

    db, org, src = _world(pg_db)  # PostgreSQL's row locks: SQLite has one writer, no deadlock
    _write(db, org, src, [_milestone()])
    errors: list[Exception] = []
    started = threading.Event()

    def org_wide() -> None:
        try:
            with db.write() as c:
                started.set()
                lock_sources(c, org_id=org)  # the organization's row, then every source
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    with db.write() as c:  # what run_sync does at the end of a successful run
        set_health(c, src, "ok", None)
        t = threading.Thread(target=org_wide)
        t.start()
        started.wait()
        time.sleep(0.5)  # the writer holds the organization's row and waits for the source
        evaluate_source(c, org, src)
    t.join()
    assert errors == []
