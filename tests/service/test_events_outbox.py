"""The transactional outbox (issue 22): ``emit`` records an event and one delivery per subscribed
endpoint in the caller's transaction; a rolled-back transaction records nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from service.events import catalog
from service.events.outbox import emit
from service.tables import Event, EventDelivery, Organization, WebhookEndpoint, table

EV, DL, EP, ORG = table(Event), table(EventDelivery), table(WebhookEndpoint), table(Organization)
TASK = {"task_id": 7, "source_id": 1, "external_id": "PRJ-7"}


def _org(conn: sa.Connection, name: str) -> int:
    return conn.execute(sa.insert(ORG).values(name=name, timezone="UTC", currency="USD",
                                              created_at=datetime.now(UTC)).returning(ORG.c.id)).scalar_one()


def _endpoint(conn: sa.Connection, org_id: int, types: list[str], *, enabled: bool = True) -> int:
    now = datetime.now(UTC)
    return conn.execute(sa.insert(EP).values(
        org_id=org_id, url="https://hooks.example.com/x", event_types=types, enabled=enabled,
        secret_enc="x", health="ok", created_at=now, updated_at=now,
    ).returning(EP.c.id)).scalar_one()


def test_emit_records_one_delivery_per_subscribed_endpoint(db):
    with db.engine.begin() as c:
        org, other = _org(c, "a"), _org(c, "b")
        exact = _endpoint(c, org, ["task.created"])
        family = _endpoint(c, org, ["task.*"])
        everything = _endpoint(c, org, ["*"])
        _endpoint(c, org, ["milestone.*"])  # another family
        _endpoint(c, org, ["task.created"], enabled=False)
        _endpoint(c, other, ["*"])  # another organization
        event_id = emit(c, org, "task.created", TASK, occurred_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
                        subject="task:7")
    assert event_id is not None
    with db.engine.connect() as c:
        ev = c.execute(sa.select(EV).where(EV.c.id == event_id)).one()
        deliveries = c.execute(sa.select(DL.c.endpoint_id, DL.c.status, DL.c.org_id)
                               .where(DL.c.event_id == event_id).order_by(DL.c.endpoint_id)).all()
    assert ev.payload == {"type": "task.created", "version": 1, "timestamp": "2026-03-01T12:00:00Z",
                          "data": {"task_id": 7, "source_id": 1, "external_id": "PRJ-7",
                                   "project_id": None, "links": {}}}
    assert ev.msg_id.startswith("evt_") and ev.subject == "task:7" and ev.org_id == org
    assert [tuple(d) for d in deliveries] == [(exact, "pending", org), (family, "pending", org),
                                              (everything, "pending", org)]


def test_no_subscriber_records_nothing(db):
    with db.engine.begin() as c:
        org = _org(c, "a")
        _endpoint(c, org, ["milestone.*"])
        assert emit(c, org, "task.created", TASK) is None
    with db.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV)).scalar_one() == 0


def test_rolled_back_transaction_emits_nothing(db):
    with db.engine.begin() as c:
        org = _org(c, "a")
        _endpoint(c, org, ["*"])

    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.engine.begin() as c:
        assert emit(c, org, "task.deleted", TASK) is not None
        raise Boom
    with db.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV)).scalar_one() == 0
        assert c.execute(sa.select(sa.func.count()).select_from(DL)).scalar_one() == 0


def test_bad_data_and_unknown_type_are_refused(db):
    with db.engine.begin() as c:
        org = _org(c, "a")
        with pytest.raises(ValueError):
            emit(c, org, "task.created", {"task_id": "not a number", "source_id": 1, "external_id": "x"})
        with pytest.raises(ValueError):
            emit(c, org, "task.created", {**TASK, "surprise": 1})
        with pytest.raises(KeyError):
            emit(c, org, "no.such.type", {})


def test_patterns():
    assert catalog.matches("milestone.*", "milestone.overdue")
    assert not catalog.matches("milestone.*", "milestones.x")
    assert not catalog.matches("task.created", "task.updated")
    assert catalog.is_known_pattern("task.*") and not catalog.is_known_pattern("nope.*")
