"""The rollups and the worklogs' copies follow every write taskhub makes (``service.store.rollups``):
after each kind of write — sync pages, patches, tombstones, worklogs before and after their
tasks, rates, people linked and split, a time zone change, a source deleted — what the store
kept equals a rebuild from the rows, on both stores; and concurrent writers lose nothing."""

from __future__ import annotations

import random
import threading
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from mappings.model import (
    DeletedReason,
    PersonRef,
    StatusCategory,
    TaskDelete,
    TaskPatch,
    Worklog,
    WorklogDelete,
    WorklogUpsert,
)
from service.db import retryable
from service.portfolio import people as people_svc
from service.portfolio.projects import update_organization
from service.portfolio.schemas import IdentityLink, OrganizationUpdate, RateCreate
from service.store import apply_effects, rollups
from service.tables import Person, PersonIdentity, TaskRollup, WorklogRollup
from service.tables import Task as TaskRow

from .factories import PEOPLE, T0, make_org, make_source, random_task

T = TaskRow.__table__


def _consistent(db, org: int) -> dict[str, set]:
    """What is kept equals a rebuild (``rollups.check``); returns the kept rows."""
    with db.write() as c:
        diff = rollups.check(c, org)
        assert not any(diff.values()), diff
        return rollups.snapshot(c, org)


def _worklog(rnd: random.Random, ext: str, task: str, version: int = 0) -> WorklogUpsert:
    return WorklogUpsert(worklog=Worklog(
        external_id=ext, task_external_id=task, author=rnd.choice([*PEOPLE, None]),
        started_at=T0 + timedelta(hours=rnd.randrange(0, 24 * 30), minutes=rnd.randrange(60)),
        seconds=rnd.choice([900, 3600, 5400]), updated_at=T0 + timedelta(days=50, minutes=version)))


def _person(db, org: int, ref: PersonRef) -> int:
    pi = PersonIdentity.__table__
    with db.read() as c:
        return c.execute(sa.select(pi.c.person_id).where(pi.c.org_id == org, pi.c.external_id == ref.external_id)
                         ).scalar_one()


def test_every_kind_of_write_keeps_the_rollups(db):
    rnd = random.Random(7)
    org, other = make_org(db, "acme", timezone="Europe/Berlin"), make_org(db, "other")
    src, src2 = make_source(db, org), make_source(db, org, kind="trello", name="trello")
    osrc = make_source(db, other)
    exts = [str(1000 + i) for i in range(80)]
    with db.write() as c:  # worklogs that arrive before their tasks, then a backfill page per source
        apply_effects(c, org, src, [_worklog(rnd, f"w{i}", rnd.choice(exts)) for i in range(40)])
        apply_effects(c, org, src, [random_task(rnd, e, 1) for e in exts])
        apply_effects(c, org, src2, [random_task(rnd, e, 1) for e in exts[:30]])
        apply_effects(c, other, osrc, [random_task(rnd, e, 1) for e in exts[:20]])
        apply_effects(c, other, osrc, [_worklog(rnd, f"o{i}", rnd.choice(exts[:20])) for i in range(10)])
    kept = _consistent(db, org)
    assert sum(r[5] for r in kept["task_rollup"]) == 110  # n: every alive task once
    assert sum(r[4] for r in kept["worklog_rollup"]) > 0 and kept["workload_rollup"] and kept["milestone_rollup"]
    other_before = _consistent(db, other)

    for version in range(2, 6):  # incremental pages: tasks change, move, gain and lose links; worklogs change
        with db.write() as c:
            apply_effects(c, org, src, [random_task(rnd, e, version) for e in rnd.sample(exts, 25)])
            apply_effects(c, org, src, [_worklog(rnd, f"w{i}", rnd.choice(exts), version)
                                        for i in rnd.sample(range(60), 15)])
        _consistent(db, org)
    with db.write() as c:  # patches from partial events
        apply_effects(c, org, src, [
            TaskPatch(external_id=e, fields={"status_category": StatusCategory.done, "archived": rnd.random() < .3,
                                             "due_date": date(2026, 3, 1)}, updated_at=T0 + timedelta(days=300))
            for e in exts[40:50]])
    _consistent(db, org)
    with db.write() as c:  # tombstones (and one for a task never seen), worklog deletes
        apply_effects(c, org, src, [TaskDelete(external_id=e, reason=DeletedReason.deleted, at=T0 + timedelta(days=200))
                                    for e in [*exts[:10], "9999"]])
        apply_effects(c, org, src, [WorklogDelete(external_id=f"w{i}") for i in range(5)])
    _consistent(db, org)
    with db.write() as c:  # a tombstoned task comes back
        apply_effects(c, org, src, [random_task(rnd, exts[0], 10_000)])
    _consistent(db, org)

    ann, bob = _person(db, org, PEOPLE[0]), _person(db, org, PEOPLE[1])
    with db.session() as s:  # rates: added, replaced, deleted
        people_svc.add_rate(s, org, ann, RateCreate(effective_from=date(2026, 1, 20), hourly_rate=Decimal(80)))
        people_svc.replace_rates(s, org, bob, [RateCreate(effective_from=date(2025, 1, 1), hourly_rate=Decimal(50)),
                                               RateCreate(effective_from=date(2026, 1, 15), hourly_rate=Decimal(65))])
        s.commit()
    _consistent(db, org)
    with db.session() as s:
        rate = people_svc.list_rates(s, org, bob)[0]
        people_svc.delete_rate(s, org, bob, rate.id)
        s.commit()
    _consistent(db, org)
    with db.session() as s:  # one person's identity linked onto another (a merge), then split off again
        people_svc.link_identity(s, org, ann, IdentityLink(tool="jira", external_id=PEOPLE[1].external_id))
        s.commit()
    kept = _consistent(db, org)
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).where(Person.__table__.c.id == bob)).scalar() == 0
    with db.session() as s:
        pi = PersonIdentity.__table__
        ident = s.execute(sa.select(pi.c.id).where(pi.c.org_id == org, pi.c.external_id == PEOPLE[1].external_id)
                          ).scalar_one()
        people_svc.unlink_identity(s, org, ann, ident)
        s.commit()
    _consistent(db, org)
    with db.session() as s:  # the organization's zone: every worklog's local day moves
        update_organization(s, org, OrganizationUpdate(timezone="America/Los_Angeles"))
        s.commit()
    after_zone = _consistent(db, org)
    assert after_zone["worklog_copies"] != kept["worklog_copies"]

    with db.write() as c:  # a whole source deleted: its rows and its rollup rows go
        rollups.delete_source(c, src2)
    kept = _consistent(db, org)
    assert {r[2] for r in kept["task_rollup"]} == {src}
    assert _consistent(db, other) == other_before  # the other organization untouched throughout


def test_a_single_field_change_moves_the_rollups(db):
    rnd = random.Random(3)
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(30)])
        before = rollups.snapshot(c, org)
    for field, value in (("estimate_points", 13.0), ("status_category", StatusCategory.in_progress),
                         ("archived", True), ("due_date", date(2027, 1, 1))):
        with db.write() as c:
            u = random_task(random.Random(3), "5", 2)
            apply_effects(c, org, src, [u.model_copy(update={"task": u.task.model_copy(update={field: value})})])
        after = _consistent(db, org)
        assert after != before, field
        before = after


def test_check_finds_a_rollup_written_behind_the_stores_back(db):
    rnd = random.Random(5)
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(20)])
        apply_effects(c, org, src, [_worklog(rnd, f"w{i}", str(i % 20)) for i in range(20)])
        c.execute(sa.update(TaskRollup.__table__).values(n=TaskRollup.__table__.c.n + 1))
        c.execute(sa.delete(WorklogRollup.__table__))
        c.execute(sa.update(T).where(T.c.external_id == "3").values(estimate_points=99.0))  # bypasses the store
    with db.write() as c:
        diff = rollups.check(c, org)
    assert diff["task_rollup"] > 0 and diff["worklog_rollup"] > 0, diff
    with db.write() as c:  # check changed nothing; a rebuild repairs it all
        assert rollups.check(c, org) == diff
        rollups.rebuild(c, org)
    _consistent(db, org)


def test_concurrent_writers_lose_nothing(pg_db):
    """Three PostgreSQL transactions at a time write tasks and worklogs of one source while a
    fourth changes rates of the people involved: the source lock makes the source's writers
    take turns and the rate changes wait for them, so nothing is lost and nothing deadlocks."""
    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:  # the people exist before the rate writer starts
        apply_effects(c, org, src, [random_task(random.Random(0), "seed", 1)])
        apply_effects(c, org, src, [WorklogUpsert(worklog=Worklog(
            external_id=f"seed-{p.external_id}", task_external_id="seed", author=p, started_at=T0, seconds=60))
            for p in PEOPLE])
    errors: list[BaseException] = []
    retries: list[int] = []

    def attempt(fn) -> None:  # noqa: ANN001
        for n in range(3):
            try:
                fn()
                return
            except Exception as exc:
                if n == 2 or not retryable(exc):
                    raise
                retries.append(1)

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            for page in range(6):
                exts = [f"{seed}-{page}-{i}" for i in range(15)]

                def write(exts: list[str] = exts) -> None:
                    with db.write() as c:
                        apply_effects(c, org, src, [random_task(rnd, e, 1) for e in exts])
                        apply_effects(c, org, src, [_worklog(rnd, f"{e}-w", e) for e in exts])
                        apply_effects(c, org, src, [TaskDelete(external_id=exts[0])])
                attempt(write)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def rater() -> None:
        try:
            person = _person(db, org, PEOPLE[0])
            for day in range(1, 7):
                def write(day: int = day) -> None:
                    with db.session() as s:
                        people_svc.add_rate(s, org, person, RateCreate(effective_from=date(2026, 1, day),
                                                                       hourly_rate=Decimal(40 + day)))
                        s.commit()
                attempt(write)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2, 3)] + [threading.Thread(target=rater)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert not retries  # one lock per source, taken first: writers wait, they do not deadlock
    kept = _consistent(db, org)
    assert sum(r[5] for r in kept["task_rollup"]) == 1 + 3 * 6 * 14


def test_writing_needs_no_function_registered_on_sqlite(sqlite_db):
    """No trigger is left to call ``taskhub_local_day``: a worklog written over a connection that
    never registered it is dated and kept like any other."""
    import sqlite3

    org = make_org(sqlite_db, timezone="Asia/Tokyo")
    src = make_source(sqlite_db, org)
    path = sqlite_db.engine.url.database
    raw = sa.create_engine(f"sqlite:///{path}", module=sqlite3)
    with raw.begin() as c:
        apply_effects(c, org, src, [random_task(random.Random(1), "1", 1),
                                    WorklogUpsert(worklog=Worklog(external_id="w", task_external_id="1",
                                                                  started_at=T0.replace(hour=20), seconds=60))])
        assert c.execute(sa.text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")).scalar() == 0
        assert c.execute(sa.text("SELECT started_day FROM worklog")).scalar() == "2026-01-06"  # Tokyo: next day
    raw.dispose()
    _consistent(sqlite_db, org)


def test_scope_keys_of_any_text_select_exactly_their_rows(db):
    """A write's keys are bound as one array (PostgreSQL) or an expanding list (SQLite): keys with
    quotes, backslashes, commas, braces, spaces, the word NULL or nothing at all must select
    exactly their own tasks and worklogs, and the rollups stay equal to a rebuild."""
    from service.store.rollups import touched_tasks, with_worklogs

    org = make_org(db)
    src = make_source(db, org)
    odd = ['a"b', "c\\d", "e,f", "{g}", "h i", "NULL", "", "é😀", 'x\\"y']
    rnd = random.Random(7)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, ext, 1) for ext in [*odd, "plain"]])
        apply_effects(c, org, src, [_worklog(rnd, f"w{i}", ext) for i, ext in enumerate(odd)])
    with db.read() as c:
        assert with_worklogs(c, src, [*odd, "plain"]) == sorted(odd)
        scope = touched_tasks(c, src, odd)
        found = sorted(e for e, in c.execute(sa.select(T.c.external_id).where(scope.where), scope.params))
    assert found == sorted(odd)
    with db.write() as c:
        assert rollups.check(c, org) == dict.fromkeys(rollups.check(c, org), 0)
