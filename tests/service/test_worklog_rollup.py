"""The worklog rollup (``service.store.worklog_rollup``) equals a computation in Python from the
worklog rows and a rebuild after every kind of write, on both stores. Every write of the
worklog-day and worklog-task tests checks it too (their helpers call ``assert_rollup_right``);
these cover what they do not: deletions, seconds changes, rows whose count reaches zero,
concurrent writers of one day's row, and the migration's backfill."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from service import store
from service.store import worklog_rollup
from service.store.tasks import apply_effects
from service.tables import PersonRate, Worklog, WorklogRollup
from tests.views.portfolio_data import ANN_J, BOB, _wl

from .factories import T0, make_org, make_source, random_task

W, WR = Worklog.__table__, WorklogRollup.__table__


def _oracle(c: sa.Connection, org: int) -> dict[tuple, list[float]]:
    """(day, project or 0, source) → [count, seconds, Σ seconds × author rate, seconds unrated]."""
    out: dict[tuple, list[float]] = defaultdict(lambda: [0, 0, 0.0, 0])
    for w in c.execute(sa.select(W).where(W.c.org_id == org)):
        if w.deleted_at is not None or w.task_id is None or w.task_deleted_at is not None or w.started_day is None:
            continue
        acc = out[(str(w.started_day), w.task_project_id or 0, w.source_id)]
        acc[0] += 1
        acc[1] += w.seconds
        if w.author_rate is None:
            acc[3] += w.seconds
        else:
            acc[2] += w.seconds * w.author_rate
    return dict(out)


def _kept(c: sa.Connection, org: int) -> dict[tuple, list[float]]:
    rows = c.execute(sa.select(WR).where(WR.c.org_id == org)).all()
    return {(str(r.day), r.project_id, r.source_id): [r.n, r.seconds, r.rated, r.unrated] for r in rows}


def _same(got: dict[tuple, list[float]], want: dict[tuple, list[float]]) -> bool:
    return got.keys() == want.keys() and all(
        all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6) for a, b in zip(got[k], want[k], strict=True)) for k in got
    )


def assert_rollup_right(c: sa.Connection, org: int) -> dict[tuple, list[float]]:
    """The kept rows equal the oracle (no row with a zero count left behind) and a rebuild's."""
    kept = _kept(c, org)
    assert _same(kept, _oracle(c, org)), (kept, _oracle(c, org))
    assert all(v[0] > 0 for v in kept.values())
    before = worklog_rollup.snapshot(c, org)
    worklog_rollup.rebuild(c, org)
    assert worklog_rollup.snapshot(c, org) == before
    return kept


def _hi(c: sa.Connection, org: int) -> Any:
    return c.execute(sa.select(sa.func.max(WR.c.started_hi)).where(WR.c.org_id == org)).scalar()


def test_the_rollup_follows_deletions_and_changes(db):
    org, other = make_org(db, "acme", timezone="Europe/Berlin"), make_org(db, "other")
    src, osrc = make_source(db, org), make_source(db, other)
    starts = [T0 + timedelta(days=d, hours=h) for d in (0, 1, 2) for h in (-3, 5, 22)]
    with db.write() as c:
        apply_effects(c, org, src, [random_task(random.Random(1), str(i), 1) for i in range(4)])
        apply_effects(c, other, osrc, [random_task(random.Random(2), "0", 1)])
        store.upsert_worklogs(c, org, src, [_wl(f"w{i}", str(i % 5), ANN_J if i % 2 else BOB, s, 1 + i % 3)
                                            for i, s in enumerate(starts)])  # task "4" is never synced
        store.upsert_worklogs(c, other, osrc, [_wl("o1", "0", ANN_J, T0, 2)])
        c.execute(sa.insert(PersonRate.__table__).values(
            org_id=org, person_id=c.execute(sa.select(W.c.person_id).where(W.c.external_id == "w1")).scalar(),
            effective_from=date(2020, 1, 1), hourly_rate=90))
        kept = assert_rollup_right(c, org)
        assert {v[2] > 0 for v in kept.values()} == {True, False}  # priced and unpriced rows
        other_kept = assert_rollup_right(c, other)
    with db.write() as c:  # more hours, a later start (the bound rises), a tombstone, a hard delete
        c.execute(sa.update(W).where(W.c.external_id == "w0").values(seconds=7200))
        c.execute(sa.update(W).where(W.c.external_id == "w3").values(started_at=T0 + timedelta(days=40)))
        assert _hi(c, org) == T0 + timedelta(days=40)
        c.execute(sa.update(W).where(W.c.external_id == "w5").values(deleted_at=T0 + timedelta(days=3)))
        c.execute(sa.delete(W).where(W.c.external_id == "w6"))
        assert_rollup_right(c, org)
    with db.write() as c:  # moved back: its day's row goes; one minute earlier: the bound stays
        c.execute(sa.update(W).where(W.c.external_id == "w3").values(started_at=T0))
        assert _hi(c, org) < T0 + timedelta(days=40)
        counted = (W.c.org_id == org, W.c.deleted_at.is_(None), W.c.task_id.is_not(None))
        last, hi = c.execute(sa.select(W.c.external_id, W.c.started_at).where(*counted)
                             .order_by(W.c.started_at.desc()).limit(1)).one()
        assert _hi(c, org) == hi
        c.execute(sa.update(W).where(W.c.external_id == last).values(started_at=hi - timedelta(minutes=1)))
        assert _hi(c, org) == hi  # an upper bound, never lowered (a rebuild lowers it)
        assert_rollup_right(c, org)
        assert _hi(c, org) == hi - timedelta(minutes=1)
    with db.write() as c:  # every worklog gone: no row is left, not even with a zero count
        c.execute(sa.delete(W).where(W.c.org_id == org))
        assert assert_rollup_right(c, org) == {}
        assert c.execute(sa.select(sa.func.count()).select_from(WR).where(WR.c.org_id == org)).scalar() == 0
        assert assert_rollup_right(c, other) == other_kept  # the other organization untouched


def test_two_writers_of_one_days_row_both_count(pg_db):
    """Two transactions add worklogs to the same (day, project, source) row at once: the second
    upsert waits for the first's row and adds to it."""
    from .test_worklog_task import _racing

    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(random.Random(3), "1", 1)])

    def log(ext: str):
        return lambda c: store.upsert_worklogs(c, org, src, [_wl(ext, "1", ANN_J, T0 + timedelta(hours=1), 1)])

    _racing(db, log("a"), log("b"))
    with db.write() as c:
        kept = assert_rollup_right(c, org)
    assert [v[0] for v in kept.values()] == [2]


def test_the_migration_fills_the_rollup_from_stored_worklogs(db):
    from alembic import command

    org = make_org(db, "migrated-rollup", timezone="Pacific/Auckland")
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(random.Random(4), str(i), 1) for i in range(3)])
        store.upsert_worklogs(c, org, src, [_wl(f"w{i}", str(i % 3), ANN_J, T0 + timedelta(hours=7 * i), 1)
                                            for i in range(12)])
        want = _kept(c, org)
    command.downgrade(db.alembic_config(), "0008")
    try:
        with db.write() as c:
            assert "worklog_rollup" not in sa.inspect(c).get_table_names()
    finally:
        db.migrate()  # the store is shared by the session's other tests
    with db.write() as c:
        assert len(assert_rollup_right(c, org)) > 1 and _same(_kept(c, org), want)


def test_one_statement_over_every_task_keeps_everything_right(db):
    """Bulk updates (a statement over thousands of rows) take the same paths as a sync page's:
    the old and new versions paired by grouping, NULLs equal (``store.common.pg_signed_rows``;
    PostgreSQL joined them before, quadratic in the rows). Every kept table stays right."""
    from service.store import rollup
    from service.tables import Project
    from service.tables import Task as TaskRow

    from .test_rollup import _assert_consistent as assert_task_rollups
    from .test_worklog_task import _assert_consistent as assert_worklog_links

    org = make_org(db, "bulk")
    src = make_source(db, org)
    rnd = random.Random(9)
    T, P = TaskRow.__table__, Project.__table__
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(400)])
        store.upsert_worklogs(c, org, src, [_wl(f"w{i}", str(rnd.randrange(400)), rnd.choice([ANN_J, BOB]),
                                                T0 + timedelta(hours=rnd.randrange(24 * 30)), 1) for i in range(600)])
        projects = list(c.execute(sa.select(P.c.id).where(P.c.org_id == org).order_by(P.c.id)).scalars())
    before = assert_task_rollups(db, org)
    with db.write() as c:  # every task moved to the first project, half the open ones done, a third tombstoned
        c.execute(sa.update(T).where(T.c.org_id == org).values(project_id=projects[0]))
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.status_category != "done", T.c.id % 2 == 0)
                  .values(status_category="done"))
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.id % 3 == 0).values(deleted_at=T0 + timedelta(days=60)))
        kept = assert_rollup_right(c, org)
        assert {k[1] for k in kept} == {projects[0]}
    assert assert_task_rollups(db, org) != before
    assert_worklog_links(db, org)
    with db.write() as c:  # and back: the tombstones lifted in one statement
        c.execute(sa.update(T).where(T.c.org_id == org).values(deleted_at=None))
        assert_rollup_right(c, org)
        assert rollup.snapshot(c, org)["milestone_rollup"]
    assert_task_rollups(db, org)
    assert_worklog_links(db, org)
