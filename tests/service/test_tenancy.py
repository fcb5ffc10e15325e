"""Tenant isolation across every /api/v1 route: another organization's ids answer 404,
lists never show them, and nothing of theirs changes.

The route list is read from the OpenAPI document, so a new route without a case
here fails the completeness test instead of going unchecked.
"""

from __future__ import annotations

import re
from datetime import date

import sqlalchemy as sa

from mappings.model import Milestone, MilestoneUpsert, PersonRef
from service import store
from service.tables import (
    ApiToken,
    InboxEvent,
    Person,
    PersonIdentity,
    PersonRate,
    Portfolio,
    Project,
    RiskItem,
    Source,
    StatusReport,
    SyncRun,
    Task,
    WebhookEndpoint,
    utcnow,
)
from service.tables import Milestone as MilestoneRow
from tests.service.conftest import JIRA_SOURCE
from tests.service.factories import task


def _world(client, db, tenant):
    """One of every resource for ``tenant``; returns the ids by path parameter name."""
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=tenant.h()).json()["id"]
    with db.write() as c:
        store.upsert_tasks(c, tenant.org_id, sid, [task("1", assignee="ann")])
        store.upsert_milestones(c, tenant.org_id, sid, [MilestoneUpsert(milestone=Milestone(
            external_id="v1", name="1.0", due_date=date(2026, 3, 1)))])
        c.execute(sa.insert(SyncRun.__table__).values(org_id=tenant.org_id, source_id=sid, mode="backfill",
                                                      status="ok", started_at=utcnow()))
        # "Ann" in Trello: suggested as the Jira "ann" (people suggestions); Mo's identity is the last one.
        ann_t = store.resolve_people(c, tenant.org_id, [
            PersonRef(tool="trello", external_id="m-ann", display_name="Ann"),
            PersonRef(tool="trello", external_id="m-1", display_name="Mo"),
        ])[("trello", "m-ann")]
        c.execute(sa.insert(InboxEvent.__table__).values(
            org_id=tenant.org_id, source_id=sid, kind="jira", dedupe_key="k", body=b"{}", headers={},
            status="parked", attempts=8, received_at=utcnow(), next_attempt_at=utcnow()))
        P = Project.__table__
        project = c.execute(sa.select(P.c.id).where(P.c.org_id == tenant.org_id)).scalar()
        person = c.execute(sa.select(Person.__table__.c.id).where(Person.__table__.c.org_id == tenant.org_id)
                           .order_by(Person.__table__.c.id)).scalars().first()
        identity = c.execute(sa.select(PersonIdentity.__table__.c.id).where(
            PersonIdentity.__table__.c.org_id == tenant.org_id).order_by(PersonIdentity.__table__.c.id.desc())).scalar()
        rate = c.execute(sa.insert(PersonRate.__table__).values(
            org_id=tenant.org_id, person_id=person, effective_from=date(2026, 1, 1), hourly_rate=100)
            .returning(PersonRate.__table__.c.id)).scalar()
        portfolio = c.execute(sa.insert(Portfolio.__table__).values(org_id=tenant.org_id, name="P")
                              .returning(Portfolio.__table__.c.id)).scalar()
        tid = c.execute(sa.select(Task.__table__.c.id).where(Task.__table__.c.org_id == tenant.org_id)).scalar()
        token = c.execute(sa.select(ApiToken.__table__.c.id).where(ApiToken.__table__.c.org_id == tenant.org_id)
                          .order_by(ApiToken.__table__.c.id)).scalars().first()
        milestone = c.execute(sa.select(MilestoneRow.__table__.c.id).where(
            MilestoneRow.__table__.c.org_id == tenant.org_id)).scalar()
        endpoint = c.execute(sa.insert(WebhookEndpoint.__table__).values(
            org_id=tenant.org_id, url="https://hooks.example.com/x", event_types=["*"], enabled=True,
            secret_enc="x", health="ok", created_at=utcnow(), updated_at=utcnow())
            .returning(WebhookEndpoint.__table__.c.id)).scalar()
        risk = c.execute(sa.insert(RiskItem.__table__).values(
            org_id=tenant.org_id, project_id=project, title="R", probability=2, impact=3, status="open")
            .returning(RiskItem.__table__.c.id)).scalar()
        report = c.execute(sa.insert(StatusReport.__table__).values(
            org_id=tenant.org_id, scope="project", scope_id=project, scope_name="X", week_start=date(2026, 3, 2),
            status="draft", data={}, generated_at=utcnow()).returning(StatusReport.__table__.c.id)).scalar()
    return {"source_id": sid, "project_id": project, "person_id": person, "identity_id": identity,
            "rate_id": rate, "portfolio_id": portfolio, "task_id": tid, "token_id": token,
            "milestone_id": milestone, "endpoint_id": endpoint, "risk_id": risk, "report_id": report,
            "suggestion_id": f"p{min(person, ann_t)}-p{max(person, ann_t)}"}


# Every (method, path) of /api/v1 with ids, and a body that would be valid for the owner.
CASES = {
    ("get", "/api/v1/sources/{source_id}"): None,
    ("patch", "/api/v1/sources/{source_id}"): {"enabled": False},
    ("delete", "/api/v1/sources/{source_id}"): None,
    ("post", "/api/v1/sources/{source_id}/sync"): None,
    ("get", "/api/v1/sources/{source_id}/status"): None,
    ("post", "/api/v1/sources/{source_id}/webhook-secret/rotate"): None,
    ("get", "/api/v1/sources/{source_id}/automation-secret"): None,
    ("post", "/api/v1/sources/{source_id}/automation-secret"): None,
    ("get", "/api/v1/sources/{source_id}/webhooks"): None,
    ("post", "/api/v1/sources/{source_id}/webhooks/register"): None,
    ("post", "/api/v1/sources/{source_id}/webhooks/ping"): None,
    ("delete", "/api/v1/tokens/{token_id}"): None,
    ("get", "/api/v1/projects/{project_id}"): None,
    ("patch", "/api/v1/projects/{project_id}"): {"hourly_rate": "10"},
    ("get", "/api/v1/people/{person_id}"): None,
    ("patch", "/api/v1/people/{person_id}"): {"display_name": "X"},
    ("post", "/api/v1/people/{person_id}/identities/link"): "identity",
    ("post", "/api/v1/people/{person_id}/identities/{identity_id}/unlink"): None,
    ("get", "/api/v1/people/{person_id}/rates"): None,
    ("post", "/api/v1/people/{person_id}/rates"): {"effective_from": "2026-02-01", "hourly_rate": "120"},
    ("delete", "/api/v1/people/{person_id}/rates/{rate_id}"): None,
    ("get", "/api/v1/portfolios/{portfolio_id}"): None,
    ("patch", "/api/v1/portfolios/{portfolio_id}"): {"name": "Renamed"},
    ("delete", "/api/v1/portfolios/{portfolio_id}"): None,
    ("get", "/api/v1/tasks/{task_id}"): None,
    ("post", "/api/v1/milestones/{milestone_id}/baseline"): {"due_date": "2026-01-15"},
    ("post", "/api/v1/people/suggestions/{suggestion_id}/accept"): None,
    ("post", "/api/v1/people/suggestions/{suggestion_id}/reject"): None,
    ("get", "/api/v1/webhook-endpoints/{endpoint_id}"): None,
    ("patch", "/api/v1/webhook-endpoints/{endpoint_id}"): {"enabled": False},
    ("delete", "/api/v1/webhook-endpoints/{endpoint_id}"): None,
    ("post", "/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): None,
    ("post", "/api/v1/webhook-endpoints/{endpoint_id}/test"): None,
    ("get", "/api/v1/webhook-endpoints/{endpoint_id}/deliveries"): None,
    ("post", "/api/v1/webhook-endpoints/{endpoint_id}/redeliver"): {"from": "2026-01-01T00:00:00Z"},
    ("get", "/api/v1/projects/{project_id}/risks"): None,
    ("post", "/api/v1/projects/{project_id}/risks"): {"title": "Mine now", "probability": 1, "impact": 1},
    ("get", "/api/v1/risks/{risk_id}"): None,
    ("patch", "/api/v1/risks/{risk_id}"): {"status": "closed"},
    ("delete", "/api/v1/risks/{risk_id}"): None,
    ("get", "/api/v1/reports/{report_id}"): None,
    ("patch", "/api/v1/reports/{report_id}"): {"commentary": "mine now"},
    ("post", "/api/v1/reports/{report_id}/publish"): None,
}
VIEW_PARAMS = ("project", "portfolio", "source", "assignee")


def _api_routes(client) -> set[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    return {(m, p) for p, ops in paths.items() for m in ops if p.startswith("/api/v1") and "{" in p}


def test_every_route_with_ids_has_a_tenancy_case(sqlite_client):
    assert _api_routes(sqlite_client) == set(CASES), "add the new route to CASES"  # the route table: one store


def test_foreign_ids_answer_404_on_every_route_and_change_nothing(client, db, acme, globex):
    theirs = _world(client, db, acme)
    mine = _world(client, db, globex)
    with db.read() as c:
        before = c.execute(sa.select(Source.__table__.c.enabled, Project.__table__.c.hourly_rate)
                           .select_from(Source.__table__.join(Project.__table__,
                                                              Project.__table__.c.source_id == Source.__table__.c.id))
                           .where(Source.__table__.c.org_id == acme.org_id)).all()
    for (method, path), body in sorted(CASES.items()):
        url = re.sub(r"\{(\w+)\}", lambda m: str(theirs[m.group(1)]), path)
        if body == "identity":
            # my person, their identity: must not be movable into my organization
            url = path.replace("{person_id}", str(mine["person_id"]))
            body = {"identity_id": theirs["identity_id"]}
        r = client.request(method.upper(), url, json=body, headers=globex.h())
        assert r.status_code == 404, (method, url, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    with db.read() as c:
        after = c.execute(sa.select(Source.__table__.c.enabled, Project.__table__.c.hourly_rate)
                          .select_from(Source.__table__.join(Project.__table__,
                                                             Project.__table__.c.source_id == Source.__table__.c.id))
                          .where(Source.__table__.c.org_id == acme.org_id)).all()
        assert after == before
        assert c.execute(sa.select(sa.func.count()).select_from(PersonRate.__table__).where(
            PersonRate.__table__.c.org_id == acme.org_id)).scalar() == 1
        assert c.execute(sa.select(sa.func.count()).select_from(Portfolio.__table__).where(
            Portfolio.__table__.c.org_id == acme.org_id)).scalar() == 1
        assert c.execute(sa.select(sa.func.count()).select_from(ApiToken.__table__).where(
            ApiToken.__table__.c.org_id == acme.org_id, ApiToken.__table__.c.revoked_at.is_not(None))).scalar() == 0
        assert c.execute(sa.select(WebhookEndpoint.__table__.c.enabled).where(
            WebhookEndpoint.__table__.c.org_id == acme.org_id)).scalar() is True
        assert c.execute(sa.select(RiskItem.__table__.c.status, sa.func.count()).where(
            RiskItem.__table__.c.org_id == acme.org_id).group_by(RiskItem.__table__.c.status)).all() == [("open", 1)]
        assert c.execute(sa.select(MilestoneRow.__table__.c.baseline_due_date).where(
            MilestoneRow.__table__.c.org_id == acme.org_id)).scalar() == date(2026, 3, 1)
    assert client.get("/api/v1/sources", headers=acme.h()).status_code == 200  # their admin token still works
    # Their suggestion was real, and is still offered to them (neither accepted nor rejected).
    assert [x["id"] for x in client.get("/api/v1/people/suggestions", headers=acme.h()).json()["suggestions"]] == [
        theirs["suggestion_id"]]


def test_lists_and_views_never_show_another_organization(client, db, acme, globex):
    theirs = _world(client, db, acme)
    _world(client, db, globex)
    for path in ("/api/v1/sources", "/api/v1/projects", "/api/v1/people", "/api/v1/portfolios", "/api/v1/tasks",
                 "/api/v1/milestones", "/api/v1/sync-runs", "/api/v1/inbox", "/api/v1/risks", "/api/v1/reports"):
        text = client.get(path, headers=globex.h()).text
        body = client.get(path, headers=globex.h()).json()
        items = body["items"] if isinstance(body, dict) and "items" in body else body
        assert items, path
        for item in items:
            assert item.get("org_id", globex.org_id) == globex.org_id, (path, item)
            if "source_id" in item:
                assert item["source_id"] != theirs["source_id"], (path, text[:300])
    for view in ("progress", "budget", "milestones", "flow", "workload", "quality", "risk"):
        for param in VIEW_PARAMS:
            key = {"project": "project_id", "portfolio": "portfolio_id", "source": "source_id",
                   "assignee": "person_id"}[param]
            r = client.get(f"/api/v1/views/{view}", params={param: theirs[key]}, headers=globex.h())
            assert r.status_code == 404, (view, param, r.text)
    for param, key in (("project", "project_id"), ("portfolio", "portfolio_id")):  # a week's report of theirs
        r = client.get("/api/v1/reports", params={param: theirs[key], "week": "2026-W10"}, headers=globex.h())
        assert r.status_code == 404, (param, r.text)
    # retrying "every parked event" touches only mine
    assert client.post("/api/v1/inbox/retry", json={}, headers=globex.h()).json() == {"requeued": 1}
    with db.read() as c:
        assert c.execute(sa.select(InboxEvent.__table__.c.status).where(
            InboxEvent.__table__.c.org_id == acme.org_id)).scalar() == "parked"
    assert client.post("/api/v1/inbox/retry", json={"ids": [1]}, headers=globex.h()).status_code in (200, 404)

