"""The rollups follow every write to ``task`` and ``task_milestone``: after each kind of write,
the rows the triggers keep equal the rows recomputed from the tasks and links, on both stores."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mappings.model import DeletedReason, StatusCategory, Task, TaskDelete, TaskUpsert
from service.store import rollup
from service.store.tasks import apply_effects
from service.tables import Milestone as MilestoneRow
from service.tables import Organization, Project, Source
from service.tables import Task as TaskRow

from .factories import T0, make_org, make_source, random_task
from .test_workload_rollup import assert_rollup_right as assert_workload_right

T = TaskRow.__table__


def _assert_consistent(db, org: int) -> dict[str, set]:
    """The task rollups equal their rebuild; the workload rollup, kept by triggers on the same
    writes, its oracle and rebuild (``test_workload_rollup``)."""
    with db.write() as c:
        assert_workload_right(c, org)
        kept, bounds = rollup.snapshot(c, org), rollup.created_bounds(c, org)
        rollup.rebuild(c, org)
        assert rollup.snapshot(c, org) == kept
        for key, latest in rollup.created_bounds(c, org).items():  # an upper bound, never below
            assert latest is None or (bounds[key] is not None and bounds[key] >= latest), key
    return kept


def test_rollups_follow_every_kind_of_write(db):
    rnd = random.Random(7)
    org = make_org(db, "acme")
    other = make_org(db, "other")
    src, src2 = make_source(db, org), make_source(db, org, kind="trello", name="trello")
    osrc = make_source(db, other)
    exts = [str(1000 + i) for i in range(80)]
    version = 1
    with db.write() as c:  # a backfill page per source, and one in another organization
        apply_effects(c, org, src, [random_task(rnd, e, version) for e in exts])
        apply_effects(c, org, src2, [random_task(rnd, e, version) for e in exts[:30]])
        apply_effects(c, other, osrc, [random_task(rnd, e, version) for e in exts[:20]])
    kept = _assert_consistent(db, org)
    assert sum(r[5] for r in kept["task_rollup"]) == 110  # n: every alive task once
    assert kept["task_day_rollup"] and len({r[0] for r in kept["milestone_rollup"]}) == 6  # v1-v3, 2 sources
    other_before = _assert_consistent(db, other)

    for _ in range(4):  # incremental pages: some tasks change, some stay as they were
        version += 1
        with db.write() as c:
            apply_effects(c, org, src, [random_task(rnd, e, version) for e in rnd.sample(exts, 25)])
        _assert_consistent(db, org)
    with db.write() as c:  # the same versions again: nothing moves
        before = rollup.snapshot(c, org)
        apply_effects(c, org, src, [random_task(rnd, e, version) for e in exts[:3]])
    with db.write() as c:  # tombstones (and one for a task never seen)
        apply_effects(c, org, src, [TaskDelete(external_id=e, reason=DeletedReason.deleted,
                                               at=T0 + timedelta(days=200)) for e in [*exts[:10], "9999"]])
    kept = _assert_consistent(db, org)
    assert before != kept
    with db.write() as c:  # a tombstoned task comes back
        version += 1
        apply_effects(c, org, src, [random_task(rnd, exts[0], 10_000)])
    _assert_consistent(db, org)
    with db.write() as c:  # moved between projects, then its project deleted (SET NULL)
        pid = c.execute(sa.select(Project.__table__.c.id).where(Project.__table__.c.org_id == org)).scalars().first()
        c.execute(sa.update(T).where(T.c.source_id == src, T.c.external_id.in_(exts[20:30])).values(project_id=pid))
    _assert_consistent(db, org)
    with db.write() as c:
        c.execute(sa.delete(Project.__table__).where(Project.__table__.c.id == pid))
    _assert_consistent(db, org)
    with db.write() as c:  # fields the rollups do not read: no change
        before = rollup.snapshot(c, org)
        c.execute(sa.update(T).where(T.c.org_id == org).values(title="renamed", priority="High"))
        assert rollup.snapshot(c, org) == before
    with db.write() as c:  # a milestone deleted (its links cascade)
        c.execute(sa.delete(MilestoneRow.__table__).where(MilestoneRow.__table__.c.source_id == src,
                                                          MilestoneRow.__table__.c.external_id == "v2"))
    _assert_consistent(db, org)
    with db.write() as c:  # hard deletes: one task, then a whole source (cascade)
        c.execute(sa.delete(T).where(T.c.source_id == src, T.c.external_id == exts[50]))
    _assert_consistent(db, org)
    with db.write() as c:
        c.execute(sa.delete(Source.__table__).where(Source.__table__.c.id == src2))
    kept = _assert_consistent(db, org)
    assert {r[2] for r in kept["task_rollup"]} == {src}
    assert _assert_consistent(db, other) == other_before  # the other organization untouched
    with db.write() as c:  # deleting the organization leaves no rows behind
        c.execute(sa.delete(Organization.__table__).where(Organization.__table__.c.id == org))
        assert rollup.snapshot(c, org) == {"task_rollup": set(), "task_day_rollup": set(), "milestone_rollup": set()}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("estimate_points", 13.0),
        ("status_category", "in_progress"),
        ("completed_at", T0 + timedelta(days=3)),
        ("remote_created_at", T0 - timedelta(days=9)),
        ("archived", True),
    ],
)
def test_a_single_field_change_moves_the_rollups(db, field, value):
    org = make_org(db)
    src = make_source(db, org)
    done = Task(external_id="1", status_category=StatusCategory.done, created_at=T0, updated_at=T0,
                completed_at=T0 + timedelta(days=1), estimate_points=2.0)
    with db.write() as c:
        apply_effects(c, org, src, [TaskUpsert(task=done)])
        before = rollup.snapshot(c, org)
        c.execute(sa.update(T).values({field: value}))
    after = _assert_consistent(db, org)
    assert after != before


def test_a_tombstone_is_never_stamped_after_its_sync(db):
    """A delete event from a tool whose clock runs ahead is stamped when we learn of it: the
    rollups (which drop a task when tombstoned) and the scans as of now then agree."""
    from service.tables import utcnow

    org = make_org(db)
    src = make_source(db, org)
    ahead = utcnow() + timedelta(hours=3)
    with db.write() as c:
        apply_effects(c, org, src, [TaskUpsert(task=Task(external_id="1", created_at=T0, updated_at=T0))])
        apply_effects(c, org, src, [TaskDelete(external_id="1", at=ahead)])
        deleted_at, synced_at = c.execute(sa.select(T.c.deleted_at, T.c.synced_at)).one()
    assert deleted_at is not None and deleted_at <= synced_at < ahead


def test_concurrent_writers_of_one_source_lose_no_update(pg_db):
    """Three PostgreSQL transactions at a time write tasks of the same source (the same project
    and rollup rows): the row locks serialize the increments, so nothing is lost. (Projects,
    tasks and rollup keys are locked in key order, so they wait rather than deadlock; a deadlock
    that still happens is retried, as the inbox does. Before the key order, about one commit in
    five deadlocked here.)"""
    import threading

    from service.db import retryable

    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for page in range(8):
                exts = [f"{seed}-{page}-{i}" for i in range(20)]
                for attempt in range(3):
                    try:
                        with db.write() as c:
                            apply_effects(c, org, src, [random_task(rnd, e, 1) for e in exts])
                            apply_effects(c, org, src, [TaskDelete(external_id=exts[0])])
                        break
                    except Exception as exc:  # a deadlock is retried, as the inbox does
                        if attempt == 2 or not retryable(exc):
                            raise
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    kept = _assert_consistent(db, org)
    assert sum(r[5] for r in kept["task_rollup"]) == 3 * 8 * 19
