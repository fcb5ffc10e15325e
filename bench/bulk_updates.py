"""Bulk writes through the store: sync-sized pages and whole-source deletes, cost per row as they grow.

    .venv/bin/python bench/bulk_updates.py [--store both|sqlite|postgres] [--scale 1.0] [--part both|updates|delete]

Every write goes through the store's own functions (``service.store``), as sync and the inbox
call them: a rollup kept by the store, not the database, is only right if nothing writes
around it, so raw UPDATE statements would measure a path no one takes.

Update shapes: one Jira-like source of 100,000 tasks × scale (a project per 200 tasks, people
in teams of 8, milestones, ~2 worklogs per task, status history) is bulk-inserted and its
rollups rebuilt. Then 2 %, 10 % and 50 % of its tasks (or worklogs) are tombstoned, moved to
done, given another assignee, moved a day later or deleted, in pages of 250 effects, each page in
its own ``db.write()`` transaction like a sync page. Only those calls are timed; each share is
then undone through the store (untimed), so every share starts from the same state.

Source delete: sources of 25,000, 50,000 and 100,000 tasks × scale, in 4 projects and in a
project per 200 tasks, each deleted with ``service.store.rollups.delete_source`` in one transaction.

Both print ms per 1,000 rows and the ratio largest ÷ smallest (target ≤ 2: linear; on the
PostgreSQL row triggers a source delete took 3.9 s for 10k open tasks and 25.3 s for 40k), then
check that the rollups still equal a rebuild.
SQLite goes to a temporary file; PostgreSQL to a database created (and dropped) next to
``TASKHUB_BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import create_pg_database, drop_pg_database  # noqa: E402
from mappings.model import (  # noqa: E402
    MilestoneRef,
    PersonRef,
    StatusCategory,
    Task,
    TaskDelete,
    TaskType,
    TaskUpsert,
    Worklog,
    WorklogDelete,
    WorklogUpsert,
)
from service import store, tables  # noqa: E402
from service.db import Database  # noqa: E402
from service.store.rollups import check, delete_source, local_day  # noqa: E402
from service.store.rollups import rebuild as rebuild_rollups  # noqa: E402
from service.store.sql import bulk_insert, executemany  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
ZONE, RATE = "Europe/Berlin", 80  # the organization's time zone; everyone's hourly rate
PAGE = 250  # effects per store call and transaction, as a sync page
SHARES = (2, 10, 50)  # per cent of the source's tasks (or worklogs)
DELETE_SIZES = (25_000, 50_000, 100_000)


def _insert(conn: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """The store's bulk INSERT (rows with the same keys): on PostgreSQL a column array per
    10,000 rows instead of a round trip per row, so a source of 100,000 tasks builds in seconds."""
    if rows:
        stmt = bulk_insert(conn, tables.table(table), tuple(rows[0]))
        for i in range(0, len(rows), 10_000):
            executemany(conn, stmt, rows[i : i + 10_000])


def _analyze(db: Database) -> None:
    """Fresh statistics before timing; on PostgreSQL also no dead rows of earlier rounds, and the
    set-up's writes checkpointed, so that no checkpoint of them falls inside a timed write."""
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
            c.exec_driver_sql("CHECKPOINT")
    else:
        with db.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
            c.commit()


def _new(conn: Connection, table: Any, **values: Any) -> int:
    t = tables.table(table)
    return conn.execute(sa.insert(t).values(**values).returning(t.c.id)).scalar_one()


def make_org(db: Database, name: str, n_people: int) -> tuple[int, list[PersonRef]]:
    """An organization with people known by their Jira accounts, each with an hourly rate."""
    with db.write() as c:
        org = _new(c, tables.Organization, name=name, timezone=ZONE, currency="EUR", default_hourly_rate=50,
                   created_at=NOW)
        ids = [_new(c, tables.Person, org_id=org, display_name=f"Person {i}") for i in range(n_people)]
        _insert(c, tables.PersonIdentity, [{"org_id": org, "person_id": p, "tool": "jira", "external_id": f"acc{p}"}
                                           for p in ids])
        since = NOW.date() - timedelta(days=400)
        _insert(c, tables.PersonRate, [{"org_id": org, "person_id": p, "effective_from": since, "hourly_rate": RATE}
                                       for p in ids])
    return org, [PersonRef(tool="jira", external_id=f"acc{p}", display_name=f"Person {p}") for p in ids]


@dataclass
class Built:
    """A source as stored, with the common-model records it was made from (the update shapes
    resend them changed, and send them back unchanged to undo)."""

    org: int
    source: int
    tasks: list[Task]
    worklogs: list[Worklog]


def build_source(db: Database, org: int, people: list[PersonRef], n_tasks: int, n_projects: int,
                 seed: int) -> Built:
    """Bulk-insert a source as a full sync would leave it, then rebuild the organization's rollups."""
    rnd = random.Random(seed)
    start = NOW - timedelta(days=300)
    tasks: list[Task] = []
    worklogs: list[Worklog] = []
    teams = [rnd.sample(people, min(8, len(people))) for _ in range(n_projects)]
    for i in range(n_tasks):
        p = i % n_projects
        created = start + timedelta(minutes=rnd.randint(0, 280 * 24 * 60))
        roll = rnd.random()  # 35 % done, 25 % in progress: at least half is open for "to done"
        cat = StatusCategory.done if roll < 0.35 else StatusCategory.in_progress if roll < 0.6 else StatusCategory.todo
        started = created + timedelta(hours=rnd.randint(1, 240)) if cat != StatusCategory.todo else None
        done = started + timedelta(hours=rnd.randint(4, 600)) if started and cat == StatusCategory.done else None
        n_assignees = rnd.choice((0, 1, 1, 1, 1, 1, 1, 1, 2, 1))
        tasks.append(Task(
            external_id=f"t{i}", key=f"P{p}-{i}", project_external_id=f"p{p}", project_key=f"P{p}",
            title=f"Task {i}", type=TaskType.story, status=cat.value, status_category=cat,
            assignees=rnd.sample(teams[p], n_assignees),
            milestones=[MilestoneRef(external_id=f"m{p}-{rnd.randint(0, 4)}")] if rnd.random() < 0.6 else [],
            created_at=created, updated_at=min(NOW, done or started or created),
            started_at=min(NOW, started) if started else None, completed_at=min(NOW, done) if done else None,
            due_date=(created + timedelta(days=rnd.randint(5, 90))).date() if rnd.random() < 0.5 else None,
            estimate_points=rnd.choice((1, 2, 3, 5, 8, None)), spent_seconds=rnd.randint(0, 40) * 1800,
            remaining_seconds=rnd.randint(0, 20) * 1800,
        ))
        for k in range(rnd.choice((0, 1, 2, 3, 4))):
            at = min(NOW - timedelta(minutes=5), created + timedelta(hours=rnd.randint(1, 2000)))
            worklogs.append(Worklog(external_id=f"w{i}-{k}", task_external_id=f"t{i}", author=rnd.choice(teams[p]),
                                    started_at=at, seconds=rnd.randint(1, 16) * 1800, updated_at=at))
    with db.write() as c:
        src = _new(c, tables.Source, org_id=org, kind="jira", name=f"jira-{seed}", poll_interval_seconds=300,
                   enabled=True, status="ok", created_at=start, updated_at=start)
        common = {"org_id": org, "source_id": src}
        _insert(c, tables.Project, [{**common, "external_id": f"p{p}", "key": f"P{p}", "name": f"P{p}",
                                     "created_at": start} for p in range(n_projects)])
        projects = _ids(c, tables.Project, src)
        _insert(c, tables.Milestone, [{
            **common, "project_id": projects[f"p{p}"], "external_id": f"m{p}-{m}", "name": f"M{m}",
            "due_date": (start + timedelta(days=60 * (m + 1))).date(), "released": False, "archived": False,
            "synced_at": NOW,
        } for p in range(n_projects) for m in range(5)])
        milestones = _ids(c, tables.Milestone, src)
        _insert(c, tables.Task, [{
            **common, "project_id": projects[t.project_external_id or ""], "external_id": t.external_id,
            "key": t.key, "title": t.title, "type": t.type.value, "status": t.status,
            "status_category": t.status_category.value,
            "assignees": [a.model_dump(mode="json", exclude_none=True) for a in t.assignees], "labels": [],
            "milestone_refs": [m.model_dump(mode="json") for m in t.milestones], "remote_created_at": t.created_at,
            "remote_updated_at": t.updated_at, "started_at": t.started_at, "completed_at": t.completed_at,
            "due_date": t.due_date, "estimate_points": t.estimate_points, "spent_seconds": t.spent_seconds,
            "remaining_seconds": t.remaining_seconds, "is_milestone": False, "archived": False, "synced_at": NOW,
        } for t in tasks])
        task_ids = _ids(c, tables.Task, src)
        task_project = {t.external_id: projects[t.project_external_id or ""] for t in tasks}
        person = {ref.external_id: int(ref.external_id[3:]) for ref in people}
        _insert(c, tables.TaskAssignee, [{"task_id": task_ids[t.external_id], "person_id": person[a.external_id]}
                                         for t in tasks for a in t.assignees])
        _insert(c, tables.TaskMilestone, [{"task_id": task_ids[t.external_id],
                                           "milestone_id": milestones[m.external_id]}
                                          for t in tasks for m in t.milestones])
        _insert(c, tables.Worklog, [{
            **common, "task_external_id": w.task_external_id, "external_id": w.external_id,
            "person_id": person[w.author.external_id] if w.author else None, "started_at": w.started_at,
            "seconds": w.seconds, "remote_updated_at": w.updated_at, "synced_at": NOW, "carried_in": False,
            # The copies the rebuild computes, made here so that it only checks them (one rate per person).
            "task_id": task_ids[w.task_external_id], "task_project_id": task_project[w.task_external_id],
            "started_day": local_day(w.started_at, ZONE), "author_rate": RATE if w.author else None,
        } for w in worklogs])
        moves = (("todo", "in_progress", "started_at"), ("in_progress", "done", "completed_at"))
        _insert(c, tables.Change, [{
            **common, "task_external_id": t.external_id, "external_id": f"{t.external_id}-{to}", "field": "status",
            "from_category": frm, "to_category": to, "changed_at": getattr(t, when), "origin": "changelog",
        } for t in tasks for frm, to, when in moves if getattr(t, when)])
        rebuild_rollups(c, org)
    _analyze(db)
    return Built(org, src, tasks, worklogs)


def _ids(conn: Connection, table: Any, source_id: int) -> dict[str, int]:
    t = tables.table(table)
    return dict(conn.execute(sa.select(t.c.external_id, t.c.id).where(t.c.source_id == source_id)).all())


# --- update shapes ----------------------------------------------------------------------

Writer = Callable[[Connection, int, int, Sequence[Any]], Any]  # (conn, org, source, page): the store's signature


def _delete_worklogs(conn: Connection, org: int, source: int, page: Sequence[Any]) -> Any:
    return store.delete_worklogs(conn, source, page)  # the one store write without the organization


def _reassigned(t: Task, people: list[PersonRef]) -> list[PersonRef]:
    """Each assignee handed to the next person of the organization (an unassigned task gets one)."""
    index = {p.external_id: i for i, p in enumerate(people)}
    if not t.assignees:
        return [people[int(t.external_id[1:]) % len(people)]]
    return [people[(index[a.external_id] + 1) % len(people)] for a in t.assignees]


class Shape(NamedTuple):
    records: str  # "tasks" or "worklogs": what the share is of
    eligible: Callable[[Any], bool]
    change: Callable[[Any, datetime, list[PersonRef]], Any]  # (record, version, people) -> effect
    write: Writer


SHAPES = {
    "tombstone tasks": Shape("tasks", lambda t: True, lambda t, at, _: TaskDelete(external_id=t.external_id),
                             store.apply_task_deletes),
    "tasks to done": Shape(
        "tasks", lambda t: t.status_category != StatusCategory.done,
        lambda t, at, _: TaskUpsert(task=t.model_copy(update={
            "status": "done", "status_category": StatusCategory.done, "completed_at": at, "updated_at": at})),
        store.upsert_tasks),
    "assignees changed": Shape(
        "tasks", lambda t: True,
        lambda t, at, people: TaskUpsert(task=t.model_copy(update={"assignees": _reassigned(t, people),
                                                                    "updated_at": at})),
        store.upsert_tasks),
    "worklogs a day later": Shape(
        "worklogs", lambda w: True,
        lambda w, at, _: WorklogUpsert(worklog=w.model_copy(update={
            "started_at": w.started_at + timedelta(days=1), "updated_at": at})),
        store.upsert_worklogs),
    "worklogs deleted": Shape(
        "worklogs", lambda w: True,
        lambda w, at, _: WorklogDelete(external_id=w.external_id, task_external_id=w.task_external_id),
        _delete_worklogs),
}


def write_pages(db: Database, built: Built, write: Writer, effects: list[Any]) -> float:
    """Seconds spent in the store function and the commit, page by page."""
    spent = 0.0
    for i in range(0, len(effects), PAGE):
        t0 = time.perf_counter()
        with db.write() as c:
            write(c, built.org, built.source, effects[i : i + PAGE])
        spent += time.perf_counter() - t0
    return spent


def measure_updates(db: Database, built: Built, people: list[PersonRef]) -> None:
    rnd = random.Random(11)
    print(f"\nupdate shapes over {len(built.tasks):,} tasks / {len(built.worklogs):,} worklogs, pages of {PAGE}")
    print(f"{'':22} " + " ".join(f"{f'{p} % of the rows':^26}" for p in SHARES))
    print(f"{'shape':22} " + " ".join(f"{'rows':>7} {'ms':>9} {'ms/1k':>8}" for _ in SHARES) + "   largest ÷ smallest")
    for name, shape in SHAPES.items():
        records = built.tasks if shape.records == "tasks" else built.worklogs
        pool = [r for r in records if shape.eligible(r)]
        rnd.shuffle(pool)
        cells, per_k = [], []
        for share in SHARES:
            picked = pool[: len(records) * share // 100]
            at = tables.utcnow()
            effects = [shape.change(r, at, people) for r in picked]
            ms = write_pages(db, built, shape.write, effects) * 1000
            per_k.append(ms / len(picked) * 1000)
            cells.append(f"{len(picked):>7,} {ms:>9,.0f} {per_k[-1]:>8,.0f}")
            undo(db, built, shape.records, picked)
        print(f"{name:22} " + " ".join(cells) + f"   {per_k[-1] / per_k[0]:.2f}×")


def undo(db: Database, built: Built, kind: str, picked: list[Any]) -> None:
    """Send the records as they were, at a newer version (a tombstoned task comes back, a deleted
    worklog too), so the next share starts from the same state."""
    at = {"updated_at": tables.utcnow()}
    if kind == "tasks":
        write_pages(db, built, store.upsert_tasks, [TaskUpsert(task=t.model_copy(update=at)) for t in picked])
    else:
        write_pages(db, built, store.upsert_worklogs, [WorklogUpsert(worklog=w.model_copy(update=at)) for w in picked])


# --- source delete ----------------------------------------------------------------------


def measure_deletes(db: Database, scale: float, people: list[PersonRef], org: int) -> None:
    sizes = [max(100, int(n * scale)) for n in DELETE_SIZES]
    print("\nsource delete (one transaction; the source's rows cascade, its rollup rows go)")
    print(f"{'':24} " + " ".join(f"{f'{n:,} tasks':^18}" for n in sizes))
    print(f"{'layout':24} " + " ".join(f"{'ms':>9} {'ms/1k':>8}" for _ in sizes) + "   largest ÷ smallest")
    for label, projects in (("in 4 projects", lambda n: 4), ("a project per 200 tasks", lambda n: max(1, n // 200))):
        cells, per_k = [], []
        for n in sizes:
            built = build_source(db, org, people, n, projects(n), seed=n + projects(n))
            t0 = time.perf_counter()
            with db.write() as c:
                delete_source(c, built.source)
            ms = (time.perf_counter() - t0) * 1000
            per_k.append(ms / n * 1000)
            cells.append(f"{ms:>9,.0f} {per_k[-1]:>8,.0f}")
        print(f"{label:24} " + " ".join(cells) + f"   {per_k[-1] / per_k[0]:.2f}×")


def report_check(db: Database, org: int) -> None:
    """The writes above went through the store: its rollups must still equal a rebuild."""
    with db.write() as c:
        differing = {table: n for table, n in check(c, org).items() if n}
    print(f"rollups equal a rebuild: {'yes' if not differing else f'NO, rows differing {differing}'}")


def run_store(store_name: str, scale: float, part: str) -> None:
    tmp, name = Path(tempfile.mkdtemp()), None
    if store_name == "sqlite":
        db = Database(f"sqlite:///{tmp / 'bulk.db'}")
    else:
        url, name = create_pg_database("taskhub_bench_bulk")
        db = Database(url)
    try:
        db.migrate()
        n_people = max(16, int(200 * scale))
        print(f"\n== {store_name}")
        if part in ("both", "updates"):
            org, people = make_org(db, "updates", n_people)
            n = int(100_000 * scale)
            t0 = time.perf_counter()
            built = build_source(db, org, people, n, max(1, n // 200), seed=5)
            print(f"(source built in {time.perf_counter() - t0:.1f} s)")
            measure_updates(db, built, people)
            report_check(db, org)
        if part in ("both", "delete"):
            org, people = make_org(db, "deletes", n_people)
            measure_deletes(db, scale, people, org)
            report_check(db, org)
    finally:
        db.dispose()
        shutil.rmtree(tmp)
        if name:
            drop_pg_database(name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", choices=("both", "sqlite", "postgres"), default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="1.0 = 100k tasks (and sources of 25k/50k/100k)")
    ap.add_argument("--part", choices=("both", "updates", "delete"), default="both")
    args = ap.parse_args()
    print(f"taskhub bulk writes through the store: scale {args.scale}; target: largest ÷ smallest ≤ 2× (linear)")
    for store_name in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        run_store(store_name, args.scale, args.part)


if __name__ == "__main__":
    main()
