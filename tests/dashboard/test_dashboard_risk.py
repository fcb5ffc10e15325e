"""The Risk page (issue 23) on both stores: the register's forms do what the API does
(``service.portfolio.risks``) and need its scope (write); a read session sees the register and the
signals without forms; a refused form comes back beside itself keeping what was typed; another
organization's risk or project is 404; the computed signals and their evidence are the risk view's."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import sqlalchemy as sa

from service.dashboard.data import table
from service.db import Database
from service.tables import RiskItem
from service.views import VIEWS, ViewParams, compute_view
from tests.dashboard.world import Org, TestClient, sign_in, signed_in

R = table(RiskItem)
AS_OF = "2026-03-11"


def _writer(client: TestClient, db: Database, o: Org) -> str:
    """Sign in with a new write token named "pm"; the page's CSRF token."""
    return signed_in(client, db, o, "write", "/risk", name="pm")


def _risks(db: Database, org_id: int) -> list[Any]:
    with db.read() as c:
        return list(c.execute(sa.select(R).where(R.c.org_id == org_id).order_by(R.c.id)))


def _new(project: int, csrf: str, **kw: str) -> dict[str, str]:
    return {"csrf": csrf, "project_id": str(project), "title": "Vendor API sunset", "description": "",
            "owner_person_id": "", "owner_name": "Dana", "probability": "4", "impact": "5",
            "mitigation": "Move to v3", "status": "open", "review_date": "2026-03-01", **kw}


def test_a_pm_adds_edits_closes_and_deletes_a_risk(client, db, acme):
    csrf = _writer(client, db, acme)
    r = client.post("/risk/new", data=_new(acme.apollo, csrf), follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/risk?done=new#project-{acme.apollo}", r.text
    (risk,) = _risks(db, acme.org_id)
    assert (risk.title, risk.owner_name, risk.probability, risk.impact, risk.created_by, risk.project_id) == (
        "Vendor API sunset", "Dana", 4, 5, "pm", acme.apollo)
    page = client.get(r.headers["location"]).text
    assert "Risk added." in page
    row = page.split(f'<tr data-risk-id="{risk.id}" class="overdue">')[1].split("</tr>")[0]  # review 03-01: past
    assert "<td class=\"num\" data-score>20</td>" in row and "Dana" in row and "data-review-overdue" in row
    section = page.split(f'id="project-{acme.apollo}"')[1].split("</section>")[0]
    assert f'action="/risk/{risk.id}/edit"' in section and 'value="Vendor API sunset"' in section

    # a second, lower one: the register lists by score
    client.post("/risk/new", data=_new(acme.apollo, csrf, title="Office move", probability="1", impact="2",
                                       owner_name=""))
    page = client.get("/risk").text
    ids = [int(i) for i in re.findall(r'<tr data-risk-id="(\d+)"', page)]
    assert ids[0] == risk.id and len(ids) == 2
    low = ids[1]

    # edit: every field of the form is set; the owner becomes a name → cleared, the review date cleared
    edited = client.post(f"/risk/{low}/edit", data={**_new(acme.apollo, csrf, title="Office move", probability="5",
                                                           impact="5", owner_name="", review_date="")},
                         follow_redirects=False)
    assert edited.status_code == 303, edited.text
    row = _risks(db, acme.org_id)[1]
    assert (row.probability, row.impact, row.owner_name, row.review_date, row.updated_by) == (5, 5, None, None, "pm")
    ids = [int(i) for i in re.findall(r'<tr data-risk-id="(\d+)"', client.get("/risk").text)]
    assert ids == [low, risk.id]  # 25 before 20

    assert client.post(f"/risk/{low}/close", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert _risks(db, acme.org_id)[1].status == "closed"
    page = client.get("/risk").text
    assert f'action="/risk/{low}/close"' not in page  # closed: no Close button
    assert [int(i) for i in re.findall(r'<tr data-risk-id="(\d+)"', page)] == [risk.id, low]  # closed last

    assert client.post(f"/risk/{low}/delete", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert [r.id for r in _risks(db, acme.org_id)] == [risk.id]


def test_a_refused_form_comes_back_beside_itself_keeping_what_was_typed(client, db, acme):
    csrf = _writer(client, db, acme)
    r = client.post("/risk/new", data=_new(acme.borealis, csrf, title="Typed <title>", probability="7"))
    assert r.status_code == 422
    add = r.text.split(f'id="add-{acme.borealis}" open>')[1].split("</details>")[0]
    assert "probability" in add and "data-failed" in add
    assert 'value="Typed &lt;title&gt;"' in add and 'value="7"' in add and 'value="Dana"' in add
    assert _risks(db, acme.org_id) == []
    both = client.post("/risk/new", data=_new(acme.borealis, csrf, owner_person_id="1"))
    assert both.status_code == 422 and "not both" in both.text
    client.post("/risk/new", data=_new(acme.borealis, csrf))
    (risk,) = _risks(db, acme.org_id)
    bad = client.post(f"/risk/{risk.id}/edit", data=_new(acme.borealis, csrf, title="", impact="x"))
    assert bad.status_code == 422
    edit = bad.text.split(f'id="risk-{risk.id}" open>')[1].split("</details>")[0]
    assert "data-failed" in edit and ("title" in edit or "impact" in edit)
    assert _risks(db, acme.org_id)[0].impact == 5  # unchanged


def test_a_read_session_sees_the_register_without_forms_and_its_posts_are_refused(client, db, acme):
    csrf = _writer(client, db, acme)
    client.post("/risk/new", data=_new(acme.apollo, csrf))
    (risk,) = _risks(db, acme.org_id)
    sign_in(client, acme.token)  # read scope
    html = client.get("/risk").text
    assert f'<tr data-risk-id="{risk.id}"' in html and "Vendor API sunset" in html
    assert '<form method="post"' not in html and 'name="csrf"' not in html and "write scope can add" in html
    for path in ("/risk/new", f"/risk/{risk.id}/edit", f"/risk/{risk.id}/close", f"/risk/{risk.id}/delete"):
        refused = client.post(path, data=_new(acme.apollo, csrf), follow_redirects=False)
        assert refused.status_code == 403, path
    assert _risks(db, acme.org_id)[0].status == "open" and len(_risks(db, acme.org_id)) == 1


def test_a_post_without_the_csrf_token_is_refused(client, db, acme):
    csrf = _writer(client, db, acme)
    assert client.post("/risk/new", data={**_new(acme.apollo, csrf), "csrf": ""}).status_code == 403
    client.post("/risk/new", data=_new(acme.apollo, csrf))
    (risk,) = _risks(db, acme.org_id)
    assert client.post(f"/risk/{risk.id}/delete", data={}).status_code == 403
    foreign = client.post(f"/risk/{risk.id}/close", data={"csrf": csrf}, headers={"origin": "https://evil.example"})
    assert foreign.status_code == 403
    assert _risks(db, acme.org_id)[0].status == "open"


def test_another_organizations_risk_and_project_are_not_found(client, db, acme, globex):
    csrf = _writer(client, db, globex)
    client.post("/risk/new", data=_new(globex.apollo, csrf))
    (theirs,) = _risks(db, globex.org_id)
    csrf = _writer(client, db, acme)
    page = client.get("/risk").text
    assert str(theirs.id) not in re.findall(r'data-risk-id="(\d+)"', page) and "globex" not in page
    for action in ("edit", "close", "delete"):
        r = client.post(f"/risk/{theirs.id}/{action}", data=_new(acme.apollo, csrf))
        assert r.status_code == 404, action
    assert client.post("/risk/new", data=_new(globex.apollo, csrf)).status_code == 404
    assert client.post("/risk/abc/close", data={"csrf": csrf}).status_code == 404
    assert client.post(f"/risk/{theirs.id}/explode", data={"csrf": csrf}).status_code == 404
    assert (_risks(db, globex.org_id)[0].status, _risks(db, acme.org_id)) == ("open", [])


def test_the_signals_and_their_evidence_are_the_risk_views(client, db, acme, globex):
    """Beside the register: each project's RAG and signals as the risk view computes them, its
    evidence tasks listed; the portfolio selector narrows both."""
    sign_in(client, acme.token)
    html = client.get("/risk", params={"as_of": AS_OF}).text
    assert 'aria-current="page">Risk<' in html
    if "risk" not in VIEWS:
        assert "<h3>Signals</h3>" not in html
        return
    view = compute_view(db, acme.org_id, "risk", ViewParams(as_of=date(2026, 3, 11), group_by="project"))
    for g in view["groups"]:
        pid = g["group"]["id"]
        section = html.split(f'id="project-{pid}"')[1].split("</section>")[0]
        assert f"badge-{g['rag']}" in section, (pid, g["rag"])
        levels = dict(re.findall(r'<tr data-signal="(\w+)"><th scope="row">[^<]+</th>\s*<td><span class="badge '
                                 r'badge-(\w+)"', section))
        assert levels == {k: s["level"] for k, s in g["signals"].items() if s.get("level")}, pid
        for key, sig in g["signals"].items():
            for t in sig.get("tasks") or []:
                evidence = section.split(f'data-evidence="{key}"')[1].split("</ul>")[0]
                assert (t["key"] or str(t["id"])) in evidence, (pid, key, t)
    # C2 (Borealis, Trello) has had no change since 03-04: stale at 03-11, its key listed as evidence
    borealis = html.split(f'id="project-{acme.borealis}"')[1].split("</section>")[0]
    assert "C2" in borealis.split('data-evidence="stale"')[1].split("</ul>")[0]
    narrowed = client.get("/risk", params={"as_of": AS_OF, "portfolio": acme.portfolio}).text
    assert f'id="project-{acme.nimbus}"' not in narrowed and f'id="project-{acme.apollo}"' in narrowed
    if "quality" in VIEWS:
        assert "data-quality-total" in html and 'data-series="inflow"' in html


def test_the_register_as_csv_for_the_session(client, db, acme, globex):
    """The page's CSV link: the selection's register through the one CSV writer, for the session
    (no API token); another organization's portfolio is 404, a signed-out visitor signs in first."""
    assert client.get("/risk.csv", follow_redirects=False).status_code == 303
    csrf = _writer(client, db, acme)
    client.post("/risk/new", data=_new(acme.apollo, csrf, title="=HYPERLINK(\"http://x\")"))
    client.post("/risk/new", data=_new(acme.nimbus, csrf, title="Nimbus only"))
    assert 'href="/risk.csv"' in client.get("/risk").text
    r = client.get("/risk.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    titles = [row["title"] for row in csv.DictReader(io.StringIO(r.text))]
    assert titles == ["'=HYPERLINK(\"http://x\")", "Nimbus only"]
    narrowed = client.get("/risk.csv", params={"portfolio": acme.portfolio})  # Nimbus is not in it
    assert [row["title"] for row in csv.DictReader(io.StringIO(narrowed.text))] == ["'=HYPERLINK(\"http://x\")"]
    assert client.get("/risk.csv", params={"portfolio": globex.portfolio}).status_code == 404


def test_without_the_risk_and_quality_views_the_register_stands_alone(client, db, acme, monkeypatch):
    """The page asks VIEWS for "risk" and "quality": an install without them (or a view removed)
    shows the register and its forms, and no signal or quality section."""
    monkeypatch.delitem(VIEWS, "risk")
    monkeypatch.delitem(VIEWS, "quality")
    csrf = _writer(client, db, acme)
    assert client.post("/risk/new", data=_new(acme.apollo, csrf), follow_redirects=False).status_code == 303
    html = client.get("/risk").text
    assert "<h3>Signals</h3>" not in html and "data-quality" not in html and "data-rag" not in html
    assert re.findall(r'<tr data-risk-id="(\d+)"', html) == [str(_risks(db, acme.org_id)[0].id)]


def test_the_longest_texts_the_api_takes_are_taken_from_the_form_too(client, db, acme):
    """A description and a mitigation of 5,000 characters each (the API's limit) in a script other
    than Latin: URL-encoded that is ~90 kB, beyond the form's old 32 kB, which answered a 403 "this
    form did not come from your Risk page" (found in review)."""
    csrf = _writer(client, db, acme)
    r = client.post("/risk/new", data=_new(acme.apollo, csrf, description="リ" * 5000, mitigation="ス" * 5000),
                    follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    (risk,) = _risks(db, acme.org_id)
    assert (len(risk.description), len(risk.mitigation)) == (5000, 5000)
