"""Figures moved through the API (a person's rate, the organization's default rate, a baseline)
fire their state events in the transaction that moves them, as taskhub apply's do (issue 22; found
by review: they waited for the next inbox batch, sync or the worker's daily pass)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from mappings.model import MilestoneRef
from service.tables import Milestone, Organization, Project, table
from tests.service.factories import make_source, task
from tests.service.test_events_tasks import events, subscribe
from tests.service.test_events_transitions import DUE, _milestone, _worklog, _write

PR, ORG, M = table(Project), table(Organization), table(Milestone)


def _budget_world(db, acme):
    src = make_source(db, acme.org_id)
    subscribe(db, acme.org_id, ["milestone.*", "budget.*"])
    _write(db, acme.org_id, src, [task("1")])
    with db.write() as c:
        pid = c.execute(sa.select(PR.c.id).where(PR.c.org_id == acme.org_id)).scalar_one()
        c.execute(sa.update(ORG).where(ORG.c.id == acme.org_id)
                  .values(default_hourly_rate=Decimal(100), currency="USD"))
        c.execute(sa.update(PR).where(PR.c.id == pid).values(budget_amount=Decimal(1000), budget_currency="USD"))
    _write(db, acme.org_id, src, [_worklog("w1", 4, datetime.now(UTC) - timedelta(days=1))])  # 40 %, silent
    assert events(db, "budget.") == []
    return src


def test_org_default_rate_raised_crosses_threshold_at_once(db, client, acme):
    _budget_world(db, acme)
    r = client.patch("/api/v1/organization", json={"default_hourly_rate": 250}, headers=acme.h())
    assert r.status_code == 200, r.text
    assert [d["threshold"] for _, d in events(db, "budget.threshold_crossed")] == [100]


def test_baseline_set_earlier_slips_at_once(db, client, acme):
    src = make_source(db, acme.org_id)
    subscribe(db, acme.org_id, ["milestone.*"])
    _write(db, acme.org_id, src, [_milestone(), task("1", milestones=[MilestoneRef(external_id="v1")])])
    with db.read() as c:
        mid = c.execute(sa.select(M.c.id).where(M.c.org_id == acme.org_id)).scalar_one()
    r = client.post(f"/api/v1/milestones/{mid}/baseline", json={"due_date": (DUE - timedelta(days=5)).isoformat()},
                    headers=acme.h("write"))
    assert r.status_code == 200, r.text
    assert [d["slip_days"] for _, d in events(db, "milestone.slipped")] == [5]


def test_person_rate_added_crosses_threshold_at_once(db, client, acme):
    _budget_world(db, acme)
    [person] = client.get("/api/v1/people", headers=acme.h()).json()
    r = client.post(f"/api/v1/people/{person['id']}/rates", json={"effective_from": "2000-01-01", "hourly_rate": 250},
                    headers=acme.h("write"))
    assert r.status_code == 201, r.text
    assert [d["threshold"] for _, d in events(db, "budget.threshold_crossed")] == [100]


def test_linking_people_moves_priced_hours_and_crosses_threshold_at_once(db, client, acme):
    """Alice's 4 h are priced at the default 100/h (40 %); Bob earns 250/h. Linking Alice's
    identity onto Bob merges her into him: the hours are his now, at 250/h, 100 % of the budget —
    announced in the link's transaction (found in review of issue 22: merges waited for the next
    evaluation)."""
    src = _budget_world(db, acme)
    _write(db, acme.org_id, src, [task("2", assignee="bob")])
    people = {p["display_name"]: p for p in client.get("/api/v1/people", headers=acme.h()).json()}
    alice, bob = people["Alice"], people["bob"]
    r = client.post(f"/api/v1/people/{bob['id']}/rates", json={"effective_from": "2000-01-01", "hourly_rate": 250},
                    headers=acme.h("write"))
    assert r.status_code == 201 and events(db, "budget.") == []  # Bob has no hours yet
    r = client.post(f"/api/v1/people/{bob['id']}/identities/link",
                    json={"identity_id": alice["identities"][0]["id"]}, headers=acme.h("write"))
    assert r.status_code == 200, r.text
    assert [d["threshold"] for _, d in events(db, "budget.threshold_crossed")] == [100]


def test_accepting_a_people_suggestion_crosses_threshold_at_once(db, client, acme):
    """The same through a suggestion (the same email in Jira and Trello), accepted: the person with
    the rate keeps the other's hours."""
    from mappings.model import PersonRef, Task, TaskUpsert

    src = _budget_world(db, acme)
    trello_bob = PersonRef(tool="trello", external_id="b0b", display_name="Alice T", email="alice@example.com")
    _write(db, acme.org_id, src, [TaskUpsert(task=Task(external_id="3", title="t", assignees=[trello_bob],
                                                        project_external_id="100", project_key="PRJ"))])
    with db.write() as c:  # Alice's Jira identity gets the same email: the evidence
        c.execute(sa.text("UPDATE person_identity SET email = 'alice@example.com' WHERE external_id = 'alice'"))
    people = {p["display_name"]: p for p in client.get("/api/v1/people", headers=acme.h()).json()}
    r = client.post(f"/api/v1/people/{people['Alice T']['id']}/rates",
                    json={"effective_from": "2000-01-01", "hourly_rate": 250}, headers=acme.h("write"))
    assert r.status_code == 201 and events(db, "budget.") == []
    [suggestion] = client.get("/api/v1/people/suggestions", headers=acme.h()).json()["suggestions"]
    r = client.post(f"/api/v1/people/suggestions/{suggestion['id']}/accept", headers=acme.h("write"))
    assert r.status_code == 200, r.text
    assert [d["threshold"] for _, d in events(db, "budget.threshold_crossed")] == [100]
