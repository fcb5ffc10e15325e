"""Dashboard pages on both stores: figures from the views, charts with the right series,
the portfolio selector, bad input, and an empty organization."""

from __future__ import annotations

import re
from datetime import date

from service.dashboard.data import table
from service.db import Database
from service.views import ViewParams, compute_view
from tests.dashboard.world import AS_OF, Org, TestClient, charts, sign_in

Q = {"as_of": AS_OF}

# The tests down to the bad input only read (GET): they share acme and globex per store for the
# module (shared_*); the rest have their own database.


def _row(html: str, attr: str, ident: int) -> str:
    m = re.search(rf'<tr {attr}="{ident}"[^>]*>(.*?)</tr>', html, flags=re.S)
    assert m, f"no row {attr}={ident}"
    return m.group(1)


def test_overview_lists_every_project_with_its_figures(shared_as_acme, shared_acme, shared_db) -> None:
    as_acme, acme, db = shared_as_acme, shared_acme, shared_db  # only reads: the module's shared data
    r = as_acme.get("/", params=Q)
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    html = r.text
    for pid in (acme.apollo, acme.borealis, acme.nimbus):
        assert f'href="/projects/{pid}?as_of={AS_OF}"' in html
    budget = compute_view(
        db, acme.org_id, "budget", ViewParams(group_by="project", as_of=date.fromisoformat(AS_OF))
    )
    figures = {g["group"]["id"]: g for g in budget["groups"]}
    apollo = _row(html, "data-project-id", acme.apollo)
    assert "Apollo acme" in apollo
    assert "33%" in apollo and "2/5 tasks" in apollo  # by estimate 4 / 12 points; 2 of 5 done
    assert (
        f"{figures[acme.apollo]['cpi']:.2f}" in apollo
        and f"{figures[acme.apollo]['spi']:.2f}" in apollo
    )
    assert re.search(
        r'class="num alert">1 <span class="sub">\+1 at risk', apollo
    )  # R1 overdue, R2 at risk
    borealis = _row(html, "data-project-id", acme.borealis)
    assert "60%" in borealis and "6,000 / 10,000 USD" in borealis  # consumed = AC / BAC
    assert figures[acme.borealis]["exhaustion_before_planned_end"] is True
    assert f'{figures[acme.borealis]["exhaustion_date"]} <span class="flag"' in borealis
    nimbus = _row(html, "data-project-id", acme.nimbus)
    assert 'title="no budget (BAC)"' in nimbus  # undefined figures say why
    jira = _row(html, "data-source-id", acme.jira)
    assert "badge-ok" in jira and "incremental · ok" in jira and re.search(r">\s*5 min\s*<", jira)
    trello = _row(html, "data-source-id", acme.trello)
    assert "badge-degraded" in trello and "401 from Trello (acme)" in trello and "never" in trello
    assert charts(html) == [("bar", ["consumed", "complete"]), ("line", ["scope", "done"])]
    assert "Definitions used" in html and "AC / BAC" in html


def test_portfolio_selector_narrows_every_page(shared_as_acme, shared_acme, shared_globex) -> None:
    as_acme, acme, globex = shared_as_acme, shared_acme, shared_globex  # only reads: the module's shared data
    html = as_acme.get("/", params={**Q, "portfolio": acme.portfolio}).text
    assert "Apollo acme" in html and "Borealis acme" in html and "Nimbus acme" not in html
    assert f'<option value="{acme.portfolio}" selected>Core acme</option>' in html
    assert (
        f'href="/milestones?portfolio={acme.portfolio}&amp;as_of={AS_OF}"' in html
    )  # the selection follows links
    people = as_acme.get("/people", params={"portfolio": acme.portfolio}).text
    assert "Bob-acme" in people
    for path in ("/", "/milestones", "/people"):
        foreign = as_acme.get(path, params={"portfolio": globex.portfolio})
        assert foreign.status_code == 404 and "globex" not in foreign.text.lower()
        assert as_acme.get(path, params={"portfolio": "core"}).status_code == 404


def test_project_page_shows_burn_up_budget_burn_and_milestone_timeline(shared_as_acme, shared_acme) -> None:
    as_acme, acme = shared_as_acme, shared_acme  # only reads: the module's shared data
    html = as_acme.get(f"/projects/{acme.apollo}", params=Q).text
    assert charts(html) == [
        ("line", ["scope", "done"]),
        ("line", ["ac", "budget", "pv", "forecast"]),
        ("timeline", ["baseline", "due", "forecast"]),
    ]
    r1 = _row(html, "data-milestone-id", acme.milestones["v1"])
    assert (
        "R1 acme" in r1 and "badge-overdue" in r1 and '<td class="num">3</td>' in r1
    )  # 3 days overdue
    assert re.search(rf'<tr data-milestone-id="{acme.milestones["v1"]}" class="overdue">', html)
    r2 = _row(html, "data-milestone-id", acme.milestones["v2"])
    assert "2026-03-25" in r2 and "2026-03-20" in r2 and "+5 d" in r2 and "badge-at-risk" in r2
    assert 'class="overdue-band"' in html and "3 d overdue" in html
    assert 'data-marker="planned-end"' in html and 'data-marker="today"' in html


def test_project_over_budget_and_without_budget(shared_as_acme, shared_acme) -> None:
    as_acme, acme = shared_as_acme, shared_acme  # only reads: the module's shared data
    borealis = as_acme.get(f"/projects/{acme.borealis}", params=Q).text
    assert "before planned end 2026-04-10" in borealis
    assert (
        'data-marker="exhaustion"' in borealis
    )  # the forecast crosses the budget before the planned end
    nimbus = as_acme.get(f"/projects/{acme.nimbus}", params=Q).text
    assert charts(nimbus)[1] == ("line", ["ac", "forecast"])  # no budget line, no planned value
    assert "This project has no milestones." in nimbus
    assert 'title="no budget (BAC)"' in nimbus


def test_milestones_page_lists_overdue_and_at_risk(shared_as_acme, shared_acme) -> None:
    as_acme, acme = shared_as_acme, shared_acme  # only reads: the module's shared data
    html = as_acme.get("/milestones", params=Q).text
    overdue, at_risk = html.split('id="atrisk-h"')
    r1 = _row(overdue, "data-milestone-id", acme.milestones["v1"])
    assert "R1 acme" in r1 and f'href="/projects/{acme.apollo}?as_of={AS_OF}">Apollo acme' in r1
    assert '<td class="num">3</td>' in r1
    assert "R2 acme" not in overdue
    r2 = _row(at_risk, "data-milestone-id", acme.milestones["v2"])
    assert "+5 d" in r2 and "2026-05-07" in r2  # slip against the baseline; forecast finish
    assert "Launch acme" in at_risk.split("All 3 milestones")[0]
    assert charts(html)[0] == ("timeline", ["baseline", "due", "forecast"])
    assert "Apollo acme · R1 acme" in html


def test_people_page_shows_workload_across_tools(shared_as_acme, shared_acme, shared_db) -> None:
    as_acme, acme, db = shared_as_acme, shared_acme, shared_db  # only reads: the module's shared data
    html = as_acme.get("/people", params=Q).text
    view = compute_view(db, acme.org_id, "workload", ViewParams(as_of=date.fromisoformat(AS_OF)))
    ann_id = next(p["person"]["id"] for p in view["people"] if p["person"]["name"] == "Ann-acme")
    ann = _row(html, "data-person-id", ann_id)
    assert "jira: Ann-acme" in ann and "trello: ann.t-acme" in ann  # one person, both tools
    assert '<td class="num">2</td>' in ann
    bob = next(p for p in view["people"] if p["person"]["name"] == "Bob-acme")
    assert bob["hours_this_week"] == 8.0
    assert re.search(
        r'<td class="num">8</td>\s*</tr>',
        _row(html, "data-person-id", bob["person"]["id"]) + "</tr>",
    )
    assert charts(html) == [("bar", ["open", "overdue"]), ("bar", ["hours"])]


def test_bad_input_gets_a_readable_page(shared_as_acme) -> None:
    as_acme = shared_as_acme  # only reads: the module's shared data
    r = as_acme.get("/", params={"as_of": "yesterday"})
    assert r.status_code == 400 and "as_of must be a date" in r.text
    for path in ("/projects/abc", "/projects/999999", "/projects/-1", "/projects/²"):
        r = as_acme.get(path)
        assert (
            r.status_code == 404
            and "There is no project" in r.text
            and "text/html" in r.headers["content-type"]
        )


def test_stylesheet_is_served(client: TestClient) -> None:
    r = client.get("/dashboard/static/dashboard.css")
    assert (
        r.status_code == 200
        and r.headers["content-type"].startswith("text/css")
        and ".kpi" in r.text
    )


def test_an_empty_organization_still_renders(client: TestClient, tenant: Org) -> None:
    sign_in(client, tenant.token)
    home = client.get("/")
    assert (
        home.status_code == 200
        and "No projects yet" in home.text
        and "No sources registered" in home.text
    )
    assert charts(home.text) == [("bar", ["consumed", "complete"]), ("line", ["scope", "done"])]
    people = client.get("/people")
    assert people.status_code == 200 and charts(people.text) == [
        ("bar", ["open", "overdue"]),
        ("bar", ["hours"]),
    ]
    ms = client.get("/milestones")
    assert ms.status_code == 200 and "No milestone is overdue." in ms.text


def test_names_from_the_tools_are_escaped(as_acme: TestClient, acme: Org, db: Database) -> None:
    import sqlalchemy as sa

    from service.tables import Project

    P = table(Project)
    with db.write() as c:
        c.execute(
            sa.update(P).where(P.c.id == acme.nimbus).values(name='<script>alert("x")</script>')
        )
    for path in ("/", f"/projects/{acme.nimbus}"):
        html = as_acme.get(path, params=Q).text
        assert "<script>" not in html and "&lt;script&gt;" in html
        charts(html)  # still well-formed SVG
