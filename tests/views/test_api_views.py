"""The views API: filters, grouping, CSV, bad parameters named, tenant isolation."""

from __future__ import annotations

import csv
import io

import pytest

from tests.views.conftest import by_name, get_view

# Tests that only read share one portfolio per store for the module (shared_client, shared_world);
# those that write have their own database.

AS_OF = "2026-03-11"
VIEWS = ("progress", "budget", "milestones", "flow", "workload", "risk")


def test_filters_by_project_source_portfolio_and_assignee(shared_client, shared_world):
    client, world = shared_client, shared_world  # only reads
    w = world.world
    assert get_view(client, world, "progress", as_of=AS_OF, project=w.alp)["total"]["scope"] == 6
    assert get_view(client, world, "progress", as_of=AS_OF, source=w.trello)["total"]["scope"] == 4
    assert get_view(client, world, "progress", as_of=AS_OF, portfolio=w.portfolio)["total"]["scope"] == 10
    # Ann's tasks across both tools: A1, A2, A4 (Jira) and C2 (Trello, linked by email).
    ann = get_view(client, world, "progress", as_of=AS_OF, assignee=w.ann)["total"]
    assert (ann["scope"], ann["done"]) == (4, 2)
    # For costs the assignee filter means the worklog's author: Ann's 1840 (see the hand portfolio).
    assert get_view(client, world, "budget", as_of=AS_OF, assignee=w.ann)["total"]["ac_labour"] == 1840
    budget = get_view(client, world, "budget", as_of=AS_OF, project=w.beta)["total"]
    assert (budget["bac"], budget["ac"], budget["projects"]) == (10000, 6000, 1)
    ms = get_view(client, world, "milestones", as_of=AS_OF, source=w.trello)
    assert [m["name"] for m in ms["milestones"]] == ["Beta launch"]


def test_group_by_milestone_source_and_person(shared_client, shared_world):
    client, world = shared_client, shared_world  # only reads
    g = by_name(get_view(client, world, "progress", as_of=AS_OF, group_by="milestone")["groups"])
    assert {k: (v["scope"], v["done"]) for k, v in g.items()} == {
        "1.0": (2, 1),
        "1.1": (3, 1),
        "Beta launch": (3, 2),
        "(no milestone)": (2, 0),  # A5, C3
    }
    g = by_name(get_view(client, world, "flow", as_of=AS_OF, group_by="source")["groups"])
    assert (g["jira-cloud"]["wip"], g["trello"]["wip"]) == (3, 1)
    people = get_view(client, world, "progress", as_of=AS_OF, group_by="person")
    g = by_name(people["groups"])
    assert {k: v["scope"] for k, v in g.items()} == {"Ann": 4, "Bob": 2, "Cy": 2, "(unassigned)": 2}
    assert people["total"]["scope"] == 10  # groups may overlap; the total counts each task once
    g = by_name(get_view(client, world, "milestones", as_of=AS_OF, group_by="person")["groups"])
    assert (g["Bob"]["milestones"], g["Bob"]["overdue"], g["Bob"]["at_risk"]) == (
        2,
        1,
        1,
    )  # A3 in 1.0; A6 in 1.1
    g = by_name(get_view(client, world, "workload", as_of=AS_OF, group_by="project")["people"], "person")
    assert len(get_view(client, world, "workload", as_of=AS_OF, group_by="project")["people"]) == 5  # Ann twice


def test_csv_gives_one_flat_row_per_group_with_the_total_first(shared_client, shared_world):
    client, world = shared_client, shared_world  # only reads
    r = client.get(
        "/api/v1/views/budget",
        params={"as_of": AS_OF, "group_by": "project", "format": "csv"},
        headers=world.h(),
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="budget.csv"' in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [x["group.name"] for x in rows] == ["total", "ALP", "BETA"]
    assert (rows[1]["bac"], rows[1]["ac"], rows[1]["cpi"], rows[1]["exhaustion_date"]) == (
        "20000.0",
        "3000.0",
        "2.6667",
        "2026-09-15",
    )
    assert list(rows[0])[-1] == "reasons"
    flow = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    "/api/v1/views/flow",
                    params={"as_of": AS_OF, "format": "csv"},
                    headers=world.h(),
                ).text
            )
        )
    )
    assert flow[0]["lead_time_days.p50"] == "12.5" and "in_progress" in flow[0]["reasons"]
    ms = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    "/api/v1/views/milestones",
                    params={"as_of": AS_OF, "format": "csv"},
                    headers=world.h(),
                ).text
            )
        )
    )
    assert [(m["name"], m["days_overdue"]) for m in ms] == [
        ("0.9", ""),
        ("1.0", "3"),
        ("1.1", ""),
        ("Beta launch", ""),
    ]
    wl = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    "/api/v1/views/workload",
                    params={"as_of": AS_OF, "format": "csv"},
                    headers=world.h(),
                ).text
            )
        )
    )
    assert [x["person.name"] or x["group.name"] for x in wl] == [
        "total",
        "Ann",
        "Bob",
        "Cy",
        "(unassigned)",
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"group_by": "team"}, "query.group_by"),
        ({"as_of": "yesterday"}, "query.as_of"),
        ({"as_of": "2026-13-01"}, "query.as_of"),
        ({"project": "abc"}, "query.project"),
        ({"portfolio": 0}, "query.portfolio"),
        ({"format": "xml"}, "query.format"),
    ],
)
def test_bad_parameters_are_a_422_naming_the_parameter(shared_client, shared_world, params, field):
    r = shared_client.get("/api/v1/views/progress", params=params, headers=shared_world.h("read"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert field in body["detail"] and body["errors"][0]["field"] == field


def test_views_need_a_token(client):
    assert client.get("/api/v1/views/progress").status_code == 401


def test_another_organizations_ids_are_not_found_and_its_data_never_counted(client, world, make_org):
    other = make_org("globex")  # the same portfolio again, in another organization
    o = other.world
    for name in VIEWS:
        for param, ident in (
            ("portfolio", o.portfolio),
            ("project", o.alp),
            ("source", o.trello),
            ("assignee", o.ann),
        ):
            r = client.get(f"/api/v1/views/{name}", params={param: ident}, headers=world.h())
            assert r.status_code == 404, (name, param, r.text)
            assert f"{param} {ident} not found" in r.json()["detail"]
    for org in (world, other):
        assert get_view(client, org, "progress", as_of=AS_OF)["total"]["scope"] == 10
        b = get_view(client, org, "budget", as_of=AS_OF, group_by="person")
        assert (b["total"]["ac"], b["total"]["bac"]) == (9000, 30000)
        assert sorted(g["group"]["name"] for g in b["groups"]) == ["Ann", "Bob"]
        assert get_view(client, org, "milestones", as_of=AS_OF)["total"]["milestones"] == 4
        assert get_view(client, org, "flow", as_of=AS_OF)["total"]["wip"] == 4
        wl = get_view(client, org, "workload", as_of=AS_OF)
        assert wl["total"]["hours_this_week"] == 12 and len(wl["people"]) == 4
        ids = {p["person"]["id"] for p in wl["people"]} - {None}
        assert ids == {org.world.ann, org.world.bob, org.world.cy}
