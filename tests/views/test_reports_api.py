"""The weekly status report (issue 23) through /api/v1/reports, on both stores: generated from the
views at the week's end, commentary and publish (409 after), report.ready once, a published
snapshot served unchanged after the data changed, the PDF's pages and text, bad input named."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from service.tables import Event, Project, RiskItem, StatusReport, WebhookEndpoint, table
from service.views import ViewParams, compute_view
from tests.views.conftest import Org

EV, EP, PR, RI, SR = table(Event), table(WebhookEndpoint), table(Project), table(RiskItem), table(StatusReport)
WEEK = "2026-W11"  # 2026-03-09 .. 2026-03-15


def _get(client, org: Org, scope: str = "read", **params):
    return client.get("/api/v1/reports", params=params, headers=org.h(scope))


def _report(client, org: Org, **params):
    r = _get(client, org, **params)
    assert r.status_code == 200, r.text
    return r.json()


def _endpoint(db, org_id: int, types: list[str]) -> int:
    now = datetime.now(UTC)
    with db.write() as c:
        return c.execute(sa.insert(EP).values(
            org_id=org_id, url="https://hooks.example.com/x", event_types=types, enabled=True,
            secret_enc="x", health="ok", created_at=now, updated_at=now).returning(EP.c.id)).scalar_one()


def test_a_week_read_generates_the_draft_from_the_views_at_the_weeks_end(client, world, db):
    w = world.world
    rep = _report(client, world, portfolio=w.portfolio, week=WEEK)
    assert (rep["status"], rep["week"], rep["week_start"], rep["scope_name"]) == ("draft", WEEK, "2026-03-09", "Main")
    d = rep["data"]
    assert d["as_of_date"] == "2026-03-15" and d["baseline"]["kind"] == "views_at_previous_week_end"
    # Every figure is the view's at the end of the week (no second definition).
    params = ViewParams(portfolio=w.portfolio, group_by="project", as_of=date(2026, 3, 15))
    progress = {g["group"]["id"]: g for g in compute_view(db, w.org_id, "progress", params)["groups"]}
    budget = {g["group"]["id"]: g for g in compute_view(db, w.org_id, "budget", params)["groups"]}
    risk = {g["group"]["id"]: g for g in compute_view(db, w.org_id, "risk", params)["groups"]}
    before = ViewParams(portfolio=w.portfolio, group_by="project", as_of=date(2026, 3, 8))
    earlier = {g["group"]["id"]: g for g in compute_view(db, w.org_id, "budget", before)["groups"]}
    rows = {p["id"]: p for p in d["projects"]}
    assert set(rows) == {w.alp, w.beta}
    for pid, row in rows.items():
        assert row["progress"]["percent_complete_count"] == progress[pid]["percent_complete_count"]
        assert row["budget"]["ac"] == budget[pid]["ac"] and row["budget"]["spi"] == budget[pid]["spi"]
        assert row["budget"]["delta_ac"] == round(budget[pid]["ac"] - earlier[pid]["ac"], 2)
        assert row["rag"] == risk[pid]["rag"] and row["set_by"] == risk[pid]["set_by"]
    assert "SPI 0.7536" in rows[w.alp]["rule"]
    # Milestone 1.0 (due 03-08) became overdue during the week; 1.1 (due 03-25) is coming.
    assert [m["name"] for m in d["milestones"]["slipped"]] == ["1.0"]
    assert [m["name"] for m in d["milestones"]["coming"]] == ["1.1"]
    # A second read serves the stored draft (one row).
    again = _report(client, world, portfolio=w.portfolio, week="2026-03-11")
    assert again["id"] == rep["id"]
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(SR)).scalar() == 1


def test_the_next_week_compares_with_the_stored_report(client, world):
    w = world.world
    first = _report(client, world, project=w.alp, week=WEEK)
    nxt = _report(client, world, project=w.alp, week="2026-W12")
    assert nxt["data"]["baseline"] == {"kind": "previous_report", "report_id": first["id"], "week": WEEK}
    ac_then = first["data"]["projects"][0]["budget"]["ac"]
    row = nxt["data"]["projects"][0]
    assert row["budget"]["delta_ac"] == round(row["budget"]["ac"] - ac_then, 2)


def test_commentary_publish_event_once_and_409_after(client, world, db):
    w = world.world
    ep = _endpoint(db, w.org_id, ["report.*"])
    rep = _report(client, world, portfolio=w.portfolio, week=WEEK)
    url = f"/api/v1/reports/{rep['id']}"
    assert client.patch(url, json={"commentary": "x"}, headers=world.h("read")).status_code == 403
    r = client.patch(url, json={"commentary": "Beta's budget runs out before its end: asking for 2k more."},
                     headers=world.h("write"))
    assert r.status_code == 200 and r.json()["commentary"].startswith("Beta's budget")
    html = client.get(url, params={"format": "html"}, headers=world.h()).text
    assert "asking for 2k more" in html and "draft" in html
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV).where(EV.c.type == "report.ready")).scalar() == 0
    r = client.post(f"{url}/publish", headers=world.h("write"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published" and r.json()["published_at"]
    with db.read() as c:
        events = c.execute(sa.select(EV).where(EV.c.type == "report.ready")).all()
    assert len(events) == 1
    data = events[0].payload["data"]
    assert (data["report_id"], data["scope"], data["scope_id"], data["week"]) == (rep["id"], "portfolio",
                                                                                 w.portfolio, WEEK)
    assert data["links"]["pdf"] == f"{url}?format=pdf" and ep
    # Published: final. Commentary, publish again and regenerate are 409; nothing is sent again.
    assert client.patch(url, json={"commentary": "later"}, headers=world.h("write")).status_code == 409
    assert client.post(f"{url}/publish", headers=world.h("write")).status_code == 409
    again = client.post("/api/v1/reports", json={"portfolio": w.portfolio, "week": WEEK}, headers=world.h("write"))
    assert again.status_code == 409, again.text
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV).where(EV.c.type == "report.ready")).scalar() == 1


def test_a_published_report_is_served_unchanged_after_the_data_changed(client, world, db):
    w = world.world
    rep = _report(client, world, project=w.beta, week=WEEK)
    url = f"/api/v1/reports/{rep['id']}"
    client.patch(url, json={"commentary": "On track once the budget is raised."}, headers=world.h("write"))
    assert client.post(f"{url}/publish", headers=world.h("write")).status_code == 200
    before = {f: client.get(url, params={"format": f}, headers=world.h()).content for f in ("json", "html", "pdf")}
    # Budgets and plans change, a register risk appears, the project is renamed.
    with db.write() as c:
        c.execute(sa.update(PR).where(PR.c.id == w.beta).values(budget_amount=99999, planned_end=date(2026, 9, 30),
                                                                 name="Renamed"))
        c.execute(sa.insert(RI).values(org_id=w.org_id, project_id=w.beta, title="Vendor late", probability=5,
                                       impact=5, status="open", created_at=datetime.now(UTC),
                                       updated_at=datetime.now(UTC)))
    after = {f: client.get(url, params={"format": f}, headers=world.h()).content for f in ("json", "html", "pdf")}
    assert after == before
    by_week = _get(client, world, project=w.beta, week=WEEK, format="pdf").content
    assert by_week == before["pdf"]
    # A draft of the same week would see the new figures: the snapshot is what kept the old ones.
    fresh = _report(client, world, project=w.beta, week="2026-W12")
    assert fresh["data"]["projects"][0]["budget"]["bac"] == 99999
    assert fresh["data"]["top_risks"][0]["title"] == "Vendor late"
    old = client.get(url, headers=world.h()).json()["data"]["projects"][0]
    assert old["budget"]["bac"] == 10000 and old["name"] == "BETA"


def test_the_pdf_has_the_pages_and_text(client, world):
    w = world.world
    rep = _report(client, world, portfolio=w.portfolio, week=WEEK)
    url = f"/api/v1/reports/{rep['id']}"
    client.patch(url, json={"commentary": "Alpha slips: release 1.0 moved."}, headers=world.h("write"))
    client.post(f"{url}/publish", headers=world.h("write"))
    r = client.get(url, params={"format": "pdf"}, headers=world.h())
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) == 2  # the figures, then the charts on a page of their own
    first, charts = (p.extract_text() for p in reader.pages)
    for needle in ("Main", WEEK, "ALP", "BETA", "RED", "SPI 0.7536", "Alpha slips: release 1.0 moved.",
                   "Slipped this week: 1", "1.0 (ALP)"):
        assert needle in first, needle
    for needle in ("Percent complete", "Burn-up", "Budget burn", "Defects per week"):
        assert needle in charts, needle
    text = first + charts
    assert "DRAFT" not in text
    html = client.get(url, params={"format": "html"}, headers=world.h())
    assert html.headers["content-type"].startswith("text/html")
    assert "style-src 'unsafe-inline'" in html.headers["content-security-policy"]
    assert "<script" not in html.text and html.text.count("<svg") == 4


def test_list_and_bad_input(client, world, db):
    w = world.world
    _report(client, world, project=w.alp, week=WEEK)
    _report(client, world, portfolio=w.portfolio, week="2026-W10")
    listed = _report(client, world)
    assert [(r["scope"], r["week"]) for r in listed] == [("project", WEEK), ("portfolio", "2026-W10")]
    assert "data" not in listed[0]
    assert [r["week"] for r in _report(client, world, project=w.alp)] == [WEEK]
    cases = [
        ({"week": WEEK}, "query.portfolio"),
        ({"portfolio": w.portfolio, "project": w.alp, "week": WEEK}, "query.portfolio"),
        ({"portfolio": w.portfolio, "week": "2026-W99"}, "query.week"),
        ({"portfolio": w.portfolio, "week": "last week"}, "query.week"),
        ({"portfolio": w.portfolio, "week": "2099-W01"}, "query.week"),
        ({"portfolio": w.portfolio, "week": "1970-01-01"}, "query.week"),  # its week begins in 1969
        ({"portfolio": w.portfolio, "week": WEEK, "format": "docx"}, "query.format"),
        ({"format": "pdf"}, "query.format"),
    ]
    for params, field in cases:
        r = _get(client, world, **params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in r.text, (params, r.text)
    assert _get(client, world, project=999999, week=WEEK).status_code == 404
    first = _report(client, world, project=w.alp, week="1970-W02")  # the first week with a week before it
    assert first["data"]["as_of_date"] == "1970-01-11" and first["data"]["milestones"]["done"] == []
    pdf = client.get(f"/api/v1/reports/{first['id']}", params={"format": "pdf"}, headers=world.h())
    charts = PdfReader(io.BytesIO(pdf.content)).pages[1].extract_text()
    assert pdf.status_code == 200 and "Budget burn" in charts and "(The chart" not in charts  # every chart drawn
    rep = _report(client, world, project=w.alp, week=WEEK)
    long = client.patch(f"/api/v1/reports/{rep['id']}", json={"commentary": "x" * 5000}, headers=world.h("write"))
    assert long.status_code == 422 and "commentary" in long.text
    nul = client.patch(f"/api/v1/reports/{rep['id']}", json={"commentary": "a\x00b"}, headers=world.h("write"))
    assert nul.status_code == 422 and "commentary" in nul.text and "U+0000" in nul.text
    assert client.get("/api/v1/reports/999999", headers=world.h()).status_code == 404


def test_regenerating_a_draft_recomputes_and_keeps_the_commentary(client, world, db):
    w = world.world
    rep = _report(client, world, project=w.beta, week=WEEK)
    client.patch(f"/api/v1/reports/{rep['id']}", json={"commentary": "kept"}, headers=world.h("write"))
    with db.write() as c:
        c.execute(sa.update(PR).where(PR.c.id == w.beta).values(budget_amount=12345))
    assert client.post("/api/v1/reports", json={"project": w.beta, "week": WEEK},
                       headers=world.h("read")).status_code == 403
    r = client.post("/api/v1/reports", json={"project": w.beta, "week": WEEK}, headers=world.h("write"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == rep["id"] and r.json()["commentary"] == "kept"
    assert r.json()["data"]["projects"][0]["budget"]["bac"] == 12345


@pytest.mark.parametrize("scope", ["portfolio", "project"])
def test_another_organizations_reports_are_404(client, world, make_org, scope):
    other = make_org("globex")
    w = world.world
    rep = _report(client, world, **{scope: w.portfolio if scope == "portfolio" else w.alp}, week=WEEK)
    url = f"/api/v1/reports/{rep['id']}"
    assert client.get(url, headers=other.h()).status_code == 404
    assert client.patch(url, json={"commentary": "x"}, headers=other.h("write")).status_code == 404
    assert client.post(f"{url}/publish", headers=other.h("write")).status_code == 404
    ident = w.portfolio if scope == "portfolio" else w.alp
    assert _get(client, other, **{scope: ident}, week=WEEK).status_code == 404
    assert _report(client, other) == []


def test_a_failed_publish_leaves_the_draft_and_sends_nothing(client, world, db, monkeypatch):
    """report.ready is recorded in the publishing transaction: when something fails after the event
    was recorded, the event and the published state roll back together."""
    from service.reports import snapshots

    real_emit = snapshots.emit

    def emit_then_fail(conn, *args, **kw):
        assert real_emit(conn, *args, **kw) is not None  # recorded in the transaction
        raise RuntimeError("failed after the event was recorded")

    w = world.world
    _endpoint(db, w.org_id, ["*"])
    rep = _report(client, world, project=w.alp, week=WEEK)
    monkeypatch.setattr(snapshots, "emit", emit_then_fail)
    from service.dashboard.report_render import RENDERER

    with pytest.raises(RuntimeError):
        snapshots.publish(db, w.org_id, rep["id"], by="pm", renderer=RENDERER)
    monkeypatch.setattr(snapshots, "emit", real_emit)
    assert client.get(f"/api/v1/reports/{rep['id']}", headers=world.h()).json()["status"] == "draft"
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV).where(EV.c.type == "report.ready")).scalar() == 0
    assert client.post(f"/api/v1/reports/{rep['id']}/publish", headers=world.h("write")).status_code == 200
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(EV).where(EV.c.type == "report.ready")).scalar() == 1


def test_the_current_week_lists_the_blocked_tasks_of_the_risk_view(client, world, db):
    from service.tables import Task

    w = world.world
    T = table(Task)
    with db.write() as c:
        c.execute(sa.update(T).where(T.c.project_id == w.alp, T.c.key == "ALP-A3").values(flagged=True))
    today = datetime.now(UTC).date().isoformat()  # the organization is in UTC
    rep = _report(client, world, project=w.alp, week=today)
    assert rep["data"]["current_week"] is True
    assert [(t["key"], t["project"], [b["kind"] for b in t["blockers"]]) for t in rep["data"]["blocked"]] == [
        ("ALP-A3", "ALP", ["flag"])]
    html = client.get(f"/api/v1/reports/{rep['id']}", params={"format": "html"}, headers=world.h()).text
    assert "Blocked tasks" in html and "ALP-A3" in html
