"""The store: upserts under the monotonic guard, tombstones, change history, bulk pages."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from mappings.model import Change as ChangeIn
from mappings.model import (
    DeletedReason,
    Milestone,
    MilestoneRef,
    MilestoneUpsert,
    PersonRef,
    StatusCategory,
    TaskDelete,
    Worklog,
    WorklogDelete,
    WorklogUpsert,
)
from service import store
from service.db import json_dumps
from service.store.sql import _sqlite_processor, _sqlite_utc_text, bulk_insert, executemany
from service.tables import Change, Person, Project, Task, TaskAssignee, TaskMilestone
from service.tables import Milestone as MilestoneRow
from service.tables import Worklog as WorklogRow
from tests.service.factories import T0, make_org, make_source, task


def _task(db, ext="1"):
    with db.read() as c:
        return c.execute(sa.select(Task.__table__).where(Task.__table__.c.external_id == ext)).one()


def test_upsert_creates_task_project_and_people(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        stats = store.upsert_tasks(c, org, src, [task("1", assignee="acc-1"), task("2", assignee="acc-1")])
    assert stats.changed == 2
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(Project.__table__)).scalar() == 1
        assert c.execute(sa.select(sa.func.count()).select_from(Person.__table__)).scalar() == 1
        assert c.execute(sa.select(sa.func.count()).select_from(TaskAssignee.__table__)).scalar() == 2
    row = _task(db, "1")
    assert row.key == "PRJ-1" and row.raw == {"id": "1", "v": 0}
    assert row.remote_updated_at == T0


def test_older_version_never_overwrites_newer(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=10, status="Done", category=StatusCategory.done)])
    with db.write() as c:
        stats = store.upsert_tasks(c, org, src, [task("1", minutes=5, status="In Progress",
                                                      category=StatusCategory.in_progress)])
    assert stats.stale == 1 and stats.changed == 0
    assert _task(db).status == "Done"


def test_equal_version_is_idempotent(db):
    org = make_org(db)
    src = make_source(db, org)
    for _ in range(3):
        with db.write() as c:
            store.upsert_tasks(c, org, src, [task("1", minutes=3, status="In Progress",
                                                  category=StatusCategory.in_progress, assignee="a")])
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(Task.__table__)).scalar() == 1
        assert c.execute(sa.select(sa.func.count()).select_from(Change.__table__)).scalar() == 0
        assert c.execute(sa.select(sa.func.count()).select_from(TaskAssignee.__table__)).scalar() == 1


def test_status_assignee_due_and_estimate_changes_are_recorded(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1")])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1, status="In Progress",
                                              category=StatusCategory.in_progress, assignee="bob",
                                              due_date=date(2026, 2, 1), estimate_points=3.0)])
    with db.read() as c:
        rows = c.execute(sa.select(Change.__table__).order_by(Change.__table__.c.field)).all()
    fields = {r.field: r for r in rows}
    assert set(fields) == {"assignee", "due_date", "points", "status"}  # the points set: a points row
    pts = fields["points"]
    assert (pts.from_value, pts.to_value, pts.origin) == (None, "3.0", "observed")
    assert fields["status"].from_category == "todo" and fields["status"].to_category == "in_progress"
    assert fields["status"].changed_at == T0 + timedelta(minutes=1)
    assert _task(db).started_at == T0 + timedelta(minutes=1)


def test_delete_tombstones_and_late_update_does_not_resurrect(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1)])
        store.apply_task_deletes(c, org, src, [TaskDelete(external_id="1", at=T0 + timedelta(minutes=5))])
    with db.write() as c:
        stats = store.upsert_tasks(c, org, src, [task("1", minutes=2)])
    assert stats.changed == 0
    row = _task(db)
    assert row.deleted_reason == "deleted" and row.deleted_at is not None


def test_delete_before_create_leaves_tombstone(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.apply_task_deletes(c, org, src, [TaskDelete(external_id="9", at=T0 + timedelta(minutes=5),
                                                          reason=DeletedReason.deleted)])
        store.upsert_tasks(c, org, src, [task("9", minutes=1)])
    assert _task(db, "9").deleted_at is not None


def test_out_of_scope_task_comes_back_with_newer_version(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1)])
        store.apply_task_deletes(c, org, src, [TaskDelete(external_id="1", at=T0 + timedelta(minutes=2),
                                                          reason=DeletedReason.out_of_scope)])
        store.upsert_tasks(c, org, src, [task("1", minutes=3)])
    assert _task(db).deleted_at is None


def test_a_move_dated_tombstone_older_than_the_stored_version_takes_the_write_time(db):
    # A card re-fetched on a board the source does not mirror is tombstoned as of the move seen;
    # when the stored version is newer (it moved again after that move), that date would be
    # skipped as stale: the tombstone takes the write's time instead. A move-dated one newer than
    # the stored version keeps the move's time; one without a move is guarded as before.
    org = make_org(db)
    src = make_source(db, org)

    def moved_out(ext: str, at: datetime) -> TaskDelete:
        move = ChangeIn(task_external_id=ext, external_id=f"{ext}:left", field="project", from_value="A",
                      to_value="X", from_id="100", to_id="999", changed_at=at)
        return TaskDelete(external_id=ext, reason=DeletedReason.out_of_scope, at=at, changes=[move])

    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=10), task("2", minutes=10), task("3", minutes=10)])
    before = datetime.now(UTC)
    with db.write() as c:
        store.apply_task_deletes(c, org, src, [
            moved_out("1", T0 + timedelta(minutes=5)),  # older than the stored version
            moved_out("2", T0 + timedelta(minutes=20)),  # newer
            TaskDelete(external_id="3", reason=DeletedReason.out_of_scope, at=T0 + timedelta(minutes=5)),
        ])
    stamped = {e: _task(db, e).deleted_at for e in ("1", "2", "3")}
    aware = {e: (v if v is None or v.tzinfo else v.replace(tzinfo=UTC)) for e, v in stamped.items()}
    assert aware["1"] is not None and aware["1"] >= before - timedelta(seconds=1)
    assert aware["2"] == T0 + timedelta(minutes=20)
    assert aware["3"] is None  # a stale delete without a move: skipped, as before


def test_milestone_baseline_is_first_due_date(db):
    org = make_org(db)
    src = make_source(db, org)

    def ms(due):
        return MilestoneUpsert(milestone=Milestone(external_id="v1", name="1.0", due_date=due,
                                                   project_external_id="100"))

    with db.write() as c:
        store.upsert_milestones(c, org, src, [ms(date(2026, 3, 1))])
    with db.write() as c:
        store.upsert_milestones(c, org, src, [ms(date(2026, 3, 6))])
    with db.read() as c:
        row = c.execute(sa.select(MilestoneRow.__table__)).one()
    assert row.due_date == date(2026, 3, 6) and row.baseline_due_date == date(2026, 3, 1)
    assert row.project_id is not None


def test_task_links_to_milestone_before_the_milestone_arrives(db):
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", milestones=[MilestoneRef(external_id="v1", name="1.0")])])
    with db.write() as c:
        store.upsert_milestones(c, org, src, [MilestoneUpsert(milestone=Milestone(
            external_id="v1", name="1.0", due_date=date(2026, 3, 1)))])
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(TaskMilestone.__table__)).scalar() == 1
        row = c.execute(sa.select(MilestoneRow.__table__)).one()
    assert row.due_date == date(2026, 3, 1) and row.baseline_due_date == date(2026, 3, 1)


def test_worklogs_upsert_guard_and_delete(db):
    org = make_org(db)
    src = make_source(db, org)
    author = PersonRef(tool="jira", external_id="acc-1", display_name="Ann")

    def wl(secs, minutes):
        return WorklogUpsert(worklog=Worklog(external_id="w1", task_external_id="1", author=author,
                                             started_at=T0, seconds=secs,
                                             updated_at=T0 + timedelta(minutes=minutes)))

    with db.write() as c:
        store.upsert_worklogs(c, org, src, [wl(3600, 2)])
        store.upsert_worklogs(c, org, src, [wl(60, 1)])  # older: ignored
    with db.read() as c:
        assert c.execute(sa.select(WorklogRow.__table__.c.seconds)).scalar() == 3600
    with db.write() as c:
        store.delete_worklogs(c, src, [WorklogDelete(external_id="w1")])
    with db.read() as c:
        assert c.execute(sa.select(WorklogRow.__table__.c.deleted_at)).scalar() is not None


def test_people_link_by_email_across_tools(db):
    org = make_org(db)
    with db.write() as c:
        a = store.resolve_people(c, org, [PersonRef(tool="jira", external_id="acc-1", email="Ann@x.io")])
        b = store.resolve_people(c, org, [PersonRef(tool="trello", external_id="m1", email="ann@x.io")])
    assert a[("jira", "acc-1")] == b[("trello", "m1")]


def _count_statements(db, fn):
    count = {"n": 0}

    def before(*_a, **_k):
        count["n"] += 1

    sa.event.listen(db.engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", before)
    return count["n"]


def test_bulk_page_uses_a_handful_of_statements_not_one_per_row(db):
    org = make_org(db)
    src = make_source(db, org)

    def page(start, n):
        def run():
            with db.write() as c:
                store.upsert_tasks(c, org, src, [task(str(i), assignee=f"p{i % 7}") for i in range(start, start + n)])
        return run

    small = _count_statements(db, page(0, 50))
    large = _count_statements(db, page(1000, 150))
    # The rollups add a fixed number per page (each one's sums read before and after, one
    # upsert), never one per row.
    assert small <= 40, small
    assert large - small <= 4, (small, large)  # grows by chunk, never by row


_orgs = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(list(range(6))), batch=st.booleans())
def test_any_delivery_order_ends_at_the_newest_version(db, order, batch):
    org_name = f"o{next(_orgs)}"
    org = make_org(db, name=org_name)
    src = make_source(db, org)
    cats = [StatusCategory.todo, StatusCategory.in_progress, StatusCategory.done]
    versions = [task("42", minutes=m, status=f"S{m}", category=cats[m % 3]) for m in order]
    if batch:
        with db.write() as c:
            store.upsert_tasks(c, org, src, versions)
    else:
        for v in versions:
            with db.write() as c:
                store.upsert_tasks(c, org, src, [v])
    with db.read() as c:
        row = c.execute(sa.select(Task.__table__).where(Task.__table__.c.source_id == src)).one()
    assert row.status == "S5" and row.remote_updated_at == T0 + timedelta(minutes=5)


def test_project_names_survive_id_only_references(db):
    org = make_org(db)
    src = make_source(db, org)
    P = Project.__table__
    with db.write() as c:
        store.upsert_projects(c, org, src, [("100", "PRJ", None)])  # from an issue: key only
        store.upsert_projects(c, org, src, [("100", None, None)])  # from a version: id only
        store.upsert_projects(c, org, src, [("b1", None, "Website")])  # a board with its name
        store.upsert_projects(c, org, src, [("b1", None, None)])
    with db.read() as c:
        names = dict(c.execute(sa.select(P.c.external_id, P.c.name)).all())
    assert names == {"100": "PRJ", "b1": "Website"}


def test_an_empty_project_key_is_written_as_the_upserts_write_it(db):
    """``""`` is a key for the upsert (only None keeps the stored one), so the read-first
    shortcut must not take it for "no key" (issue 17's review)."""
    org = make_org(db)
    src = make_source(db, org)
    P = Project.__table__
    with db.write() as c:
        store.upsert_projects(c, org, src, [("100", "PRJ", None)])
        store.upsert_projects(c, org, src, [("100", "", None)])
    with db.read() as c:
        assert c.execute(sa.select(P.c.key, P.c.name).where(P.c.external_id == "100")).one() == ("", "PRJ")


def test_projects_stored_as_they_are_are_not_written_again(db):
    """A sync page names the same projects page after page: one read, no upsert (no statement, no
    dead row version); a new key or a better name is still written."""
    org = make_org(db)
    src = make_source(db, org)
    P = Project.__table__
    with db.write() as c:
        ids = store.upsert_projects(c, org, src, [("100", "PRJ", None), ("b1", None, "Website")])
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.write() as c:
            assert store.upsert_projects(c, org, src, [("100", "PRJ", None), ("b1", None, "Website"),
                                                       ("b1", None, None)]) == ids
        assert not [s for s in seen if "INSERT INTO project" in s]
        with db.write() as c:
            assert store.upsert_projects(c, org, src, [("100", "PRJ2", None), ("b1", None, "Site")]) == ids
        assert [s for s in seen if "INSERT INTO project" in s]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    with db.read() as c:
        assert dict(c.execute(sa.select(P.c.external_id, P.c.key)).all()) == {"100": "PRJ2", "b1": None}
        assert dict(c.execute(sa.select(P.c.external_id, P.c.name)).all()) == {"100": "PRJ", "b1": "Site"}


def test_bulk_write_takes_ints_floats_and_decimals_side_by_side(db):
    """A page's numbers may mix ints, floats and Decimals in one column (PostgreSQL writes the
    page as one JSON text, Decimals as exact text; SQLite binds row by row)."""
    from decimal import Decimal

    org = make_org(db)
    src = make_source(db, org)
    pages = [task("1"), task("2"), task("3")]
    for u, points, cost in zip(pages, (3, 2.5, None), (Decimal("10.25"), 7, 1.5), strict=True):
        # As another mapping might hand them over: bypass the model's float coercion.
        object.__setattr__(u.task, "estimate_points", points)
        object.__setattr__(u.task, "cost", cost)
    with db.write() as c:
        assert store.upsert_tasks(c, org, src, pages).changed == 3
    got = {r.external_id: (r.estimate_points, float(r.cost)) for r in (_task(db, e) for e in ("1", "2", "3"))}
    assert got == {"1": (3.0, 10.25), "2": (2.5, 7.0), "3": (None, 1.5)}


def test_bulk_write_stores_exactly_what_a_plain_insert_stores(db):
    """The bulk path binds values with its own (faster) processors where SQLAlchemy's are
    slow: datetimes in any zone, with and without microseconds, and JSON (None included)
    must come out of the database as the generic ``conn.execute`` path stores them."""
    org = make_org(db)
    src = make_source(db, org)
    C = Change.__table__
    times = [datetime(2026, 3, 29, 1, 30, tzinfo=UTC), datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2024, 2, 29, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
             datetime(2025, 6, 1, 0, 0, tzinfo=timezone(timedelta(hours=14)))]
    cols = ("org_id", "source_id", "task_external_id", "external_id", "field", "from_value", "to_value",
            "from_category", "to_category", "changed_at", "origin")

    def rows(prefix):
        return [{"org_id": org, "source_id": src, "task_external_id": f"{prefix}{i}", "external_id": "e",
                 "field": "status", "from_value": None, "to_value": "Done", "from_category": None,
                 "to_category": "done", "changed_at": at, "origin": "changelog"} for i, at in enumerate(times)]

    with db.write() as c:
        executemany(c, bulk_insert(c, C, cols), rows("bulk"))
        c.execute(sa.insert(C), rows("plain"))
    with db.read() as c:
        stored = {r.task_external_id: r for r in c.execute(
            sa.select(C.c.task_external_id, C.c.changed_at, sa.cast(C.c.changed_at, sa.String).label("text"))
        )}
    for i, at in enumerate(times):
        bulk, plain = stored[f"bulk{i}"], stored[f"plain{i}"]
        assert bulk.changed_at == plain.changed_at == at
        assert bulk.text == plain.text

    # JSON columns (a task's assignees, labels and raw): the stored text is the same too.
    T = Task.__table__
    values = [None, {"a": [1, 2.5, "é", None, True]}, [], "x"]
    base = {"org_id": org, "source_id": src, "title": "t", "type": "task", "status_category": "todo",
            "is_milestone": False, "archived": False, "synced_at": times[0]}
    with db.write() as c:
        executemany(c, bulk_insert(c, T, (*base, "external_id", "raw")),
                    [{**base, "external_id": f"jb{i}", "raw": v} for i, v in enumerate(values)])
        c.execute(sa.insert(T), [{**base, "external_id": f"jp{i}", "raw": v} for i, v in enumerate(values)])
    with db.read() as c:
        raw = dict(c.execute(sa.select(T.c.external_id, sa.cast(T.c.raw, sa.Text))
                             .where(T.c.external_id.like("j%"))).all())
    assert [raw[f"jb{i}"] for i in range(4)] == [raw[f"jp{i}"] for i in range(4)]


def test_bulk_write_refuses_a_naive_datetime(db):
    org = make_org(db)
    src = make_source(db, org)
    C = Change.__table__
    row = {"org_id": org, "source_id": src, "task_external_id": "1", "external_id": "e", "field": "status",
           "changed_at": datetime(2026, 1, 1), "origin": "changelog"}
    with pytest.raises((ValueError, sa.exc.StatementError), match="timezone"):
        with db.write() as c:
            executemany(c, bulk_insert(c, C, tuple(row)), [row])


def test_sqlite_binds_datetimes_and_json_with_the_fast_processors():
    """Guards the speed path itself: should SQLAlchemy change its formats, the probes would
    quietly fall back to the generic processors, and this test says so."""
    dialect = sqlite.dialect(json_serializer=json_dumps)
    assert _sqlite_processor(Change.__table__.c.changed_at.type, dialect) is _sqlite_utc_text
    assert _sqlite_processor(Task.__table__.c.raw.type, dialect) is json_dumps


def test_postgres_bulk_page_is_written_by_orjson_without_the_fallback(pg_db, monkeypatch):
    """The PostgreSQL bulk path writes a task page (datetimes, dates, JSON, floats) in one
    orjson call; the fallback through the JSON type's serializer is for values orjson would
    write differently, and a normal page must not need it."""
    import service.store.sql as sql_mod

    calls = []
    real = sql_mod.orjson.dumps

    def counting(*a, **k):
        calls.append(k.get("option"))
        return real(*a, **k)

    monkeypatch.setattr(sql_mod.orjson, "dumps", counting)
    org = make_org(pg_db)
    src = make_source(pg_db, org)
    T = Task.__table__
    row = {"org_id": org, "source_id": src, "external_id": "p1", "title": "t", "type": "task",
           "status_category": "todo", "is_milestone": False, "archived": False,
           "synced_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "due_date": date(2026, 2, 3),
           "estimate_points": 2.5, "raw": {"k": [1, "é"]}, "labels": ["a"]}
    with pg_db.write() as c:
        calls.clear()
        executemany(c, bulk_insert(c, T, tuple(row)), [row])
        assert len(calls) == 1
    with pg_db.read() as c:
        got = c.execute(sa.select(T.c.due_date, T.c.synced_at, T.c.raw, T.c.labels, T.c.estimate_points)
                        .where(T.c.external_id == "p1")).one()
    assert tuple(got) == (date(2026, 2, 3), row["synced_at"], {"k": [1, "é"]}, ["a"], 2.5)


def test_an_observed_estimate_change_names_its_unit_one_row_per_unit(db):
    """Points removed and hours set in one sync: a ``points`` row and an ``estimate`` row (seconds),
    not one row whose unit the reader had to guess (issue 23 review: 5 points read as 5 seconds)."""
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", estimate_points=5.0)])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1, estimate_points=None, estimate_seconds=14400)])
    with db.read() as c:
        rows = c.execute(sa.select(Change.__table__).order_by(Change.__table__.c.field)).all()
    assert [(r.field, r.from_value, r.to_value) for r in rows] == [("estimate", None, "14400"),
                                                                   ("points", "5.0", None)]
