"""The store's locks under concurrent writers on PostgreSQL (``service.store.rollups.lock_sources``):
writers that used to deadlock or double count, found by the independent review of issue 17.
Each test holds one transaction open at the moment that mattered (a short sleep) while another
runs; the assertions are on the outcome, never on timing."""

from __future__ import annotations

import random
import threading
import time
from datetime import date
from types import SimpleNamespace

import sqlalchemy as sa

import service.store as store_pkg
from mappings.model import DeletedReason, PersonRef, Task, TaskDelete, TaskUpsert
from mappings.trello import BoardContext
from service.db import retryable
from service.store import apply_effects, rollups
from service.sync.trello import TrelloSyncer
from service.tables import PersonIdentity, PersonRate

from .factories import T0, make_org, make_source, random_task

real_apply_effects = apply_effects
ANN = PersonRef(tool="jira", external_id="ann", display_name="Ann")


def _card(ext, board, assignee=None):
    return TaskUpsert(task=Task(external_id=ext, title=ext, project_external_id=board, status_category="todo",
                                updated_at=T0, created_at=T0,
                                assignees=[assignee] if assignee else []), raw={})


def _t(ext, pts=3.0, project=None):
    return TaskUpsert(task=Task(external_id=ext, title=ext, project_external_id=project, project_key="P",
                                status_category="todo", updated_at=T0, created_at=T0,
                                assignees=[ANN], estimate_points=pts), raw={})


def _run(**bodies):
    """Run each body in a thread of its own; what each raised, by name (an exception in a thread
    would otherwise only be printed, and the test pass)."""
    errors = {}

    def catching(name, body):
        try:
            body()
        except Exception as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors[name] = exc

    threads = [threading.Thread(target=catching, args=item) for item in bodies.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_a_trello_board_page_and_a_webhook_batch_do_not_deadlock(pg_db, monkeypatch):
    """The sync writes the board's project, then its cards; the inbox the reverse order of rows:
    both take the source lock first."""
    db = pg_db
    org = make_org(db)
    src = make_source(db, org, kind="trello", name="trello")
    with db.write() as c:  # the board's project exists
        real_apply_effects(c, org, src, [_card("seed", "b1")])
    a_holds_project, b_started = threading.Event(), threading.Event()

    def gated(conn, *args, **kw):  # TrelloSyncer._apply: upsert_projects done, now apply_effects
        a_holds_project.set()
        b_started.wait(10)
        time.sleep(1.0)  # B is now waiting for the project row A updated
        return real_apply_effects(conn, *args, **kw)

    monkeypatch.setattr(store_pkg, "apply_effects", gated)
    fake = SimpleNamespace(source=SimpleNamespace(id=src, org_id=org), source_id=src,
                           ctx=SimpleNamespace(db=db, recorder=SimpleNamespace(items_changed=0)))

    def sync_side():  # the sync runner's Trello page (service/sync/trello.py:_apply)
        TrelloSyncer._apply(fake, "b1", {"id": "b1", "name": "Board"}, BoardContext.minimal("b1"),
                            [_card("c1", "b1")], "cursor-1")

    def inbox_side():  # the inbox's _commit for a webhook on the same board
        a_holds_project.wait(10)
        with db.write() as c:
            b_started.set()
            real_apply_effects(c, org, src, [_card("c2", "b1")])

    errors = _run(sync=sync_side, inbox=inbox_side)
    assert not errors, {k: (type(v).__name__, retryable(v), str(v).splitlines()[0]) for k, v in errors.items()}


def test_taskhub_apply_and_a_sync_page_do_not_deadlock(pg_db, monkeypatch):
    """taskhub apply writes project settings, then rates (the organization-wide lock): it takes
    that lock before its first write."""
    from service.portfolio import apply as apply_mod
    from service.portfolio import people as people_mod

    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    ann = PersonRef(tool="jira", external_id="ann", display_name="Ann")
    with db.write() as c:
        real_apply_effects(c, org, src, [_card("seed", "100", ann)])
    a_updated_projects, b_started = threading.Event(), threading.Event()
    real_replace = people_mod.replace_rates

    def gated_replace(s, *args):
        s.flush()  # the project settings are written (row locks held)
        a_updated_projects.set()
        b_started.wait(10)
        time.sleep(1.0)
        return real_replace(s, *args)

    monkeypatch.setattr(people_mod, "replace_rates", gated_replace)
    doc = apply_mod.parse_document({
        "projects": [{"source": "jira-cloud", "external_id": "100", "hourly_rate": 60}],
        "people": [{"identity": {"tool": "jira", "external_id": "ann"},
                    "rates": [{"effective_from": "2026-01-01", "hourly_rate": 100}]}]})

    def apply_side():
        with db.session() as s:
            apply_mod.apply_document(s, org, doc)
            s.commit()

    def sync_side():  # a Jira page of the same project
        a_updated_projects.wait(10)
        with db.write() as c:
            b_started.set()
            real_apply_effects(c, org, src, [_card("c9", "100")])

    errors = _run(apply=apply_side, sync=sync_side)
    assert not errors, {k: (type(v).__name__, retryable(v), str(v).splitlines()[0]) for k, v in errors.items()}


def test_a_source_created_during_an_organization_wide_write_is_counted_once(pg_db):
    """Its writers wait for the organization's row, so the block's second read cannot see rows
    its first read did not."""
    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_t("1")])
        ann = c.execute(sa.select(PersonIdentity.__table__.c.person_id)).scalar_one()
    inside, other_done = threading.Event(), threading.Event()

    def rate_writer():
        with db.write() as c:
            with rollups.people_changing(c, org, [ann]):
                c.execute(sa.insert(PersonRate.__table__).values(org_id=org, person_id=ann,
                                                                 effective_from=date(2026, 1, 1), hourly_rate=90))
                inside.set()
                other_done.wait(2)

    def new_source_sync():
        inside.wait(10)
        src2 = make_source(db, org, name="jira-2")
        with db.write() as c:
            apply_effects(c, org, src2, [_t("1")])
        other_done.set()

    assert not _run(rates=rate_writer, sync=new_source_sync)
    with db.write() as c:
        diff = rollups.check(c, org)
    assert not any(diff.values())


def test_check_during_a_write_reports_no_difference(pg_db):
    db = pg_db
    org = make_org(db)
    src = make_source(db, org)
    rnd = random.Random(1)
    with db.write() as c:
        apply_effects(c, org, src, [random_task(rnd, str(i), 1) for i in range(20)])
    writer_holds, result = threading.Event(), {}

    def writer():
        with db.write() as c:
            apply_effects(c, org, src, [random_task(rnd, str(i), 2) for i in range(20, 40)])
            writer_holds.set()
            time.sleep(1.5)  # check() snapshots now, then waits in rebuild's lock_sources

    def checker():
        writer_holds.wait(10)
        with db.write() as c:
            result["diff"] = rollups.check(c, org)

    assert not _run(writer=writer, checker=checker)
    with db.write() as c:
        after = rollups.check(c, org)
    assert not any(result["diff"].values()) and not any(after.values()), (result, after)


def test_a_float_residue_is_not_a_difference(db):
    """0.1 + 0.2 - 0.1 - 0.2 leaves ~1e-17 in the kept sum; a rebuild gives 0."""
    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        apply_effects(c, org, src, [_t("a", 0.1, "100")])
        apply_effects(c, org, src, [_t("b", 0.2, "100")])
        apply_effects(c, org, src, [_t("c", None, "100")])
    with db.write() as c:
        apply_effects(c, org, src, [TaskDelete(external_id="a", reason=DeletedReason.deleted, at=T0)])
        apply_effects(c, org, src, [TaskDelete(external_id="b", reason=DeletedReason.deleted, at=T0)])
    with db.write() as c:
        diff = rollups.check(c, org)
    assert not any(diff.values()), diff


def test_a_deadlock_in_a_statement_run_on_the_driver_is_retryable(pg_db):
    """Locks, folds and the bulk write run on the driver's cursor (store.sql.run, _pg_rows): a
    deadlock there must still reach callers as SQLAlchemy's DBAPIError, which db.retryable and
    the API's 503 recognize (issue 17's review: it came out as a bare psycopg error)."""
    org = make_org(pg_db)
    s1, s2 = make_source(pg_db, org), make_source(pg_db, org, kind="trello", name="t")
    a_has_s1, b_has_s2 = threading.Event(), threading.Event()

    def a() -> None:
        with pg_db.engine.begin() as c:
            rollups.lock_sources(c, [s1])
            a_has_s1.set()
            b_has_s2.wait(5)
            rollups.lock_sources(c, [s2])

    def b() -> None:
        with pg_db.engine.begin() as c:
            a_has_s1.wait(5)
            rollups.lock_sources(c, [s2])
            b_has_s2.set()
            time.sleep(0.3)
            rollups.lock_sources(c, [s1])

    errors = _run(a=a, b=b)
    assert len(errors) == 1, errors
    (exc,) = errors.values()
    assert getattr(getattr(exc, "orig", None), "sqlstate", None) == "40P01"
    assert isinstance(exc, sa.exc.DBAPIError), type(exc)
    assert retryable(exc)
