"""The task rollup's time gaps (``untimed_n``, ``stand_in``: METRICS, percent complete by time)
follow the writes that change a task's estimate, remaining figure or status, and revision 0019
fills them for rollup rows that existed before it; the progress view reads them, by the rollup
or by the scan, with the same hand-computed figures."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from mappings.model import DeletedReason, StatusCategory, TaskDelete, TaskType, TaskUpsert
from service.store import apply_effects, rollups
from service.tables import TaskRollup
from service.views import ViewParams, compute_view
from service.views import rollups as view_rollups
from tests.service.factories import T0, make_org, make_source, task
from tests.service.test_migrations import _as_taskhub_up_to_0013, _populate, new_database  # noqa: F401

R = TaskRollup.__table__
H = 3600
TODO, WIP, DONE = StatusCategory.todo, StatusCategory.in_progress, StatusCategory.done


def _task(ext: str, version: int, category: StatusCategory, estimate: int | None, remaining: int | None,
          **kw: object) -> TaskUpsert:
    return task(ext, minutes=version, category=category, estimate_seconds=estimate, remaining_seconds=remaining,
                **kw)


def _gaps(db, org: int) -> dict[tuple[str, int], tuple[int, int]]:
    """(status, class) -> (Σ untimed_n, Σ stand_in) as kept, after ``rollups.check`` found the
    kept rows equal to a rebuild."""
    with db.write() as c:
        diff = rollups.check(c, org)
        assert not any(diff.values()), diff
        rows = c.execute(sa.select(R.c.status_category, R.c.cls, sa.func.sum(R.c.untimed_n), sa.func.sum(R.c.stand_in))
                         .where(R.c.org_id == org).group_by(R.c.status_category, R.c.cls)).all()
    return {(st, cls): (int(u), int(s)) for st, cls, u, s in rows if u or s}


def _progress_gaps(db, org: int, monkeypatch) -> set[tuple[int, float]]:
    """(open_without_remaining, remaining_stand_in_seconds) of the progress view's total and of
    its one project, ungrouped and by project, read from the rollup and scanned: one value."""
    seen, read = set(), view_rollups.totals_and_days
    for group in (None, "project"):
        for scanned in (False, True):
            answered: list = []

            def spy(conn, sel, answered=answered, scanned=scanned, **kw):
                answered.append(None if scanned else read(conn, sel, **kw))
                return answered[-1]

            monkeypatch.setattr(view_rollups, "totals_and_days", spy)
            v = compute_view(db, org, "progress", ViewParams(group_by=group))  # as of now: the rollup applies
            monkeypatch.undo()
            assert (answered[0] is None) == scanned
            seen |= {(r["open_without_remaining"], r["remaining_stand_in_seconds"]) for r in [v["total"], *v["groups"]]}
    return seen


def test_writes_to_estimate_remaining_and_status_keep_the_time_gaps(db, monkeypatch):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [
            _task("a", 1, TODO, None, None),  # no remaining, no estimate: a gap
            _task("b", 1, WIP, 2 * H, None),  # its estimate stands in for the remaining figure
            _task("c", 1, TODO, H, 600),  # has a remaining figure: neither
            _task("d", 1, DONE, None, None),  # done: kept in the done row, not read
            _task("e", 1, TODO, None, None, type=TaskType.epic),  # never counted (class 0)
        ])
    assert _gaps(db, org) == {("todo", 1): (1, 0), ("in_progress", 1): (0, 2 * H), ("done", 1): (1, 0),
                              ("todo", 0): (1, 0)}
    assert _progress_gaps(db, org, monkeypatch) == {(1, 2 * H)}

    with db.write() as c:
        apply_effects(c, org, src, [
            _task("a", 2, TODO, 1800, None),  # gains an estimate: it stands in now
            _task("b", 2, WIP, 2 * H, 300),  # gains a remaining figure
            _task("c", 2, DONE, H, 600),  # done
            _task("d", 2, TODO, None, None),  # reopened, still without either
        ])
    assert _gaps(db, org) == {("todo", 1): (1, 1800), ("todo", 0): (1, 0)}
    assert _progress_gaps(db, org, monkeypatch) == {(1, 1800)}

    with db.write() as c:  # a tombstone, and the estimate taken away again
        apply_effects(c, org, src, [
            TaskDelete(external_id="d", reason=DeletedReason.deleted, at=T0 + timedelta(days=3)),
            _task("a", 3, TODO, None, None),
        ])
    assert _gaps(db, org) == {("todo", 1): (1, 0), ("todo", 0): (1, 0)}
    assert _progress_gaps(db, org, monkeypatch) == {(1, 0)}


def test_revision_0019_fills_the_time_gaps_of_existing_rollup_rows(new_database):  # noqa: F811
    """Rows written at 0011 (its triggers kept the rollups), upgraded to 0018 and then to head:
    per organization the epic (todo, no remaining, no estimate) is the one untimed task and the
    archived done task (no remaining, 5 h estimate) the one standing in; the deleted one (10 h)
    counts nowhere. And what 0019 filled is what a rebuild gives."""
    db = new_database()
    db.migrate("0011")
    with _as_taskhub_up_to_0013(db) as conn:
        _populate(conn)
    db.migrate("0018")
    db.migrate()
    with db.write() as c:
        orgs = c.execute(sa.text("SELECT id FROM organization ORDER BY id")).scalars().all()
        assert len(orgs) == 2
        for org in orgs:
            got = c.execute(sa.select(R.c.status_category, R.c.cls, R.c.untimed_n, R.c.stand_in)
                            .where(R.c.org_id == org, sa.or_(R.c.untimed_n != 0, R.c.stand_in != 0))).all()
            assert sorted(tuple(r) for r in got) == [("done", 2, 0, 5 * H), ("todo", 0, 1, 0)]
            diff = rollups.check(c, org)
            assert not any(diff.values()), diff
