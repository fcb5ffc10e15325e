"""The store keeps each task's latest activity (``task.last_activity_at``) only where a write can
move it: change rows later than the kept value, a task row stored after its change rows or
worklogs, a worklog written, deleted or moved. A write that adds no later change row and moves no
worklog (a page re-sent with its changelog, a tombstone, a rate) recomputes nothing, and what is
kept still equals a rebuild (``rollups.check``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from mappings.model import (
    Change,
    DeletedReason,
    StatusCategory,
    Task,
    TaskDelete,
    TaskUpsert,
    Worklog,
    WorklogDelete,
    WorklogUpsert,
)
from service.portfolio import people as people_svc
from service.portfolio.schemas import RateCreate
from service.store import apply_effects, rollups
from service.tables import PersonIdentity
from service.tables import Task as TaskRow

from .factories import PEOPLE, make_org, make_source

T = TaskRow.__table__
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _task(ext: str, version: int, changes: int) -> TaskUpsert:
    return TaskUpsert(
        task=Task(external_id=ext, key=f"P-{ext}", title=f"task {ext}", project_external_id="100", project_key="P",
                  status_category=StatusCategory.in_progress, created_at=T0,
                  updated_at=T0 + timedelta(days=version)),
        changes=[Change(task_external_id=ext, external_id=f"{ext}:{n}", field="priority", from_value="low",
                        to_value="high", changed_at=T0 + timedelta(days=n)) for n in range(1, changes + 1)])


def _worklog(ext: str, task: str, day: float, updated: float | None = None) -> WorklogUpsert:
    """Started on ``day``, last updated on ``updated`` (its version; default: the same day)."""
    return WorklogUpsert(worklog=Worklog(
        external_id=ext, task_external_id=task, author=PEOPLE[0], seconds=3600, started_at=T0 + timedelta(days=day),
        updated_at=T0 + timedelta(days=day if updated is None else updated)))


def _kept(db, org: int) -> dict[str, datetime | None]:
    with db.read() as c:
        return {e: v for e, v in c.execute(sa.select(T.c.external_id, T.c.last_activity_at).where(T.c.org_id == org))}


def _rebuilt(db, org: int) -> None:
    with db.write() as c:
        assert rollups.check(c, org)["task_activity"] == 0


def test_only_writes_that_can_move_the_latest_activity_recompute_it(db):
    org = make_org(db, "upkeep")
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_worklog("w0", "c", 9)])  # c: a worklog before its task
        apply_effects(c, org, src, [_task("a", 5, 3), _task("b", 5, 0), _task("c", 5, 1)])
    assert _kept(db, org) == {"a": T0 + timedelta(days=3), "b": None, "c": T0 + timedelta(days=9)}
    _rebuilt(db, org)

    # A value no write recomputes stays as it is: a kept value made later than any activity shows
    # which of the writes below recompute it (they should not: none can move it).
    marker = T0 + timedelta(days=100)
    with db.write() as c:
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.external_id.in_(["a", "c"]))
                  .values(last_activity_at=marker))
    with db.write() as c:  # the same versions again, with their changelogs
        apply_effects(c, org, src, [_task("a", 5, 3), _task("b", 5, 0), _task("c", 5, 1)])
    with db.write() as c:  # a newer version whose changelog holds nothing new
        apply_effects(c, org, src, [_task("c", 6, 1)])
    with db.write() as c:  # a tombstone
        apply_effects(c, org, src, [TaskDelete(external_id="b", reason=DeletedReason.deleted, at=T0)])
    pi = PersonIdentity.__table__
    with db.session() as s:  # a rate: the worklogs are re-priced, their times stay
        person = s.execute(sa.select(pi.c.person_id).where(pi.c.org_id == org,
                                                           pi.c.external_id == PEOPLE[0].external_id)).scalar_one()
        people_svc.add_rate(s, org, person, RateCreate(effective_from=date(2026, 1, 1), hourly_rate=Decimal(70)))
        s.commit()
    assert _kept(db, org) == {"a": marker, "b": None, "c": marker}
    with db.write() as c:
        rollups.rebuild(c, org)
    assert _kept(db, org) == {"a": T0 + timedelta(days=3), "b": None, "c": T0 + timedelta(days=9)}

    with db.write() as c:  # a later change row of a
        apply_effects(c, org, src, [_task("a", 7, 4)])
    assert _kept(db, org)["a"] == T0 + timedelta(days=4)
    with db.write() as c:  # c's worklog moves to a: both move
        apply_effects(c, org, src, [_worklog("w0", "a", 9)])
    assert _kept(db, org) == {"a": T0 + timedelta(days=9), "b": None, "c": T0 + timedelta(days=1)}
    with db.write() as c:
        apply_effects(c, org, src, [WorklogDelete(external_id="w0")])
    assert _kept(db, org) == {"a": T0 + timedelta(days=4), "b": None, "c": T0 + timedelta(days=1)}
    with db.write() as c:  # b comes back with a changelog older than its creation here: still its activity
        apply_effects(c, org, src, [_task("b", 9, 2)])
    assert _kept(db, org)["b"] == T0 + timedelta(days=2)
    _rebuilt(db, org)


def test_a_worklog_write_sets_what_it_moves_and_recomputes_only_what_it_takes_away(db):
    org = make_org(db, "worklogs")
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_task("a", 5, 2), _task("b", 5, 0)])
        apply_effects(c, org, src, [_worklog("w1", "a", 4), _worklog("w2", "a", 6), _worklog("w3", "b", 3)])
    assert _kept(db, org) == {"a": T0 + timedelta(days=6), "b": T0 + timedelta(days=3)}
    marker = T0 + timedelta(days=100)
    with db.write() as c:  # a's kept value later than any activity: only a recompute brings it back
        c.execute(sa.update(T).where(T.c.org_id == org, T.c.external_id == "a").values(last_activity_at=marker))
    with db.write() as c:  # earlier than the kept value: nothing to recompute
        apply_effects(c, org, src, [_worklog("w4", "a", 1), WorklogDelete(external_id="w1")])
        apply_effects(c, org, src, [_worklog("w2", "a", 7)])  # made later, still before the kept value
    assert _kept(db, org)["a"] == marker
    with db.write() as c:
        rollups.rebuild(c, org)
    assert _kept(db, org) == {"a": T0 + timedelta(days=7), "b": T0 + timedelta(days=3)}

    steps = [
        ([_worklog("w2", "a", 8, 7.5)], {"a": 8, "b": 3}),  # the latest made later: set as it is
        ([_worklog("w2", "a", 1, 7.6)], {"a": 7.6, "b": 3}),  # the latest made earlier: recomputed
        ([_worklog("w2", "a", 1, 1.5)], {"a": 7.6, "b": 3}),  # an older version: not stored
        ([_worklog("w5", "b", 9)], {"a": 7.6, "b": 9}),  # a new latest
        ([_worklog("w5", "a", 9, 9.1)], {"a": 9.1, "b": 3}),  # moved: b recomputed, a set
        ([WorklogDelete(external_id="w5")], {"a": 7.6, "b": 3}),  # the latest deleted
        ([_worklog("w5", "b", 10)], {"a": 7.6, "b": 10}),  # brought back, on b
        ([_worklog("w2", "b", 1, 7.7), _worklog("w3", "a", 3, 3.5)], {"a": 3.5, "b": 10}),  # two swap tasks
    ]
    for effects, days in steps:
        with db.write() as c:
            apply_effects(c, org, src, effects)
        assert _kept(db, org) == {e: T0 + timedelta(days=d) for e, d in days.items()}, effects
        _rebuilt(db, org)
