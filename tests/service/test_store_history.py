"""Stored history: change rows keep the tool's status ids; a re-read rewrites the ids and
categories of stored rows and adds the missing ones; task times recomputed from the history
keep every rollup right."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from mappings.model import Change, StatusCategory
from service import store
from service.store import rollups
from service.store.history import (
    recategorize_rows,
    rewrite_changes,
    set_work_dates,
    settle_work_dates,
    status_change_page,
    stored_histories,
)
from service.store.rollups import lock_sources
from service.store.tasks import change_rows
from service.tables import Change as ChangeRow
from service.tables import Task
from tests.service.factories import T0, make_org, make_source, task

C = ChangeRow.__table__
T = Task.__table__
WIP, DONE = StatusCategory.in_progress, StatusCategory.done


def _move(ext: str, n: int, to_id: str | None, to: StatusCategory | None, *, minutes: int = 0) -> Change:
    return Change(task_external_id=ext, external_id=f"h{n}:0", field="status", from_value="To Do",
                  to_value="In Progress", from_id="10000", to_id=to_id, from_category=StatusCategory.todo,
                  to_category=to, changed_at=T0 + timedelta(minutes=minutes))


def _rows(db):
    with db.read() as c:
        return {r.external_id: r for r in c.execute(
            sa.select(C.c.id, C.c.external_id, C.c.from_id, C.c.to_id, C.c.to_category, C.c.origin)
            .order_by(C.c.id)).all()}


def test_change_rows_keep_the_status_ids_and_drop_one_too_long_for_a_status_id(db):
    org = make_org(db)
    src = make_source(db, org)
    up = task("1", minutes=5, status="Done", category=DONE)
    up.changes = [_move("1", 1, "3", WIP), _move("1", 2, "x" * 51, DONE, minutes=1)]
    with db.write() as c:
        store.upsert_tasks(c, org, src, [up])
    rows = _rows(db)
    assert (rows["h1:0"].from_id, rows["h1:0"].to_id) == ("10000", "3")
    assert rows["h2:0"].to_id is None and rows["h2:0"].to_category == "done"  # categorized by name instead


def test_a_reread_takes_ids_and_categories_of_stored_rows_and_adds_missing_ones(db):
    org = make_org(db)
    src = make_source(db, org)
    up = task("1", minutes=5, status="Done", category=DONE)
    up.changes = [_move("1", 1, None, None)]  # stored before ids were kept: no id, no category
    with db.write() as c:
        store.upsert_tasks(c, org, src, [up])
    old_id = _rows(db)["h1:0"].id
    again = [_move("1", 1, "3", WIP), _move("1", 0, "10000", StatusCategory.todo, minutes=-5)]
    with db.write() as c:
        lock_sources(c, [src])
        rewrite_changes(c, change_rows(org, src, again + again))  # repeated rows are written once
    rows = _rows(db)
    assert set(rows) == {"h0:0", "h1:0"} and rows["h1:0"].id == old_id  # updated in place
    assert (rows["h1:0"].to_id, rows["h1:0"].to_category) == ("3", "in_progress")
    with db.write() as c:
        page = status_change_page(c, src, after=0, limit=10)
        assert [r["id"] for r in page] == [old_id, rows["h0:0"].id]
        assert page[0]["project_external_id"] == "100" and page[0]["to_id"] == "3"
        assert status_change_page(c, src, after=rows["h0:0"].id, limit=10) == []
        recategorize_rows(c, [(old_id, "todo", "done")])
    assert _rows(db)["h1:0"].to_category == "done"


def test_work_dates_recomputed_from_history_move_the_task_and_keep_every_rollup(db):
    org = make_org(db)
    src = make_source(db, org)
    done = task("1", minutes=30, status="Done", category=DONE)
    done.changes = [_move("1", 1, "3", WIP, minutes=10)]
    todo = task("2", minutes=30)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [done, todo])
    with db.write() as c:
        lock_sources(c, [src])
        found = stored_histories(c, src, ["1", "2", "404"])
    assert set(found) == {"1", "2"}
    one = found["1"]
    assert one.category is DONE and [ch.to_category for ch in one.changes] == [WIP]
    assert one.completed_at == T0 + timedelta(minutes=30)  # the store's fallback: its last update
    # nothing known: a done task keeps what it has; a to-do task has no start
    assert settle_work_dates(one, None, None) == (one.started_at, one.completed_at)
    assert settle_work_dates(found["2"], None, None) == (None, None)
    later = T0 + timedelta(days=2)
    with db.write() as c:
        assert set_work_dates(c, src, {"1": (T0, later)}) == 1
    with db.read() as c:
        assert c.execute(sa.select(T.c.started_at, T.c.completed_at).where(T.c.external_id == "1")).one() == (
            T0, later)
    with db.write() as c:
        assert set(rollups.check(c, org).values()) == {0}


def test_every_version_s_changelog_is_kept_whichever_version_wins(db):
    org = make_org(db)
    src = make_source(db, org)
    first = task("1", minutes=1, status="In Progress", category=WIP)
    first.changes = [_move("1", 1, "3", WIP, minutes=1)]
    second = task("1", minutes=2, status="Done", category=DONE)
    second.changes = [_move("1", 2, "10002", DONE, minutes=2)]
    with db.write() as c:  # two events of one issue in one batch: the newest is stored
        store.upsert_tasks(c, org, src, [second, first])
    assert set(_rows(db)) == {"h1:0", "h2:0"}
    late = task("1", minutes=0, status="In Progress", category=WIP)
    late.changes = [_move("1", 0, "3", WIP)]
    with db.write() as c:  # an older version arriving late never regresses the task
        stats = store.upsert_tasks(c, org, src, [late])
    assert stats.stale == 1
    assert set(_rows(db)) == {"h0:0", "h1:0", "h2:0"}  # ... but what it tells happened
    with db.read() as c:
        assert c.execute(sa.select(T.c.status).where(T.c.external_id == "1")).scalar() == "Done"
