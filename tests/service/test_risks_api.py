"""The risk register's API (issue 23) on both stores: CRUD, the 422s naming the field, another
organization's ids 404, the CSV through the one writer, review_overdue in the organization's zone."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from service.portfolio.risks import list_risks
from service.security.auth import create_token
from service.tables import Organization, Person, Portfolio, PortfolioProject, Project, RiskItem, table
from tests.service.conftest import Tenant

P, PERSON, PF, PFP, ORG = table(Project), table(Person), table(Portfolio), table(PortfolioProject), table(Organization)


def _project(db, tenant: Tenant, name: str, portfolio: int | None = None) -> int:
    with db.write() as c:
        pid = c.execute(sa.insert(P).values(org_id=tenant.org_id, external_id=name, name=name)
                        .returning(P.c.id)).scalar_one()
        if portfolio is not None:
            c.execute(sa.insert(PFP).values(portfolio_id=portfolio, project_id=pid))
    return pid


def _person(db, tenant: Tenant, name: str) -> int:
    with db.write() as c:
        return c.execute(sa.insert(PERSON).values(org_id=tenant.org_id, display_name=name)
                         .returning(PERSON.c.id)).scalar_one()


def _portfolio(db, tenant: Tenant, name: str) -> int:
    with db.write() as c:
        return c.execute(sa.insert(PF).values(org_id=tenant.org_id, name=name).returning(PF.c.id)).scalar_one()


def _named_token(db, tenant: Tenant, name: str, scope: str = "write") -> dict[str, str]:
    with db.session() as s:
        token, _ = create_token(s, tenant.org_id, scope, name)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


RISK = {"title": "Vendor API sunset", "probability": 4, "impact": 5, "mitigation": "Move to v3 by May",
        "owner_name": "Dana (vendor)", "review_date": "2099-06-01"}


def test_crud_with_score_owner_and_who(client, db, acme):
    pid = _project(db, acme, "Apollo")
    ann = _person(db, acme, "Ann")
    pm = _named_token(db, acme, "pm-anna")
    r = client.post(f"/api/v1/projects/{pid}/risks", json=RISK, headers=pm)
    assert r.status_code == 201, r.text
    risk = r.json()
    assert (risk["score"], risk["status"], risk["owner_name"], risk["owner_person_id"]) == (20, "open", "Dana (vendor)",
                                                                                           None)
    assert (risk["created_by"], risk["updated_by"], risk["project_name"]) == ("pm-anna", "pm-anna", "Apollo")
    low = client.post(f"/api/v1/projects/{pid}/risks", json={"title": "Office move", "probability": 2, "impact": 2,
                                                               "owner_person_id": ann}, headers=acme.h("write")).json()
    assert (low["owner_person_id"], low["owner_name"], low["score"]) == (ann, "Ann", 4)
    assert low["created_by"] == f"token {_token_id(db, acme, 'write')}"  # an unnamed token: its id

    # the list: highest score first; the read scope reads, cannot write
    listed = client.get(f"/api/v1/projects/{pid}/risks", headers=acme.h("read")).json()
    assert [x["id"] for x in listed] == [risk["id"], low["id"]]
    assert client.post(f"/api/v1/projects/{pid}/risks", json=RISK, headers=acme.h("read")).status_code == 403
    assert client.patch(f"/api/v1/risks/{low['id']}", json={"impact": 5}, headers=acme.h("read")).status_code == 403
    assert client.delete(f"/api/v1/risks/{low['id']}", headers=acme.h("read")).status_code == 403

    # patch: raise the low one above, move its owner to a name (the person goes), clear its review date
    r = client.patch(f"/api/v1/risks/{low['id']}", json={"probability": 5, "impact": 5, "owner_name": "Bo",
                                                         "review_date": None}, headers=pm)
    assert r.status_code == 200, r.text
    assert (r.json()["score"], r.json()["owner_person_id"], r.json()["owner_name"]) == (25, None, "Bo")
    assert r.json()["updated_by"] == "pm-anna"
    assert [x["id"] for x in client.get(f"/api/v1/projects/{pid}/risks", headers=acme.h("read")).json()] == [
        low["id"], risk["id"]]
    # closed risks go last whatever their score; status filter
    client.patch(f"/api/v1/risks/{low['id']}", json={"status": "closed"}, headers=pm)
    assert [x["id"] for x in client.get(f"/api/v1/projects/{pid}/risks", headers=acme.h()).json()] == [
        risk["id"], low["id"]]
    assert [x["id"] for x in client.get("/api/v1/risks", params={"status": "closed"}, headers=acme.h()).json()] == [
        low["id"]]
    # a field left out is unchanged
    same = client.get(f"/api/v1/risks/{risk['id']}", headers=acme.h("read")).json()
    assert same["mitigation"] == "Move to v3 by May" and same["review_date"] == "2099-06-01"

    assert client.delete(f"/api/v1/risks/{low['id']}", headers=pm).status_code == 204
    assert client.get(f"/api/v1/risks/{low['id']}", headers=acme.h()).status_code == 404
    assert client.delete(f"/api/v1/risks/{low['id']}", headers=pm).status_code == 404


def _token_id(db, tenant: Tenant, scope: str) -> int:
    from service.tables import ApiToken

    A = table(ApiToken)
    with db.read() as c:
        return c.execute(sa.select(A.c.id).where(A.c.org_id == tenant.org_id, A.c.scope == scope)
                         .order_by(A.c.id)).scalars().first()


@pytest.mark.parametrize(("body", "field"), [
    ({**RISK, "title": ""}, "title"),
    ({**RISK, "title": "   "}, "title"),
    ({**RISK, "title": "x" * 301}, "title"),
    ({**RISK, "title": "a\x00b"}, "title"),
    ({**RISK, "probability": 6}, "probability"),
    ({**RISK, "probability": 0}, "probability"),
    ({**RISK, "impact": "3"}, "impact"),
    ({**RISK, "impact": 2.5}, "impact"),
    ({**RISK, "impact": True}, "impact"),
    ({k: v for k, v in RISK.items() if k != "impact"}, "impact"),
    ({**RISK, "status": "done"}, "status"),
    ({**RISK, "review_date": "20260101"}, "review_date"),
    ({**RISK, "review_date": "0001-01-01"}, "review_date"),
    ({**RISK, "owner_person_id": 1}, "owner_name"),
    ({**RISK, "owner_person_id": 0, "owner_name": None}, "owner_person_id"),
    ({**RISK, "severity": 3}, "severity"),
])
def test_bad_input_is_422_naming_the_field(client, db, acme, body, field):
    pid = _project(db, acme, "Apollo")
    r = client.post(f"/api/v1/projects/{pid}/risks", json=body, headers=acme.h("write"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(table(RiskItem))).scalar() == 0


def test_patch_refuses_clearing_what_a_risk_needs(client, db, acme):
    pid = _project(db, acme, "Apollo")
    rid = client.post(f"/api/v1/projects/{pid}/risks", json=RISK, headers=acme.h("write")).json()["id"]
    for body, field in (({"title": None}, "title"), ({"probability": None}, "probability"),
                        ({"status": None}, "status"), ({"impact": 9}, "impact"),
                        ({"owner_person_id": 5, "owner_name": "X"}, "owner_name")):
        r = client.patch(f"/api/v1/risks/{rid}", json=body, headers=acme.h("write"))
        assert r.status_code == 422, (body, r.text)
        assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
    assert client.get(f"/api/v1/risks/{rid}", headers=acme.h()).json()["score"] == 20


def test_another_organizations_project_person_portfolio_and_risk_are_404(client, db, acme, globex):
    theirs = _project(db, acme, "Theirs")
    their_person = _person(db, acme, "Eve")
    their_pf = _portfolio(db, acme, "Their portfolio")
    their_risk = client.post(f"/api/v1/projects/{theirs}/risks", json=RISK, headers=acme.h("write")).json()["id"]
    mine = _project(db, globex, "Mine")
    h = globex.h("admin")
    assert client.post(f"/api/v1/projects/{theirs}/risks", json=RISK, headers=h).status_code == 404
    assert client.get(f"/api/v1/projects/{theirs}/risks", headers=h).status_code == 404
    r = client.post(f"/api/v1/projects/{mine}/risks",
                    json={**RISK, "owner_name": None, "owner_person_id": their_person}, headers=h)
    assert r.status_code == 404 and "person" in r.json()["detail"], r.text
    for method in ("GET", "PATCH", "DELETE"):
        r = client.request(method, f"/api/v1/risks/{their_risk}", json={"impact": 1} if method == "PATCH" else None,
                           headers=h)
        assert r.status_code == 404, (method, r.text)
    mine_risk = client.post(f"/api/v1/projects/{mine}/risks", json=RISK, headers=h).json()["id"]
    r = client.patch(f"/api/v1/risks/{mine_risk}", json={"owner_person_id": their_person}, headers=h)
    assert r.status_code == 404
    assert client.get("/api/v1/risks", params={"portfolio": their_pf}, headers=h).status_code == 404
    assert client.get("/api/v1/risks", params={"project": theirs}, headers=h).status_code == 404
    assert [x["id"] for x in client.get("/api/v1/risks", headers=h).json()] == [mine_risk]
    assert client.get(f"/api/v1/risks/{their_risk}", headers=acme.h("read")).json()["impact"] == 5  # unchanged


def test_portfolio_and_project_filters(client, db, acme):
    pf = _portfolio(db, acme, "Launch")
    inside, outside = _project(db, acme, "In", portfolio=pf), _project(db, acme, "Out")
    a = client.post(f"/api/v1/projects/{inside}/risks", json=RISK, headers=acme.h()).json()["id"]
    b = client.post(f"/api/v1/projects/{outside}/risks", json=RISK, headers=acme.h()).json()["id"]
    assert [x["id"] for x in client.get("/api/v1/risks", params={"portfolio": pf}, headers=acme.h()).json()] == [a]
    assert [x["id"] for x in client.get("/api/v1/risks", params={"project": outside}, headers=acme.h()).json()] == [b]
    assert client.get("/api/v1/risks", params={"status": "nope"}, headers=acme.h()).status_code == 422
    assert client.get("/api/v1/risks", params={"format": "xml"}, headers=acme.h()).status_code == 422


def test_csv_goes_through_the_one_writer(client, db, acme):
    pid = _project(db, acme, "=cmd|' /C calc'!A0")
    hostile = '=HYPERLINK("http://x","y")'
    client.post(f"/api/v1/projects/{pid}/risks", json={**RISK, "title": hostile, "owner_name": "@SUM(A1)",
                                                       "mitigation": "-1+1"}, headers=acme.h())
    client.post(f"/api/v1/projects/{pid}/risks", json={"title": "Plain", "probability": 1, "impact": 3},
                headers=acme.h())
    r = client.get("/api/v1/risks", params={"format": "csv"}, headers=acme.h("read"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["title"] for row in rows] == ["'" + hostile, "Plain"]
    first = rows[0]
    assert (first["owner_name"], first["mitigation"], first["project_name"]) == (
        "'@SUM(A1)", "'-1+1", "'=cmd|' /C calc'!A0")
    assert (first["score"], first["probability"], first["review_date"], first["review_overdue"]) == (
        "20", "4", "2099-06-01", "false")
    assert rows[1]["score"] == "3" and rows[1]["owner_name"] == ""


@pytest.mark.parametrize(("zone", "overdue"), [("Pacific/Kiritimati", True), ("America/Los_Angeles", False)])
def test_review_overdue_is_judged_in_the_organizations_zone(db, acme, zone, overdue):
    """At 2026-03-10 12:00 UTC it is already the 11th in Kiritimati (UTC+14) and still the 10th in
    Los Angeles: a review due on the 10th is overdue in the one and due today in the other."""
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert now.astimezone(ZoneInfo(zone)).date() == (date(2026, 3, 11) if overdue else date(2026, 3, 10))
    pid = _project(db, acme, "Apollo")
    R = table(RiskItem)
    with db.write() as c:
        c.execute(sa.update(ORG).where(ORG.c.id == acme.org_id).values(timezone=zone))
        for status in ("open", "closed"):
            c.execute(sa.insert(R).values(org_id=acme.org_id, project_id=pid, title=status, probability=1, impact=1,
                                          status=status, review_date=date(2026, 3, 10), created_at=now,
                                          updated_at=now))
    from sqlmodel import Session

    with db.read() as conn, Session(bind=conn) as s:
        got = {r.title: r.review_overdue for r in list_risks(s, acme.org_id, now=now)}
        assert got == {"open": overdue, "closed": False}  # a closed risk is never overdue
        later = {r.title: r.review_overdue for r in list_risks(s, acme.org_id, now=now + timedelta(days=1))}
        assert later == {"open": True, "closed": False}


def test_review_overdue_through_the_api_today_in_the_zone(client, db, acme):
    with db.write() as c:
        c.execute(sa.update(ORG).where(ORG.c.id == acme.org_id).values(timezone="Pacific/Kiritimati"))
    today = datetime.now(UTC).astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    pid = _project(db, acme, "Apollo")
    due = client.post(f"/api/v1/projects/{pid}/risks", json={**RISK, "review_date": today.isoformat()},
                      headers=acme.h()).json()
    late = client.post(f"/api/v1/projects/{pid}/risks",
                       json={**RISK, "review_date": (today - timedelta(days=1)).isoformat()}, headers=acme.h()).json()
    assert (due["review_overdue"], late["review_overdue"]) == (False, True)


def test_a_person_merged_into_another_hands_over_the_risks_they_own(client, db, acme):
    """Linking Ann's only identity onto Bo merges Ann into Bo (her row is deleted): her risks are
    Bo's now, not left without an owner by the foreign key's SET NULL (found in review)."""
    from service.tables import PersonIdentity

    pid = _project(db, acme, "Apollo")
    ann, bo = _person(db, acme, "Ann"), _person(db, acme, "Bo")
    with db.write() as c:
        ident = c.execute(sa.insert(table(PersonIdentity)).values(
            org_id=acme.org_id, person_id=ann, tool="jira", external_id="ann-1", display_name="Ann")
            .returning(table(PersonIdentity).c.id)).scalar_one()
    rid = client.post(f"/api/v1/projects/{pid}/risks", json={**RISK, "owner_name": None, "owner_person_id": ann},
                      headers=acme.h()).json()["id"]
    r = client.post(f"/api/v1/people/{bo}/identities/link", json={"identity_id": ident}, headers=acme.h("write"))
    assert r.status_code == 200, r.text
    assert ann not in [p["id"] for p in client.get("/api/v1/people", headers=acme.h()).json()]
    got = client.get(f"/api/v1/risks/{rid}", headers=acme.h()).json()
    assert (got["owner_person_id"], got["owner_name"]) == (bo, "Bo"), got
