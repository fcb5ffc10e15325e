"""The PM-side data API: projects, portfolios, people and rates, organization — validation
naming the field, scopes, and another organization's ids answered 404 on every route."""

from __future__ import annotations

import pytest

from tests.views.conftest import get_view

ALP_PM = {
    "budget": {"amount": 20000, "currency": "USD"},
    "planned_start": "2026-02-02",
    "planned_end": "2026-03-27",
    "hourly_rate": 60,
}


def test_patch_project_sets_budget_dates_rate_and_portfolios(client, bare):
    w = bare.world
    pf = client.post("/api/v1/portfolios", json={"name": "Main"}, headers=bare.h("write")).json()
    r = client.patch(
        f"/api/v1/projects/{w.alp}",
        json={**ALP_PM, "portfolio_ids": [pf["id"]]},
        headers=bare.h("write"),
    )
    assert r.status_code == 200, r.text
    got = client.get(f"/api/v1/projects/{w.alp}", headers=bare.h()).json()
    assert got["budget"] == {"amount": 20000.0, "currency": "USD"}
    assert (got["planned_start"], got["planned_end"], got["hourly_rate"]) == (
        "2026-02-02",
        "2026-03-27",
        60.0,
    )
    assert got["portfolio_ids"] == [pf["id"]] and got["key"] == "ALP"
    assert client.get(f"/api/v1/portfolios/{pf['id']}", headers=bare.h()).json()["project_ids"] == [w.alp]
    # The budget view sees it: BAC, and Bob's hours at the project rate.
    b = get_view(client, bare, "budget", as_of="2026-03-11", project=w.alp)["total"]
    assert b["bac"] == 20000 and b["pv"] == 14000
    # A field left out is unchanged; null clears it.
    r = client.patch(f"/api/v1/projects/{w.alp}", json={"budget": None}, headers=bare.h("write")).json()
    assert r["budget"] is None and r["hourly_rate"] == 60.0
    assert [p["id"] for p in client.get("/api/v1/projects", headers=bare.h()).json()] == [
        w.alp,
        w.beta,
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"planned_start": "2026-03-01", "planned_end": "2026-02-01"}, "planned_end"),
        ({"budget": {"amount": 100, "currency": "usd"}}, "budget.currency"),
        ({"budget": {"amount": 100, "currency": "EURO"}}, "budget.currency"),
        ({"budget": {"amount": -5, "currency": "USD"}}, "budget.amount"),
        ({"hourly_rate": -1}, "hourly_rate"),
        ({"planned_start": "soon"}, "planned_start"),
        ({"budget_amount": 5}, "budget_amount"),
    ],
)
def test_invalid_project_settings_are_a_422_naming_the_field(client, acme, db, body, field):
    from service import store
    from tests.service.factories import make_source, task

    src = make_source(db, acme.org_id)
    with db.write() as c:
        store.upsert_tasks(c, acme.org_id, src, [task("1")])
    pid = client.get("/api/v1/projects", headers=acme.h("read")).json()[0]["id"]
    r = client.patch(f"/api/v1/projects/{pid}", json=body, headers=acme.h("write"))
    assert r.status_code == 422, r.text
    assert field in r.json()["detail"]


def test_planned_end_before_a_stored_planned_start_is_rejected(client, bare):
    pid = bare.world.alp
    client.patch(f"/api/v1/projects/{pid}", json={"planned_start": "2026-03-01"}, headers=bare.h("write"))
    r = client.patch(f"/api/v1/projects/{pid}", json={"planned_end": "2026-02-01"}, headers=bare.h("write"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "planned_end"
    assert client.get(f"/api/v1/projects/{pid}", headers=bare.h()).json()["planned_end"] is None


def test_portfolio_crud_and_membership(client, bare):
    w, h = bare.world, bare.h("write")
    r = client.post(
        "/api/v1/portfolios",
        json={"name": "Main", "description": "all", "project_ids": [w.alp, w.beta]},
        headers=h,
    )
    assert r.status_code == 201 and r.json()["project_ids"] == [w.alp, w.beta]
    pid = r.json()["id"]
    assert client.post("/api/v1/portfolios", json={"name": "Main"}, headers=h).status_code == 409
    r = client.patch(f"/api/v1/portfolios/{pid}", json={"name": "Core", "project_ids": [w.beta]}, headers=h).json()
    assert (r["name"], r["description"], r["project_ids"]) == ("Core", "all", [w.beta])
    assert get_view(client, bare, "progress", as_of="2026-03-11", portfolio=pid)["total"]["scope"] == 4
    assert [p["name"] for p in client.get("/api/v1/portfolios", headers=bare.h()).json()] == ["Core"]
    assert client.delete(f"/api/v1/portfolios/{pid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/portfolios/{pid}", headers=bare.h()).status_code == 404
    assert client.get(f"/api/v1/projects/{w.beta}", headers=bare.h()).json()["portfolio_ids"] == []


def test_people_are_merged_across_tools_by_email(client, bare):
    people = {p["display_name"]: p for p in client.get("/api/v1/people", headers=bare.h()).json()}
    assert set(people) == {"Ann", "Bob", "Cy"}
    assert sorted((i["tool"], i["external_id"]) for i in people["Ann"]["identities"]) == [
        ("jira", "acc-ann"),
        ("trello", "m-ann"),
    ]
    r = client.patch(
        f"/api/v1/people/{bare.world.ann}",
        json={"display_name": "Ann Lee", "email": "ann@lee.io"},
        headers=bare.h("write"),
    ).json()
    assert (r["display_name"], r["email"]) == ("Ann Lee", "ann@lee.io")
    bad = client.patch(f"/api/v1/people/{bare.world.ann}", json={"email": "not an email"}, headers=bare.h("write"))
    assert bad.status_code == 422 and "email" in bad.json()["detail"]


def test_link_moves_an_identity_and_its_work_and_merges_the_empty_person(client, bare):
    w, h = bare.world, bare.h("write")
    # Cy's Trello identity is really Bob: link it onto Bob; Cy had nothing else, so Cy merges
    # into Bob.
    r = client.post(
        f"/api/v1/people/{w.bob}/identities/link",
        json={"tool": "trello", "external_id": "m-cy"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert sorted(i["external_id"] for i in r.json()["identities"]) == ["acc-bob", "m-cy"]
    assert client.get(f"/api/v1/people/{w.cy}", headers=bare.h()).status_code == 404
    wl = {p["person"]["name"]: p for p in get_view(client, bare, "workload", as_of="2026-03-11")["people"]}
    assert set(wl) == {"Ann", "Bob", "(unassigned)"}
    assert (wl["Bob"]["open_tasks"], wl["Bob"]["overdue_tasks"]) == (
        3,
        1,
    )  # A3, A6 + C3 (due 03-10)
    assert client.post(f"/api/v1/people/{w.bob}/identities/link", json={"tool": "trello"}, headers=h).status_code == 422
    assert (
        client.post(
            f"/api/v1/people/{w.bob}/identities/link",
            json={"tool": "trello", "external_id": "nobody"},
            headers=h,
        ).status_code
        == 404
    )


def test_unlink_splits_an_identity_into_a_new_person_with_its_tasks(client, bare):
    w, h = bare.world, bare.h("write")
    ann = client.get(f"/api/v1/people/{w.ann}", headers=bare.h()).json()
    trello = next(i for i in ann["identities"] if i["tool"] == "trello")
    r = client.post(f"/api/v1/people/{w.ann}/identities/{trello['id']}/unlink", headers=h)
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["id"] != w.ann and new["display_name"] == "ann.t" and len(new["identities"]) == 1
    wl = {p["person"]["id"]: p for p in get_view(client, bare, "workload", as_of="2026-03-11")["people"]}
    assert wl[new["id"]]["open_tasks"] == 1  # C2 went with the Trello identity
    assert wl[w.ann]["open_tasks"] == 1 and wl[w.ann]["hours_this_week"] == 2  # A4; her Jira worklogs stay
    jira = ann["identities"][0]
    last = client.post(f"/api/v1/people/{w.ann}/identities/{jira['id']}/unlink", headers=h)
    assert last.status_code == 409 and "only identity" in last.json()["detail"]
    # Link it back: the split-off person is empty again and merges back into Ann.
    client.post(f"/api/v1/people/{w.ann}/identities/link", json={"identity_id": trello["id"]}, headers=h)
    assert client.get(f"/api/v1/people/{new['id']}", headers=bare.h()).status_code == 404
    wl = {p["person"]["id"]: p for p in get_view(client, bare, "workload", as_of="2026-03-11")["people"]}
    assert wl[w.ann]["open_tasks"] == 2


def test_effective_dated_rates_drive_actual_cost(client, bare):
    w, h = bare.world, bare.h("write")
    base = f"/api/v1/people/{w.ann}/rates"
    r1 = client.post(base, json={"effective_from": "2026-01-01", "hourly_rate": 100}, headers=h)
    r2 = client.post(base, json={"effective_from": "2026-03-01", "hourly_rate": 120}, headers=h)
    assert r1.status_code == r2.status_code == 201
    assert client.post(base, json={"effective_from": "2026-03-01", "hourly_rate": 1}, headers=h).status_code == 409
    assert client.post(base, json={"effective_from": "2026-03-01", "hourly_rate": -1}, headers=h).status_code == 422
    assert [r["hourly_rate"] for r in client.get(base, headers=bare.h()).json()] == [100, 120]
    b = get_view(client, bare, "budget", as_of="2026-03-11", assignee=w.ann)["total"]
    assert b["ac_labour"] == 1840  # 10 h × 100 + 7 h × 120
    assert client.delete(f"{base}/{r2.json()['id']}", headers=h).status_code == 204
    assert get_view(client, bare, "budget", as_of="2026-03-11", assignee=w.ann)["total"]["ac_labour"] == 1700
    assert client.delete(f"{base}/{r2.json()['id']}", headers=h).status_code == 404


def test_organization_settings(client, bare):
    r = client.patch(
        "/api/v1/organization",
        json={"timezone": "Europe/Berlin", "currency": "EUR", "default_hourly_rate": 55},
        headers=bare.h("admin"),
    )
    assert r.status_code == 200 and r.json()["timezone"] == "Europe/Berlin"
    assert client.get("/api/v1/organization", headers=bare.h()).json()["default_hourly_rate"] == 55
    assert get_view(client, bare, "progress")["definitions"]["timezone"] == "Europe/Berlin"
    bad = client.patch("/api/v1/organization", json={"timezone": "Mars/Olympus"}, headers=bare.h("admin"))
    assert bad.status_code == 422 and "timezone" in bad.json()["detail"]
    assert client.patch("/api/v1/organization", json={"currency": "euro"}, headers=bare.h("admin")).status_code == 422
    assert client.patch("/api/v1/organization", json={"currency": None}, headers=bare.h("admin")).status_code == 422
    assert client.patch("/api/v1/organization", json={"currency": "GBP"}, headers=bare.h("write")).status_code == 403


def test_changes_need_the_write_scope(client, bare):
    w = bare.world
    assert client.patch(f"/api/v1/projects/{w.alp}", json={"hourly_rate": 1}, headers=bare.h("read")).status_code == 403
    assert client.post("/api/v1/portfolios", json={"name": "x"}, headers=bare.h("read")).status_code == 403
    assert client.get("/api/v1/people").status_code == 401


def test_another_organizations_ids_are_not_found_on_every_route(client, bare, make_org):
    other = make_org("globex").world
    h, r = bare.h("admin"), bare.h("read")
    identity = client.get(f"/api/v1/people/{other.ann}", headers=make_org_headers(client, other)).json()
    ident_id = identity["identities"][0]["id"]
    rate_id = identity["rates"][0]["id"]
    calls = [
        ("GET", f"/api/v1/projects/{other.alp}", None),
        ("PATCH", f"/api/v1/projects/{other.alp}", {"hourly_rate": 1}),
        ("PATCH", f"/api/v1/projects/{bare.world.alp}", {"portfolio_ids": [other.portfolio]}),
        ("GET", f"/api/v1/people/{other.ann}", None),
        ("PATCH", f"/api/v1/people/{other.ann}", {"display_name": "x"}),
        ("POST", f"/api/v1/people/{other.ann}/identities/link", {"identity_id": ident_id}),
        ("POST", f"/api/v1/people/{bare.world.ann}/identities/link", {"identity_id": ident_id}),
        ("POST", f"/api/v1/people/{other.ann}/identities/{ident_id}/unlink", None),
        ("GET", f"/api/v1/people/{other.ann}/rates", None),
        (
            "POST",
            f"/api/v1/people/{other.ann}/rates",
            {"effective_from": "2026-05-01", "hourly_rate": 1},
        ),
        ("DELETE", f"/api/v1/people/{other.ann}/rates/{rate_id}", None),
        ("DELETE", f"/api/v1/people/{bare.world.ann}/rates/{rate_id}", None),
        ("GET", f"/api/v1/portfolios/{other.portfolio}", None),
        ("PATCH", f"/api/v1/portfolios/{other.portfolio}", {"name": "mine"}),
        ("DELETE", f"/api/v1/portfolios/{other.portfolio}", None),
        ("POST", "/api/v1/portfolios", {"name": "steal", "project_ids": [other.alp]}),
    ]
    for method, url, body in calls:
        resp = client.request(method, url, json=body, headers=h)
        assert resp.status_code == 404, (method, url, resp.text)
    assert client.get("/api/v1/projects", headers=r).json()[0]["id"] == bare.world.alp
    assert {p["id"] for p in client.get("/api/v1/people", headers=r).json()} == {
        bare.world.ann,
        bare.world.bob,
        bare.world.cy,
    }
    assert client.get("/api/v1/portfolios", headers=r).json() == []
    assert client.get("/api/v1/organization", headers=r).json()["name"] == "bare"


def make_org_headers(client, world) -> dict[str, str]:
    from service.security.auth import create_token

    with client.app.state.db.session() as s:
        return {"Authorization": f"Bearer {create_token(s, world.org_id, 'read')[0]}"}
