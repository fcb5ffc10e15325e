"""Each worklog carries its task's id, project and tombstone (``service.store.worklog_task``):
after every kind of write to worklogs and tasks, the columns the triggers keep equal those
recomputed from the tasks, on both stores — and on PostgreSQL also when a worklog and its
task are written by two transactions at once."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import sqlalchemy as sa

from mappings.model import DeletedReason, TaskDelete, WorklogUpsert
from service.store import worklog_task
from service.store.tasks import apply_effects
from service.tables import Organization, Project, Source
from service.tables import Task as TaskRow
from service.tables import Worklog as WorklogRow
from tests.views.portfolio_data import ANN_J, _wl

from .factories import T0, make_org, make_source, random_task
from .test_worklog_rollup import assert_rollup_right

T, W = TaskRow.__table__, WorklogRow.__table__


def worklog(ext: str, task_ext: str) -> WorklogUpsert:
    """An hour logged by Ann on task ``task_ext``."""
    return _wl(ext, task_ext, ANN_J, T0 + timedelta(hours=1), 1)


def _links(c: sa.Connection, source_id: int) -> dict[str, tuple]:
    """worklog external id → (task external id or None, task project id, task deleted?)."""
    rows = c.execute(
        sa.select(W.c.external_id, T.c.external_id, W.c.task_project_id, W.c.task_deleted_at.is_not(None))
        .select_from(W.outerjoin(T, T.c.id == W.c.task_id))
        .where(W.c.source_id == source_id)
    ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


def _assert_consistent(db, org: int) -> dict[str, set]:
    with db.write() as c:
        kept = worklog_task.snapshot(c, org)
        worklog_task.rebuild(c, org)
        assert worklog_task.snapshot(c, org) == kept
        assert_rollup_right(c, org)  # the worklog rollup follows the task columns
    return kept


def test_worklogs_follow_every_kind_of_write(db):
    rnd = random.Random(11)
    org, other = make_org(db, "acme"), make_org(db, "other")
    src, src2, osrc = make_source(db, org), make_source(db, org, name="dc"), make_source(db, other)
    exts = [str(1000 + i) for i in range(40)]
    with db.write() as c:  # worklogs before their tasks: unlinked, counted nowhere
        apply_effects(c, org, src, [worklog(f"w{e}", e) for e in exts[:10]])
        assert set(_links(c, src).values()) == {(None, None, False)}
    with db.write() as c:  # the tasks arrive (and more worklogs, in the same page as theirs)
        apply_effects(c, org, src, [random_task(rnd, e, 1) for e in exts]
                      + [worklog(f"w{e}", e) for e in exts[10:30]] + [worklog(f"x{e}", e) for e in exts[:5]])
        apply_effects(c, org, src2, [random_task(rnd, e, 1) for e in exts[:5]] + [worklog("w1000", "1000")])
        apply_effects(c, other, osrc, [random_task(rnd, e, 1) for e in exts[:5]] + [worklog("w1001", "1001")])
        links = _links(c, src)
        assert len(links) == 35 and all(v[0] == k.lstrip("wx") for k, v in links.items())
        projects = dict(c.execute(sa.select(T.c.external_id, T.c.project_id).where(T.c.source_id == src)).all())
        assert all(v[1] == projects[k.lstrip("wx")] for k, v in links.items())
        assert _links(c, src2) == {"w1000": ("1000", _links(c, src2)["w1000"][1], False)}
    other_before = _assert_consistent(db, other)
    _assert_consistent(db, org)

    with db.write() as c:  # tasks tombstoned (and one never seen), then one comes back
        apply_effects(c, org, src, [TaskDelete(external_id=e, reason=DeletedReason.deleted,
                                               at=T0 + timedelta(days=200)) for e in [*exts[:3], "9999"]])
        assert sorted(k for k, v in _links(c, src).items() if v[2]) == ["w1000", "w1001", "w1002", "x1000",
                                                                        "x1001", "x1002"]
    _assert_consistent(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, exts[0], 200_000)])  # updated after its tombstone
        assert _links(c, src)["w1000"][2] is False
    _assert_consistent(db, org)
    with db.write() as c:  # moved between projects, then its project deleted (SET NULL)
        pid = c.execute(sa.select(Project.__table__.c.id).where(Project.__table__.c.org_id == org)).scalars().first()
        c.execute(sa.update(T).where(T.c.source_id == src, T.c.external_id.in_(exts[3:12])).values(project_id=pid))
        assert {v[1] for k, v in _links(c, src).items() if k[1:] in exts[3:12]} == {pid}
    _assert_consistent(db, org)
    with db.write() as c:
        c.execute(sa.delete(Project.__table__).where(Project.__table__.c.id == pid))
        assert {v[1] for k, v in _links(c, src).items() if k[1:] in exts[3:12]} == {None}
    _assert_consistent(db, org)
    with db.write() as c:  # the same worklog versions again, and columns the link does not read
        before = worklog_task.snapshot(c, org)
        apply_effects(c, org, src, [worklog(f"w{e}", e) for e in exts[10:20]])
        c.execute(sa.update(T).where(T.c.org_id == org).values(title="renamed"))
        assert worklog_task.snapshot(c, org) == before
    with db.write() as c:  # a worklog moved to another task (by its key), a task re-keyed
        c.execute(sa.update(W).where(W.c.source_id == src, W.c.external_id == "w1020").values(task_external_id="1021"))
        c.execute(sa.update(T).where(T.c.source_id == src, T.c.external_id == "1025").values(external_id="1025b"))
        links = _links(c, src)
        assert links["w1020"][0] == "1021" and links["w1025"] == (None, None, False)
    _assert_consistent(db, org)
    with db.write() as c:  # hard deletes: one task, then a whole source (cascade)
        c.execute(sa.delete(T).where(T.c.source_id == src, T.c.external_id == "1026"))
        assert _links(c, src)["w1026"] == (None, None, False)
    _assert_consistent(db, org)
    with db.write() as c:
        c.execute(sa.delete(Source.__table__).where(Source.__table__.c.id == src2))
    _assert_consistent(db, org)
    assert _assert_consistent(db, other) == other_before  # the other organization untouched
    with db.write() as c:
        c.execute(sa.delete(Organization.__table__).where(Organization.__table__.c.id == org))
        assert worklog_task.snapshot(c, org) == {"worklog_task": set()}


def test_rebuild_mends_columns_written_behind_the_triggers(db):
    org = make_org(db)
    src = make_source(db, org)
    rnd = random.Random(3)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, "1", 1), worklog("w1", "1"), worklog("w2", "2")])
        kept = worklog_task.snapshot(c, org)
        c.execute(sa.update(W).values(task_id=None, task_project_id=None))
        c.execute(sa.update(W).where(W.c.external_id == "w2").values(task_id=12345))
        assert worklog_task.snapshot(c, org) != kept
        worklog_task.rebuild(c, org)
        assert worklog_task.snapshot(c, org) == kept


def _racing(db, first, second) -> None:
    """Run ``first`` in one transaction and, while it is still open, ``second`` in another
    (which may have to wait for the first); then commit both."""
    started, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        try:
            started.wait(10)
            with db.write() as c:
                second(c)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    th = threading.Thread(target=other)
    th.start()
    with db.write() as c:
        first(c)
        started.set()
        done.wait(0.5)  # the second transaction runs as far as it can before this one commits
    th.join(20)
    assert not th.is_alive() and not errors


def test_a_worklog_and_its_task_written_at_once_still_link(pg_db):
    """Each of the two transactions could miss the other's uncommitted row: the task's insert
    holds its source's lock until commit, a worklog that finds no task waits for it; a worklog
    reads its task ``FOR SHARE``, so a concurrent move or tombstone waits for it or it for them."""
    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    rnd = random.Random(5)
    pages = {
        "task first": ([random_task(rnd, "1", 1)], [worklog("w1", "1")]),
        "worklog first": ([worklog("w2", "2")], [random_task(rnd, "2", 1)]),
    }
    for first, second in pages.values():
        _racing(db, lambda c, e=first: apply_effects(c, org, src, e), lambda c, e=second: apply_effects(c, org, src, e))
    with db.write() as c:
        links = _links(c, src)
        assert links["w1"][0] == "1" and links["w2"][0] == "2"
        pid = c.execute(sa.select(Project.__table__.c.id).where(Project.__table__.c.org_id == org)
                        .order_by(Project.__table__.c.id.desc())).scalars().first()
        other_pid = c.execute(sa.insert(Project.__table__).values(
            org_id=org, source_id=src, external_id="p9", key="P9", name="P9").returning(Project.__table__.c.id)
        ).scalar_one()
    assert pid is not None

    def move(c: sa.Connection) -> None:  # the task moves and is tombstoned while a worklog is written
        c.execute(sa.update(T).where(T.c.source_id == src, T.c.external_id == "1")
                  .values(project_id=other_pid, deleted_at=T0 + timedelta(days=300)))

    t0 = time.perf_counter()
    _racing(db, move, lambda c: apply_effects(c, org, src, [worklog("w3", "1")]))
    _racing(db, lambda c: apply_effects(c, org, src, [worklog("w4", "2")]),
            lambda c: c.execute(sa.update(T).where(T.c.source_id == src, T.c.external_id == "2")
                                .values(project_id=other_pid)))
    assert time.perf_counter() - t0 < 15
    with db.write() as c:
        links = _links(c, src)
    assert links["w3"] == ("1", other_pid, True) and links["w1"] == ("1", other_pid, True)
    assert links["w4"] == ("2", other_pid, False) and links["w2"] == ("2", other_pid, False)
    _assert_consistent(db, org)
