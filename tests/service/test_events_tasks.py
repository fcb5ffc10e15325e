"""Which task and source changes fire which events (issue 22): once per change, in the change's
transaction, none for a re-applied version, none in a backfill (one ``source.synced`` instead)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from mappings.model import DeletedReason, StatusCategory, TaskDelete, TaskPatch
from service import store
from service.db import Database
from service.events.task_events import quiet_source
from service.tables import Event, Source, WebhookEndpoint, table
from tests.service.factories import T0, make_org, make_source, task

EV, EP, S = table(Event), table(WebhookEndpoint), table(Source)


def subscribe(db: Database, org_id: int, types: list[str] | None = None) -> int:
    now = datetime.now(UTC)
    with db.write() as c:
        return c.execute(sa.insert(EP).values(
            org_id=org_id, url="https://hooks.example.com/x", event_types=types or ["*"], enabled=True,
            secret_enc="x", health="ok", created_at=now, updated_at=now).returning(EP.c.id)).scalar_one()


def events(db: Database, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    with db.read() as c:
        rows = c.execute(sa.select(EV.c.type, EV.c.payload).where(EV.c.type.startswith(prefix))
                         .order_by(EV.c.id)).all()
    return [(t, p["data"]) for t, p in rows]


@pytest.fixture
def world(db: Database) -> tuple[Database, int, int]:
    org = make_org(db)
    src = make_source(db, org)
    subscribe(db, org)
    return db, org, src


def test_a_new_task_is_created_once_and_a_reapplied_version_emits_nothing(world):
    db, org, src = world
    for _ in range(2):
        with db.write() as c:
            store.upsert_tasks(c, org, src, [task("1")])
    [(kind, data)] = events(db)
    assert kind == "task.created"
    assert data["external_id"] == "1" and data["source_id"] == src
    assert data["links"] == {"task": f"/api/v1/tasks/{data['task_id']}"}


def test_an_update_carries_each_changed_field_old_and_new(world):
    db, org, src = world
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1)])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=2, status="In Progress",
                                              category=StatusCategory.in_progress, assignee="acc-9")])
    kind, data = events(db)[-1]
    assert kind == "task.updated"
    assert data["changed"] == {
        "status": {"old": "To Do", "new": "In Progress"},
        "status_category": {"old": "todo", "new": "in_progress"},
        "assignees": {"old": [], "new": ["acc-9"]},
        # the store stamps the first move out of todo with the version's time
        "started_at": {"old": None, "new": (T0 + timedelta(minutes=2)).isoformat()},
    }


def test_an_older_version_and_an_unchanged_newer_one_emit_nothing(world):
    db, org, src = world
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=5)])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1, status="Done", category=StatusCategory.done)])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=9)])  # newer version, same fields
    assert [k for k, _ in events(db)] == ["task.created"]


def test_a_patch_emits_an_update_of_what_it_changed(world):
    db, org, src = world
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=1)])
    with db.write() as c:
        store.apply_effects(c, org, src, [
            TaskPatch(external_id="1", fields={"title": "Renamed"}, updated_at=T0 + timedelta(minutes=2)),
            TaskPatch(external_id="1", fields={"title": "Renamed"}, updated_at=T0 + timedelta(minutes=3)),
        ])
    assert [(k, d.get("changed")) for k, d in events(db)] == [
        ("task.created", None), ("task.updated", {"title": {"old": "Task 1", "new": "Renamed"}})]


def test_a_live_task_deleted_emits_once_a_tombstone_of_an_unknown_task_none(world):
    db, org, src = world
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1")])
    for _ in range(2):
        with db.write() as c:
            store.apply_task_deletes(c, org, src, [TaskDelete(external_id="1", reason=DeletedReason.deleted),
                                                   TaskDelete(external_id="never-seen",
                                                              reason=DeletedReason.deleted)])
    kinds = [(k, d["external_id"]) for k, d in events(db)]
    assert kinds == [("task.created", "1"), ("task.deleted", "1")]


def test_a_task_back_from_its_tombstone_is_created_again(world):
    db, org, src = world
    with db.write() as c:
        store.apply_task_deletes(c, org, src, [TaskDelete(external_id="1", reason=DeletedReason.deleted,
                                                          at=T0)])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", minutes=5)])
    assert [k for k, _ in events(db)] == ["task.created"]


def test_a_rolled_back_write_emits_nothing(world):
    db, org, src = world
    with pytest.raises(RuntimeError), db.write() as c:
        store.upsert_tasks(c, org, src, [task("1")])
        raise RuntimeError("the page's commit fails")
    assert events(db) == []


def test_a_quiet_source_counts_instead_of_emitting(world):
    db, org, src = world
    with quiet_source(src) as counts, db.write() as c:
        store.upsert_tasks(c, org, src, [task("1"), task("2")])
        store.apply_task_deletes(c, org, src, [TaskDelete(external_id="2", reason=DeletedReason.deleted)])
    assert events(db) == []
    assert counts == {"created": 2, "deleted": 1}
    with db.write() as c:  # after the block: events again
        store.upsert_tasks(c, org, src, [task("3")])
    assert [k for k, _ in events(db)] == ["task.created"]


def test_no_endpoint_subscribed_records_nothing(db):
    org = make_org(db)
    src = make_source(db, org)
    subscribe(db, org, ["milestone.*"])
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1")])
    assert events(db) == []


def test_a_page_of_tasks_asks_who_listens_once_per_type_and_records_each_event(world):
    """A page of 50 new tasks in an organization with an endpoint: 50 ``task.created`` events, and
    the subscribed endpoints read once for the page, not once more per event (emit asked again each
    time: found in review of the delivery benchmark)."""
    db, org, src = world
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "webhook_endpoint.event_types" in statement:  # the subscribers' read, not the deliveries' insert
            reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with db.write() as c:
            store.upsert_tasks(c, org, src, [task(str(i)) for i in range(1, 51)])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert [k for k, _ in events(db)] == ["task.created"] * 50
    assert len(reads) == 1, reads
