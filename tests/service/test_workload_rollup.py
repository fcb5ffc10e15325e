"""The workload rollup (``service.store.workload_rollup``) equals a computation in Python from the
task and assignee rows and a rebuild after every kind of write, on both stores: sync pages that
change tasks and their assignees, tombstones, hard deletes (a task, a person, a source, the
organization), assignments moved by a people merge, bulk statements, and two writers of one
row at once (PostgreSQL). The task rollup tests' writes check it too (``test_rollup``'s helper
calls ``assert_rollup_right``)."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from datetime import timedelta

import pytest
import sqlalchemy as sa

from mappings.model import DeletedReason, PersonRef, StatusCategory, TaskDelete, TaskType, TaskUpsert
from mappings.model import Task as TaskModel
from service.portfolio.people import _merge_into
from service.store import workload_rollup
from service.store.tasks import apply_effects
from service.tables import Organization, Person, Source, Task, TaskAssignee, WorkloadRollup

from .factories import T0, make_org, make_source, random_task

T, TA, WR, P = Task.__table__, TaskAssignee.__table__, WorkloadRollup.__table__, Person.__table__


def _oracle(c: sa.Connection, org: int) -> dict[tuple, list[float]]:
    """(project or 0, source, due date or 9999-12-31, class, person or 0, shares) → [count,
    points, seconds] over the open tasks, each in a row per assignee (or person 0)."""
    links: dict[int, list[int]] = defaultdict(list)
    for tid, pid in c.execute(sa.select(TA.c.task_id, TA.c.person_id).join(T, T.c.id == TA.c.task_id)
                              .where(T.c.org_id == org)):
        links[tid].append(pid)
    out: dict[tuple, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for t in c.execute(sa.select(T).where(T.c.org_id == org)):
        if t.deleted_at is not None or t.status_category == "done" or t.type == "epic" or t.is_milestone:
            continue
        people = links[t.id] or [0]
        for person in people:
            acc = out[(t.project_id or 0, t.source_id, str(t.due_date or workload_rollup.NO_DUE_DATE),
                       2 if t.archived else 1, person, len(people))]
            acc[0] += 1
            acc[1] += t.estimate_points or 0
            acc[2] += t.estimate_seconds or 0
    return {k: [v[0], round(v[1], 6), v[2]] for k, v in out.items()}


def _kept(c: sa.Connection, org: int) -> dict[tuple, list[float]]:
    rows = c.execute(sa.select(WR).where(WR.c.org_id == org)).all()
    return {
        (r.project_id, r.source_id, str(r.due_date), r.cls, r.person_id, r.shares): [r.n, round(r.points, 6), r.seconds]
        for r in rows
    }


def assert_rollup_right(c: sa.Connection, org: int) -> dict[tuple, list[float]]:
    """The kept rows equal the oracle (no row with a zero count left behind) and a rebuild's."""
    kept, want = _kept(c, org), _oracle(c, org)
    assert kept == want, {k: (kept.get(k), want.get(k)) for k in kept.keys() | want.keys()
                          if kept.get(k) != want.get(k)}
    before = workload_rollup.snapshot(c, org)
    workload_rollup.rebuild(c, org)
    assert workload_rollup.snapshot(c, org) == before
    return kept


def _check(db, org: int) -> dict[tuple, list[float]]:
    with db.write() as c:
        return assert_rollup_right(c, org)


def test_the_rollup_follows_tasks_and_their_assignees(db):
    rnd = random.Random(11)
    org, other = make_org(db, "acme"), make_org(db, "other")
    src, src2 = make_source(db, org), make_source(db, org, kind="trello", name="trello")
    osrc = make_source(db, other)
    exts = [str(1000 + i) for i in range(80)]
    version = 1
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, e, version) for e in exts])
        apply_effects(c, org, src2, [random_task(rnd, e, version) for e in exts[:30]])
        apply_effects(c, other, osrc, [random_task(rnd, e, version) for e in exts[:20]])
    kept = _check(db, org)
    shares = {k[5] for k in kept}
    assert {0} < {k[4] for k in kept} and {1, 2, 3} <= shares  # unassigned, and tasks shared by 2 and 3
    assert {k[2] for k in kept} > {workload_rollup.NO_DUE_DATE} and {k[3] for k in kept} == {1, 2}
    other_before = _check(db, other)

    for _ in range(4):  # incremental pages: tasks change, assignees come and go
        version += 1
        with db.write() as c:
            apply_effects(c, org, src, [random_task(rnd, e, version) for e in rnd.sample(exts, 25)])
        _check(db, org)
    with db.write() as c:  # tombstones, then one comes back
        apply_effects(c, org, src, [TaskDelete(external_id=e, reason=DeletedReason.deleted,
                                               at=T0 + timedelta(days=200)) for e in exts[:10]])
        assert_rollup_right(c, org)
        apply_effects(c, org, src, [random_task(rnd, exts[0], 10_000)])
    _check(db, org)
    with db.write() as c:  # bulk statements: every task's due date and estimate, then all to done and back
        c.execute(sa.update(T).where(T.c.org_id == org).values(
            due_date=sa.case((T.c.id % 3 == 0, None), else_=T0.date() + timedelta(days=9))))
        assert_rollup_right(c, org)
        c.execute(sa.update(T).where(T.c.source_id == src).values(estimate_points=T.c.estimate_points * 2))
        assert_rollup_right(c, org)
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.status_category == "todo").values(status_category="done"))
        assert_rollup_right(c, org)
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.status_category == "done").values(status_category="todo"))
    _check(db, org)
    people = dict(_people(db, org))
    with db.write() as c:  # a people merge moves u1's tasks to u2 (one UPDATE); a person's deletion cascades
        _merge_into_conn(c, people["u1"], people["u2"])
        assert_rollup_right(c, org)
        c.execute(sa.delete(P).where(P.c.id == people["u3"]))
        assert_rollup_right(c, org)
        c.execute(sa.delete(TA).where(TA.c.person_id == people["u0"]))  # every link of a person, one statement
        assert_rollup_right(c, org)
        tids = c.execute(sa.select(T.c.id).where(T.c.source_id == src)).scalars().all()
        c.execute(TA.insert(), [{"task_id": t, "person_id": people["u0"]} for t in tids])  # many links at once
        assert_rollup_right(c, org)
    with db.write() as c:  # hard deletes: one task, then a whole source (cascade)
        c.execute(sa.delete(T).where(T.c.source_id == src, T.c.external_id == exts[50]))
        assert_rollup_right(c, org)
        c.execute(sa.delete(Source.__table__).where(Source.__table__.c.id == src2))
    kept = _check(db, org)
    assert {k[1] for k in kept} == {src}
    assert _check(db, other) == other_before  # the other organization untouched
    with db.write() as c:  # deleting the organization leaves no rows behind
        c.execute(sa.delete(Organization.__table__).where(Organization.__table__.c.id == org))
        assert workload_rollup.snapshot(c, org) == {"workload_rollup": set()}


def _people(db, org: int) -> list[tuple[str, int]]:
    with db.read() as c:
        return [(ext, pid) for ext, pid in c.execute(sa.text(
            "SELECT i.external_id, i.person_id FROM person_identity i WHERE i.org_id = :o"), {"o": org})]


def _merge_into_conn(c: sa.Connection, old: int, new: int) -> None:
    from sqlmodel import Session

    with Session(bind=c) as s:
        _merge_into(s, old, new)
        s.flush()


def test_a_link_update_that_moves_a_task_between_people_and_tasks(db):
    """UPDATEs of ``task_assignee`` rows: to another person, to another task, to the same values."""
    org = make_org(db)
    src = make_source(db, org)
    rnd = random.Random(3)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(30)])
    people = dict(_people(db, org))
    with db.write() as c:
        links = c.execute(sa.select(TA.c.task_id, TA.c.person_id).order_by(TA.c.task_id, TA.c.person_id)).all()
        tid, pid = links[0]
        free = next(t for t in c.execute(sa.select(T.c.id).order_by(T.c.id)).scalars()
                    if t not in {x for x, _ in links})
        c.execute(sa.update(TA).where(TA.c.task_id == tid, TA.c.person_id == pid).values(task_id=free))
        assert_rollup_right(c, org)
        c.execute(sa.update(TA).where(TA.c.task_id == free).values(person_id=TA.c.person_id))  # no change
        assert_rollup_right(c, org)
        spare = next(p for p in people.values() if p not in {x for t, x in links if t == tid})
        c.execute(sa.update(TA).where(TA.c.task_id == tid).values(task_id=free, person_id=spare))
        assert_rollup_right(c, org)


def test_the_rollup_is_rebuilt_and_checked_by_the_cli_helpers(db):
    """``rebuild`` of one organization leaves the other's rows as they are."""
    rnd = random.Random(5)
    a, b = make_org(db, "a"), make_org(db, "b")
    sa_, sb = make_source(db, a), make_source(db, b)
    with db.write() as c:
        apply_effects(c, a, sa_, [random_task(rnd, str(i), 1) for i in range(20)])
        apply_effects(c, b, sb, [random_task(rnd, str(i), 1) for i in range(20)])
        before_b = workload_rollup.snapshot(c, b)
        c.exec_driver_sql("DELETE FROM workload_rollup")
        workload_rollup.rebuild(c, a)
        assert workload_rollup.snapshot(c, b) == {"workload_rollup": set()}
        workload_rollup.rebuild(c)
        assert workload_rollup.snapshot(c, b) == before_b
        assert_rollup_right(c, a)


@pytest.mark.postgres
def test_concurrent_writers_of_one_row_lose_nothing(pg_db):
    """Two transactions assign different tasks of one project and due date to one person at
    once. The tasks are stored first, so the two meet only at the rollup row they both add to
    (the first holds it, the second waits and adds to what the first committed): the first one
    is held open until the second has started its statement."""
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    rnd = random.Random(9)
    with pg_db.write() as c:
        pages = [random_task(rnd, str(i), 1) for i in range(80)]
        apply_effects(c, org, src, [u.model_copy(update={"task": u.task.model_copy(update={
            "assignees": [], "status_category": StatusCategory.todo, "type": TaskType.story,
            "is_milestone": False, "archived": False, "due_date": None, "project_external_id": "100"})})
            for u in pages])
        tids = list(c.execute(sa.select(T.c.id).where(T.c.org_id == org).order_by(T.c.id)).scalars())
        who = c.execute(sa.insert(P).values(org_id=org, display_name="w").returning(P.c.id)).scalar_one()
    first = pg_db.engine.connect()
    tx = first.begin()
    first.execute(TA.insert(), [{"task_id": t, "person_id": who} for t in tids[:40]])
    done, errors = threading.Event(), []

    def second() -> None:
        try:
            with pg_db.write() as c:
                c.execute(TA.insert(), [{"task_id": t, "person_id": who} for t in tids[40:]])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    waited = not done.wait(0.5)  # on the rollup row the first holds
    tx.commit()
    first.close()
    thread.join()
    assert waited and not errors
    kept = _check(pg_db, org)
    assert len(kept) == 1 and next(iter(kept))[4:] == (who, 1)  # one row: the project, no due date, one share
    assert sum(v[0] for k, v in kept.items() if k[4] != 0) == 80


def test_the_migration_fills_the_rollup_from_stored_tasks(db):
    from alembic import command

    org = make_org(db, "migrated-workload")
    src = make_source(db, org)
    with db.write() as c:
        rnd = random.Random(4)
        apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(40)])
        want = _kept(c, org)
    command.downgrade(db.alembic_config(), "0010")
    try:
        with db.write() as c:
            assert "workload_rollup" not in sa.inspect(c).get_table_names()
    finally:
        db.migrate()  # the store is shared by the session's other tests
    with db.write() as c:
        assert len(assert_rollup_right(c, org)) > 5 and _kept(c, org) == want


@pytest.mark.postgres
def test_two_writers_of_one_tasks_links_wait_for_each_other(pg_db):
    """Two transactions each remove one of a task's two assignees. Under READ COMMITTED each
    trigger would compute from the task's links before the other's commit (both would move the
    task from two shares to one, and it would be counted twice); the link triggers lock their
    tasks first, so the second waits for the first and then reads its commit."""
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    both = TaskModel(external_id="1", title="t", status_category=StatusCategory.todo, updated_at=T0, created_at=T0,
                assignees=[PersonRef(tool="jira", external_id="a"), PersonRef(tool="jira", external_id="b")])
    with pg_db.write() as c:
        apply_effects(c, org, src, [TaskUpsert(task=both)])
        (tid,) = c.execute(sa.select(T.c.id).where(T.c.org_id == org)).one()
        pa, pb = sorted(c.execute(sa.select(TA.c.person_id).where(TA.c.task_id == tid)).scalars())
    first = pg_db.engine.connect()
    tx = first.begin()
    first.execute(sa.delete(TA).where(TA.c.task_id == tid, TA.c.person_id == pa))  # its trigger holds the task
    done, errors = threading.Event(), []

    def second() -> None:
        try:
            with pg_db.write() as c:
                c.execute(sa.delete(TA).where(TA.c.task_id == tid, TA.c.person_id == pb))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=second)
    thread.start()
    waited = not done.wait(0.5)
    tx.commit()
    first.close()
    thread.join()
    assert waited and not errors
    assert _check(pg_db, org) == {(0, src, workload_rollup.NO_DUE_DATE, 1, 0, 1): [1, 0.0, 0]}
