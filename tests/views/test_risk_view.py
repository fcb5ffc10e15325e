"""The risk view (issue 23) against a hand computation, on both stores.

The hand-computed portfolio of ``portfolio_data.py`` (ALP in Jira, BETA in Trello) plus, written
straight into the tables as a sync would leave them:

- OPS, a second Jira project without PM data, with O1 in progress since its creation on 03-01
  (no change row, no worklog, no assignee, no estimate);
- issue links (``task_link``, role ``blocked_by``): A4 ← O1 (OPS, in progress) made 03-09;
  A4 ← EXT-1 (not synced, "done" in the payload); A5 ← X-9 (not synced, in progress) made 02-20;
  A3 ← A5 made 02-10, removed 03-01; A6 ← A2 made 02-20 (the payload says done; A2 was in
  progress until 03-04 by its history);
- the blocked mark (``flagged`` and its ``change`` rows): C3 (Trello label) set 03-10 and still
  set; A6 (Jira Flagged) set 03-06, cleared 03-12 (after as_of);
- A3 gets Ann as a second assignee (its 5 points split 2.5 / 2.5).

As of 2026-03-11 (Wednesday, end of day, UTC):

stale (N = 5 working days): last activity A3 W5 03-09, A4 03-10, A6 flag set 03-06 (Fri), C2
  03-04 (5 idle days: Thu, Fri, Mon, Tue, Wed: stale), O1 created 03-01 (Sun: 8 idle days).
blocked: A4 by O1 (other project, 2 days); A5 by X-9 (not synced, 19 days: red); A6 by its flag
  (5 days); C3 by its label (1 day). A3's link was removed; A4's EXT-1 is done.
scope creep: ALP baseline 02-02: A1 A2 A3 A9 (3+5+5+1 = 14 points; A9 deleted since: removed 1),
  added A4 A5 A6 (2+5 = 7 points): 3 / 4 = 0.75 by count, 0.5 by estimate → 0.75, red.
  BETA baseline 02-16: nothing in scope (MC1 is a milestone card) → 4 added, amber with a reason.
schedule / budget: the budget view's SPI and CPI: ALP SPI 0.5714 (red), CPI 2.6667; BETA SPI
  1.1111, CPI 0.8333 (amber), exhausted 03-29 before its planned end 04-10 (red).
milestones: ALP 1.0 overdue (red), 1.1 at risk and slipped 5 days.
concentration: ALP open points A3 5 (Bob ½, Ann ½), A4 2 (Ann), A6 5 (Bob), A5 none: Bob 7.5 / 12
  = 0.625, Ann 4.5 / 12 = 0.375 → Bob, amber. BETA open hours C2 6 (Ann), C3 4 (Cy): Ann 0.6.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.db import Database
from service.store import rollups
from service.tables import Change, Milestone, MilestoneChange, Project, Task, TaskAssignee, TaskLink, TaskMilestone
from service.views import ViewParams, compute_view
from service.views.risk import DEFAULT_THRESHOLDS, EVIDENCE_CAP, rag, validate_thresholds
from tests.views.conftest import Org, by_name, get_view
from tests.views.portfolio_data import at
from tests.views.test_apply import cli as apply_cli  # noqa: F401 - the `taskhub apply` fixture

AS_OF = "2026-03-11"
T, L, C, P, TA = (m.__table__ for m in (Task, TaskLink, Change, Project, TaskAssignee))


def _ids(db: Database, org_id: int) -> dict[str, int]:
    with db.read() as c:
        return {e: i for e, i in c.execute(sa.select(T.c.external_id, T.c.id).where(T.c.org_id == org_id))}


def add_risk_data(db: Database, org: Org) -> dict[str, int]:
    """The rows of the module docstring; returns the task ids by external id (and OPS's id)."""
    w = org.world
    with db.write() as c:
        ops = c.execute(sa.insert(P).values(org_id=w.org_id, source_id=w.jira, external_id="200", key="OPS",
                                            name="OPS", created_at=at(1, 1)).returning(P.c.id)).scalar_one()
        c.execute(sa.insert(T).values(
            org_id=w.org_id, source_id=w.jira, project_id=ops, external_id="O1", key="OPS-1", title="Ops task",
            url="https://acme.atlassian.net/browse/OPS-1", type="story", status="In Progress",
            status_category="in_progress", remote_created_at=at(3, 1), remote_updated_at=at(3, 1),
            started_at=at(3, 1), synced_at=datetime.now(UTC)))

        def link(holder: str, ext: str, other: str, made: datetime, *, key: str | None = None,
                 status: str | None = None, gone: datetime | None = None) -> dict[str, Any]:
            return {"org_id": w.org_id, "source_id": w.jira, "task_external_id": holder, "external_id": ext,
                    "link_type": "Blocks", "direction": "inward", "phrase": "is blocked by", "role": "blocked_by",
                    "other_external_id": other, "other_key": key, "other_status_category": status,
                    "created_at": made, "deleted_at": gone, "synced_at": at(3, 12)}

        c.execute(sa.insert(L), [
            link("A4", "l1", "O1", at(3, 9), key="OPS-1", status="in_progress"),
            link("A4", "l2", "EXT-1", at(3, 9), key="EXT-1", status="done"),
            link("A5", "l3", "X-9", at(2, 20), key="X-9", status="in_progress"),
            link("A3", "l4", "A5", at(2, 10), key="ALP-A5", status="todo", gone=at(3, 1)),
            link("A6", "l5", "A2", at(2, 20), key="ALP-A2", status="done"),
            # The other side's row ("blocks") never makes its holder blocked.
            {**link("O1", "l1", "A4", at(3, 9), key="ALP-A4", status="in_progress"), "role": "blocks",
             "direction": "outward", "phrase": "blocks"},
        ])

        def flag(source: int, task: str, ext: str, old: str, new: str, when: datetime) -> dict[str, Any]:
            return {"org_id": w.org_id, "source_id": source, "task_external_id": task, "external_id": ext,
                    "field": "flagged", "from_value": old, "to_value": new, "changed_at": when, "origin": "changelog"}

        c.execute(sa.insert(C), [
            flag(w.trello, "C3", "f1", "false", "true", at(3, 10)),
            flag(w.jira, "A6", "f2", "false", "true", at(3, 6)),
            flag(w.jira, "A6", "f3", "true", "false", at(3, 12)),
        ])
        c.execute(sa.update(T).where(T.c.source_id == w.trello, T.c.external_id == "C3").values(flagged=True))
        a3 = c.execute(sa.select(T.c.id).where(T.c.source_id == w.jira, T.c.external_id == "A3")).scalar_one()
        c.execute(sa.insert(TA).values(task_id=a3, person_id=w.ann))
        rollups.rebuild(c, w.org_id)  # the rows above bypassed the store
    ids = _ids(db, w.org_id)
    ids["OPS"] = ops
    return ids


@pytest.fixture
def risky(db, world) -> tuple[Org, dict[str, int]]:
    return world, add_risk_data(db, world)


def _keys(items: list[dict[str, Any]]) -> list[str]:
    return [t["key"] for t in items]


def test_every_signal_and_the_rag_by_hand(client, risky):
    org, ids = risky
    r = get_view(client, org, "risk", as_of=AS_OF)
    g = by_name(r["groups"])
    assert list(g) == ["ALP", "BETA", "OPS"]  # per project always
    alp, beta, ops = (g[n]["signals"] for n in ("ALP", "BETA", "OPS"))

    # Stale: C2 idle exactly 5 working days, O1 8; A3 (2), A4 (1), A6 (3) are not.
    assert (alp["stale"]["level"], alp["stale"]["count"], alp["stale"]["in_progress"]) == ("green", 0, 3)
    assert (beta["stale"]["count"], beta["stale"]["in_progress"], beta["stale"]["stale_share"]) == (1, 1, 1.0)
    assert beta["stale"]["level"] == "red"  # 1 of 1 in progress ≥ 0.25
    [c2] = beta["stale"]["tasks"]
    assert (c2["key"], c2["idle_working_days"], c2["last_activity"]) == ("C2", 5, "2026-03-04T09:00:00+00:00")
    [o1] = ops["stale"]["tasks"]
    assert (o1["key"], o1["idle_working_days"], o1["url"]) == ("OPS-1", 8, "https://acme.atlassian.net/browse/OPS-1")

    # Blocked.
    b = alp["blocked"]
    assert (b["count"], b["longest_blocked_days"], b["level"]) == (3, 19, "red")
    assert (b["by_link"], b["by_flag"], b["blocker_elsewhere"]) == (2, 1, 2)
    tasks = {t["key"]: t for t in b["tasks"]}
    assert _keys(b["tasks"]) == ["ALP-A5", "ALP-A6", "ALP-A4"]  # longest blocked first
    assert tasks["ALP-A5"]["blockers"] == [{"kind": "link", "key": "X-9", "task_id": None, "project_id": None,
                                            "status_category": "in_progress", "where": "not_synced",
                                            "since": "2026-02-20T09:00:00+00:00"}]
    [o] = tasks["ALP-A4"]["blockers"]  # EXT-1 is done: no blocker
    assert (o["where"], o["task_id"], o["project_id"], o["key"]) == ("other_project", ids["O1"], ids["OPS"], "OPS-1")
    assert tasks["ALP-A4"]["blocked_days"] == 2
    # A6: its link's other task (A2) was done by its history, whatever the payload said; its flag was
    # set on 03-06 and cleared only on 03-12, after as_of.
    assert [x["kind"] for x in tasks["ALP-A6"]["blockers"]] == ["flag"]
    assert (tasks["ALP-A6"]["blocked_since"], tasks["ALP-A6"]["blocked_days"]) == ("2026-03-06T09:00:00+00:00", 5)
    assert "ALP-A3" not in tasks  # its link was removed on 03-01
    assert (beta["blocked"]["count"], beta["blocked"]["level"]) == (1, "amber")  # Trello: the label only
    assert beta["blocked"]["tasks"][0]["key"] == "C3" and beta["blocked"]["tasks"][0]["blocked_days"] == 1

    # Scope creep.
    s = alp["scope_creep"]
    assert (s["baseline_date"], s["baseline_tasks"], s["added_tasks"], s["removed_tasks"]) == ("2026-02-02", 4, 3, 1)
    assert (s["estimate_unit"], s["baseline_estimate"], s["added_estimate"]) == ("points", 14, 7)
    assert (s["added_share_count"], s["added_share_estimate"], s["creep_share"], s["level"]) == (0.75, 0.5, 0.75, "red")
    assert sorted(_keys(s["tasks"])) == ["ALP-A4", "ALP-A5", "ALP-A6"]
    s = beta["scope_creep"]
    assert (s["baseline_tasks"], s["added_tasks"], s["level"], s["creep_share"]) == (0, 4, "amber", None)
    assert ops["scope_creep"]["level"] is None and "planned start" in ops["scope_creep"]["reasons"]["level"]

    # Schedule and budget: the budget view's own figures.
    budget = by_name(get_view(client, org, "budget", as_of=AS_OF, group_by="project")["groups"])
    assert alp["schedule"]["spi"] == budget["ALP"]["spi"] == 0.5714 and alp["schedule"]["level"] == "red"
    assert alp["budget"]["cpi"] == budget["ALP"]["cpi"] == 2.6667 and alp["budget"]["level"] == "green"
    assert (beta["schedule"]["spi"], beta["schedule"]["level"]) == (1.1111, "green")
    assert (beta["budget"]["cpi"], beta["budget"]["exhaustion_date"]) == (0.8333, "2026-03-29")
    assert beta["budget"]["exhaustion_before_planned_end"] is True and beta["budget"]["level"] == "red"
    assert ops["schedule"]["level"] is None and ops["budget"]["level"] is None
    assert ops["schedule"]["reasons"]["spi"] == budget["OPS"]["reasons"]["spi"]

    # Milestones: the milestones view's.
    m = alp["milestones"]
    assert (m["overdue"], m["at_risk"], m["slipping"], m["level"]) == (1, 1, 1, "red")
    assert [x["name"] for x in m["overdue_milestones"]] == ["1.0"]
    assert [(x["name"], x["slip_days"]) for x in m["slipping_milestones"]] == [("1.1", 5)]
    assert beta["milestones"]["level"] == "green"

    # Concentration (split evenly among assignees).
    k = alp["concentration"]
    assert (k["basis"], k["open_total"], k["person"]["name"], k["top_share"], k["level"]) == (
        "points", 12, "Bob", 0.625, "amber")
    assert [(p["person"]["name"], p["open"]) for p in k["people"]] == [("Bob", 7.5)]
    k = beta["concentration"]
    assert (k["basis"], k["open_total"], k["person"]["name"], k["top_share"]) == ("hours", 10, "Ann", 0.6)
    assert (ops["concentration"]["basis"], ops["concentration"]["person"]) == ("tasks", None)

    # RAG.
    assert (g["ALP"]["rag"], g["ALP"]["set_by"]) == ("red", ["blocked", "milestones", "schedule", "scope_creep"])
    assert (g["BETA"]["rag"], g["BETA"]["set_by"]) == ("red", ["budget", "stale"])
    assert (g["OPS"]["rag"], g["OPS"]["set_by"]) == ("red", ["stale"])
    assert g["OPS"]["not_assessed"] == ["budget", "schedule", "scope_creep"]
    t = r["total"]
    assert (t["rag"], t["projects"], t["red"], t["amber"], t["green"]) == ("red", 3, 3, 0, 0)
    assert (t["signals"]["stale"]["count"], t["signals"]["blocked"]["count"]) == (2, 4)
    assert _keys(t["signals"]["stale"]["tasks"]) == ["OPS-1", "C2"]  # longest idle first
    assert t["signals"]["blocked"]["longest_blocked_days"] == 19
    assert t["signals"]["schedule"]["spi"] == get_view(client, org, "budget", as_of=AS_OF)["total"]["spi"]
    d = r["definitions"]
    for word in ("stale", "blocked", "scope_creep", "concentration", "rag", "trello", "thresholds"):
        assert word in d
    assert "Trello has no issue links" in d["trello"] and "split evenly" in d["concentration"]
    assert r["thresholds"]["spi_amber"]["default"] == 0.9 and r["thresholds"]["concentration_share"]["default"] == 0.4


def test_as_of_in_the_past_replays_links_flags_and_statuses(client, risky):
    org, _ = risky
    g = by_name(get_view(client, org, "risk", as_of="2026-02-25")["groups"])
    b = {t["key"]: t for t in g["ALP"]["signals"]["blocked"]["tasks"]}
    # A3 was blocked by A5 (todo then) from 02-10: 15 days; A6 by A2, in progress until 03-04; A5 by X-9.
    assert sorted(b) == ["ALP-A3", "ALP-A5", "ALP-A6"]
    assert (b["ALP-A3"]["blocked_days"], b["ALP-A3"]["blockers"][0]["where"]) == (15, "same_project")
    assert b["ALP-A6"]["blockers"][0]["status_category"] == "in_progress"
    assert [x["kind"] for x in b["ALP-A6"]["blockers"]] == ["link"]  # not flagged yet on 02-25
    assert g["BETA"]["signals"]["blocked"]["count"] == 0  # C3 did not exist yet
    assert "OPS" in g and g["OPS"]["signals"]["stale"]["in_progress"] == 0  # O1 created 03-01
    # Now: A6 is done, its flag cleared; C3 still flagged.
    now = by_name(get_view(client, org, "risk")["groups"])
    assert _keys(now["BETA"]["signals"]["blocked"]["tasks"]) == ["C3"]
    assert "ALP-A6" not in _keys(now["ALP"]["signals"]["blocked"]["tasks"])


def test_per_project_thresholds_through_the_api(client, risky):
    org, ids = risky
    w = org.world
    h = org.h("admin")
    r = client.patch(f"/api/v1/projects/{w.alp}", json={"risk_thresholds": {"stale_days": 2,
                                                                            "concentration_share": 0.7}}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["risk_thresholds"]["stale_days"] == 2 and r.json()["risk_thresholds"]["spi_red"] == 0.8
    r = client.patch(f"/api/v1/projects/{w.beta}", json={"risk_thresholds": {"cpi_amber": 0.8, "cpi_red": 0.5,
                                                                             "stale_red_share": 1}}, headers=h)
    assert r.status_code == 200, r.text
    g = by_name(get_view(client, org, "risk", as_of=AS_OF)["groups"])
    alp, beta = g["ALP"], g["BETA"]
    # ALP: A3 (2 idle days) and A6 (3) are stale now: 2 of 3 ≥ 0.25 → red; Bob's 0.625 ≤ 0.7.
    st = alp["signals"]["stale"]
    assert (st["count"], st["level"], _keys(st["tasks"]), st["threshold"]["stale_days"]) == (
        2, "red", ["ALP-A6", "ALP-A3"], 2)
    assert alp["signals"]["concentration"]["level"] == "green"
    assert alp["thresholds_overridden"] == ["concentration_share", "stale_days"]
    # BETA: CPI 0.8333 is green under its own 0.8; the stale share 1 ≥ 1 is still red.
    assert (beta["signals"]["budget"]["cpi"], beta["signals"]["budget"]["threshold"]) == (
        0.8333, {"cpi_amber": 0.8, "cpi_red": 0.5})
    assert beta["signals"]["stale"]["level"] == "red"
    assert g["OPS"]["thresholds"] == DEFAULT_THRESHOLDS
    # Bad keys and values: 422 naming them, nothing stored.
    for body, word in (
        ({"stale_dayz": 3}, "stale_dayz"),
        ({"stale_days": 2.5}, "whole number"),
        ({"stale_days": 0}, "stale_days"),
        ({"spi_amber": 0.7}, "spi_red"),  # amber below red (0.8)
        ({"cpi_red": "low"}, "cpi_red"),
        ({"scope_amber": True}, "scope_amber"),
        ('{"stale_days": 1e400}', "stale_days"),  # a JSON number Python reads as inf (was a 500)
        ('{"spi_red": -1e400}', "spi_red"),
        ('{"stale_days": 1' + "0" * 400 + '}', "stale_days"),  # an int too large for a float
    ):
        r = (client.patch(f"/api/v1/projects/{w.alp}", content=f'{{"risk_thresholds": {body}}}',
                          headers={**h, "content-type": "application/json"}) if isinstance(body, str)
             else client.patch(f"/api/v1/projects/{w.alp}", json={"risk_thresholds": body}, headers=h))
        assert r.status_code == 422, (body, r.text)
        assert word in r.text, (body, r.text)
    assert client.get(f"/api/v1/projects/{w.alp}", headers=h).json()["risk_thresholds"]["stale_days"] == 2
    r = client.patch(f"/api/v1/projects/{w.alp}", json={"risk_thresholds": None}, headers=h)
    assert r.json()["risk_thresholds"] == DEFAULT_THRESHOLDS


def test_stale_and_blocked_across_a_time_zone_boundary(client, db, make_org):
    """Honolulu (UTC−10): 09:00 UTC is 23:00 the day before, and as_of 2026-03-11 ends at 10:00 UTC
    on 03-12. C2's last change (03-04 09:00 UTC) is 03-03 locally: 6 idle working days, stale with
    stale_days 6 there, not in UTC; C3's label set 03-10 09:00 UTC (03-09 local) is 2 days old; A6
    is done by the end of 03-11 local (03-12 09:00 UTC) and no longer blocked."""
    results = {}
    for zone in ("UTC", "Pacific/Honolulu"):
        org = make_org(f"tz{zone.replace('/', '')}", zone)
        add_risk_data(db, org)
        with db.write() as c:
            c.execute(sa.update(P).where(P.c.id == org.world.beta).values(risk_thresholds={"stale_days": 6}))
        results[zone] = by_name(get_view(client, org, "risk", as_of=AS_OF)["groups"])
    utc, hnl = results["UTC"], results["Pacific/Honolulu"]
    assert (utc["BETA"]["signals"]["stale"]["count"], hnl["BETA"]["signals"]["stale"]["count"]) == (0, 1)
    assert hnl["BETA"]["signals"]["stale"]["tasks"][0]["idle_working_days"] == 6
    assert utc["BETA"]["signals"]["blocked"]["tasks"][0]["blocked_days"] == 1
    assert hnl["BETA"]["signals"]["blocked"]["tasks"][0]["blocked_days"] == 2
    assert "ALP-A6" in _keys(utc["ALP"]["signals"]["blocked"]["tasks"])
    assert "ALP-A6" not in _keys(hnl["ALP"]["signals"]["blocked"]["tasks"])


def test_bad_parameters_and_other_organizations(client, risky, make_org):
    org, _ = risky
    other = make_org("globex2", full=False)
    h = org.h()
    for params, status in (
        ({"group_by": "person"}, 422),
        ({"group_by": "milestone"}, 422),
        ({"assignee": org.world.ann}, 422),
        ({"as_of": "2026-13-01"}, 422),
        ({"as_of": "2999-01-01"}, 422),
        ({"group_by": "nonsense"}, 422),
        ({"project": 999_999}, 404),
        ({"portfolio": 999_999}, 404),
    ):
        r = client.get("/api/v1/views/risk", params=params, headers=h)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    r = client.get("/api/v1/views/risk", params={"group_by": "person"}, headers=h)
    assert "group_by" in r.json()["detail"]
    # Another organization's project, source and portfolio are 404 to this one.
    for param, value in (("project", org.world.alp), ("source", org.world.jira), ("portfolio", org.world.portfolio)):
        r = client.get("/api/v1/views/risk", params={param: value}, headers=other.h())
        assert r.status_code == 404, (param, r.text)
    # Filters: one project; group_by=project is the same answer.
    one = get_view(client, org, "risk", as_of=AS_OF, project=org.world.beta)
    assert [x["group"]["name"] for x in one["groups"]] == ["BETA"] and one["total"]["projects"] == 1
    same = get_view(client, org, "risk", as_of=AS_OF, group_by="project", project=org.world.beta)
    assert same["groups"] == one["groups"]


def test_csv_one_row_per_project_after_the_total(client, risky):
    org, _ = risky
    r = client.get("/api/v1/views/risk", params={"as_of": AS_OF, "format": "csv"}, headers=org.h())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert len(lines) == 1 + 1 + 3
    head = lines[0].split(",")
    assert "rag" in head and "signals.blocked.count" in head and "signals.scope_creep.creep_share" in head


def test_evidence_is_capped_with_a_count(db, client, risky):
    org, _ = risky
    w = org.world
    with db.write() as c:
        c.execute(sa.insert(T), [
            {"org_id": w.org_id, "source_id": w.trello, "project_id": w.beta, "external_id": f"S{i}", "key": f"S{i}",
             "title": "x", "type": "card", "status": "Doing", "status_category": "in_progress",
             "remote_created_at": at(2, 20), "remote_updated_at": at(2, 20), "started_at": at(2, 20),
             "flagged": True, "synced_at": datetime.now(UTC)}
            for i in range(EVIDENCE_CAP + 3)
        ])
        rollups.rebuild(c, w.org_id)
    beta = by_name(get_view(client, org, "risk", as_of=AS_OF)["groups"])["BETA"]["signals"]
    for sig, n in (("stale", EVIDENCE_CAP + 4), ("blocked", EVIDENCE_CAP + 4)):
        assert (beta[sig]["count"], len(beta[sig]["tasks"]), beta[sig]["more"]) == (n, EVIDENCE_CAP, 4), sig
    # The flag predates its history: blocked, since unknown.
    assert beta["blocked"]["tasks"][-1]["blocked_since"] is None or beta["blocked"]["count"] > EVIDENCE_CAP


def test_same_answer_computed_directly_on_both_paths(db, risky):
    """As of now the view reads the current columns; replayed through the history it agrees."""
    from dataclasses import replace

    from service.views import VIEWS, resolve_selection

    org, _ = risky
    with db.read() as c:
        sel = resolve_selection(c, org.world.org_id, ViewParams())
        assert sel.history is False
        assert VIEWS["risk"](c, sel) == VIEWS["risk"](c, replace(sel, history=True))
    assert compute_view(db, org.world.org_id, "risk", ViewParams(as_of=date(2026, 3, 11)))["total"]["red"] == 3


def test_rag_rule_and_threshold_validation():
    assert rag(["green", None, "amber"]) == "amber"
    assert rag(["amber", "red", None]) == "red"
    assert rag([None, None]) == "green"
    assert validate_thresholds(None) is None
    assert validate_thresholds({"stale_days": 3.0}) == {"stale_days": 3}
    with pytest.raises(ValueError, match="unknown risk threshold"):
        validate_thresholds({"nope": 1})
    with pytest.raises(ValueError, match="scope_red"):
        validate_thresholds({"scope_red": 0.05})  # below scope_amber's default 0.10
    for bad in (float("inf"), float("-inf"), float("nan")):  # JSON's 1e400 reads as inf: int(inf) raised a 500
        with pytest.raises(ValueError, match="stale_days.*finite number"):
            validate_thresholds({"stale_days": bad})


def test_taskhub_apply_sets_risk_thresholds_and_refuses_bad_ones(db, apply_cli, tmp_path):  # noqa: F811
    from tests.views.portfolio_data import make_world, phase1

    w = phase1(db, make_world(db, "fileorg"), pm=False)

    def thresholds() -> Any:
        with db.read() as c:
            return c.execute(sa.select(P.c.risk_thresholds).where(P.c.id == w.alp)).scalar()

    path = tmp_path / "risk.yaml"
    path.write_text("projects:\n  - source: jira-cloud\n    key: ALP\n"
                    "    risk_thresholds: {stale_days: 3, spi_amber: 0.95}\n")
    result = apply_cli(path, "--org", "fileorg")
    assert result.exit_code == 0, result.output
    assert thresholds() == {"stale_days": 3, "spi_amber": 0.95}
    path.write_text("projects:\n  - source: jira-cloud\n    key: ALP\n    risk_thresholds: {stale: 3}\n")
    result = apply_cli(path, "--org", "fileorg")
    assert result.exit_code == 2 and "unknown risk threshold 'stale'" in result.output, result.output
    assert thresholds() == {"stale_days": 3, "spi_amber": 0.95}


# --- scope creep from the history, and since a milestone's baseline -------------------------------
#
# On top of the risk data, as a sync and a PM would leave them:
# - estimate history: A1 observed 5 → 3 points on 02-10 12:00 (lowered); A3's story points 4 → 5 on
#   03-05 (raised); A4's 1 → 2 on 03-12 (after as_of: 1 point then); Trello C1 observed 8 → 10 hours
#   on 03-05 (in seconds: it has no points);
# - milestone links history (Jira fixVersions): A1 left 1.1 (v2) for 1.0 on 02-11; A5 (created
#   02-03, no version before) joined 1.1 on 03-02;
# - baselines a PM set: 1.1 on 02-10 09:00 (2026-03-18), Beta launch (mc1, Trello) on 03-01 09:00
#   (2026-04-03).
#
# As of 2026-03-11:
# ALP (baseline the end of 02-02): A1 A2 A3 A9 then at 5 + 5 + 4 + 1 = 15 points (A9 removed);
#   added A4 (1 then) A5 (none) A6 (5) = 6; raised A3 +1; lowered A1 −2 (shown, not netted).
#   0.75 by count, (6 + 1) / 15 = 0.4667 by estimate → 0.75, red.
# 1.1 (baseline 02-10 09:00): A1 (5, removed: it left on 02-11) A2 (5) = 10; added A4 (1) A5 (joined
#   after) A6 (5): 3 / 2 = 1.5 by count, 6 / 10 = 0.6 by estimate → 1.5, red.
# Beta launch (baseline 03-01 09:00): C1 (8 h then) C4 (none); added C2 (6 h); C1 raised by 2 h:
#   1 / 2 = 0.5 by count, (6 + 2) / 8 = 1.0 by estimate → 1.0, red.
# As of 2026-03-04: A3 still 4 (raised 0), A4 1: ALP 6 / 15 = 0.4.
# As of 2026-03-01: 1.1 without A5 (it joined on 03-02): added A4 A6, 2 / 2 = 1.0, A1 removed.
# As of 2026-02-09: no milestone baseline was set yet.

def add_creep_data(db: Database, org: Org) -> None:
    w = org.world
    ms = w.milestones or {}
    M, MC, TM = (m.__table__ for m in (Milestone, MilestoneChange, TaskMilestone))
    ids = _ids(db, w.org_id)

    def change(task: str, ext: str, field: str, old: str | None, new: str | None, when: datetime,
               origin: str = "changelog") -> dict[str, Any]:
        return {"org_id": w.org_id, "source_id": w.jira, "task_external_id": task, "external_id": ext,
                "field": field, "from_value": old, "to_value": new, "changed_at": when, "origin": origin}

    with db.write() as c:
        c.execute(sa.insert(C), [
            {**change("C1", "e4", "estimate", "28800", "36000", at(3, 5), origin="observed"), "source_id": w.trello},
            change("A1", "e1", "points", "5.0", "3.0", at(2, 10, 12), origin="observed"),
            change("A3", "e2", "points", "4", "5", at(3, 5)),
            change("A4", "e3", "points", "1", "2", at(3, 12)),
            change("A1", "m1", "milestone", "v2", None, at(2, 11)),
            change("A1", "m2", "milestone", None, "v1", at(2, 11)),
            change("A5", "m3", "milestone", None, "v2", at(3, 2)),
        ])
        # A change row is never newer than its task's last update.
        for task, when in (("A4", at(3, 12)), ("A5", at(3, 2)), ("C1", at(3, 5))):
            c.execute(sa.update(T).where(T.c.id == ids[task]).values(remote_updated_at=when))
        c.execute(sa.insert(TM).values(task_id=ids["A5"], milestone_id=ms["v2"]))
        for mid, when, old, new in ((ms["v2"], at(2, 10), "2026-03-20", "2026-03-18"),
                                    (ms["mc1"], at(3, 1), "2026-04-01", "2026-04-03")):
            c.execute(sa.update(M).where(M.c.id == mid).values(baseline_due_date=date.fromisoformat(new)))
            c.execute(sa.insert(MC).values(org_id=w.org_id, milestone_id=mid, field="baseline", at=when,
                                           old_value=old, new_value=new, origin="pm", actor="test"))
        rollups.rebuild(c, w.org_id)


@pytest.fixture
def creeping(db, risky) -> tuple[Org, dict[str, int]]:
    org, ids = risky
    add_creep_data(db, org)
    return org, ids


def _creep(client: Any, org: Org, as_of: str) -> dict[str, dict[str, Any]]:
    groups = by_name(get_view(client, org, "risk", as_of=as_of)["groups"])
    return {n: g["signals"]["scope_creep"] for n, g in groups.items()}


def test_scope_creep_uses_the_estimates_the_history_gives(client, creeping):
    org, _ = creeping
    alp = _creep(client, org, AS_OF)["ALP"]
    assert (alp["baseline_tasks"], alp["added_tasks"], alp["removed_tasks"]) == (4, 3, 1)
    # The baseline's estimates as they were then (A1 5, A3 4), the added tasks' as of as_of (A4 1).
    assert (alp["estimate_unit"], alp["baseline_estimate"], alp["added_estimate"]) == ("points", 15, 6)
    # A5 (added) has no points: counted beside the estimates, not silently left out.
    assert (alp["baseline_unestimated"], alp["added_unestimated"]) == (0, 1)
    assert (alp["raised_tasks"], alp["raised_estimate"], alp["lowered_estimate"]) == (1, 1, 2)
    assert (alp["added_share_count"], alp["added_share_estimate"], alp["creep_share"]) == (0.75, 0.4667, 0.75)
    assert (alp["project_level"], alp["level"]) == ("red", "red")
    assert alp["raised"] == [{"id": alp["raised"][0]["id"], "key": "ALP-A3", "title": "Task A3",
                              "url": None, "project_id": org.world.alp, "estimate_then": 4, "estimate_now": 5}]
    # Before A3's raise (03-05): not raised yet; A4 still 1 point.
    before = _creep(client, org, "2026-03-04")["ALP"]
    assert (before["baseline_estimate"], before["added_estimate"], before["raised_tasks"]) == (15, 6, 0)
    assert (before["raised"], before["added_share_estimate"], before["lowered_estimate"]) == ([], 0.4, 2)
    # As of now A4 has 2 points and A8 (3) was added on 03-12.
    now = by_name(get_view(client, org, "risk")["groups"])["ALP"]["signals"]["scope_creep"]
    assert (now["added_estimate"], now["raised_estimate"]) == (10, 1)


def test_scope_creep_since_a_milestone_baseline(client, creeping):
    org, _ = creeping
    ms = org.world.milestones or {}
    g = _creep(client, org, AS_OF)
    [v2] = g["ALP"]["milestones"]  # 1.0 has no baseline a PM set
    assert (v2["id"], v2["name"], v2["baseline_due_date"], v2["baseline_set_at"]) == (
        ms["v2"], "1.1", "2026-03-18", "2026-02-10T09:00:00+00:00")
    # A1 left it after the baseline (removed), A5 joined after it (added though created before).
    assert (v2["baseline_tasks"], v2["added_tasks"], v2["removed_tasks"]) == (2, 3, 1)
    assert (v2["baseline_estimate"], v2["added_estimate"], v2["estimate_unit"]) == (10, 6, "points")
    assert (v2["added_share_count"], v2["added_share_estimate"], v2["creep_share"], v2["level"]) == (
        1.5, 0.6, 1.5, "red")
    assert (_keys(v2["tasks"]), v2["count"], v2["more"]) == (["ALP-A6", "ALP-A4", "ALP-A5"], 3, 0)
    assert g["ALP"]["milestones_over"] == 1
    # Trello, in hours: the milestone's figures set BETA's level (its own is amber: nothing at its start).
    [mc1] = g["BETA"]["milestones"]
    assert (mc1["baseline_tasks"], mc1["added_tasks"], mc1["baseline_estimate"], mc1["added_estimate"]) == (
        2, 1, 8, 6)
    assert (mc1["raised_tasks"], mc1["raised_estimate"], mc1["added_share_estimate"]) == (1, 2, 1.0)
    assert (mc1["baseline_unestimated"], mc1["added_unestimated"]) == (1, 0)  # C4 has no hours
    assert [(t["key"], t["estimate_then"], t["estimate_now"]) for t in mc1["raised"]] == [("C1", 8, 10)]
    assert (mc1["estimate_unit"], mc1["creep_share"], mc1["level"], _keys(mc1["tasks"])) == ("hours", 1.0, "red",
                                                                                                ["C2"])
    assert (g["BETA"]["project_level"], g["BETA"]["level"]) == ("amber", "red")
    assert g["OPS"]["milestones"] == [] and g["OPS"]["level"] is None
    # Before A5 joined (03-02): 1.1 has A4 and A6 added.
    [v2] = _creep(client, org, "2026-03-01")["ALP"]["milestones"]
    assert (v2["baseline_tasks"], v2["added_tasks"], v2["removed_tasks"], v2["creep_share"]) == (2, 2, 1, 1.0)
    # Before any baseline was set: nothing to measure a milestone against.
    early = _creep(client, org, "2026-02-09")
    assert early["ALP"]["milestones"] == [] and early["BETA"]["milestones"] == []


def test_a_milestone_sets_the_scope_signal_when_the_project_is_within_its_thresholds(client, db, creeping):
    org, _ = creeping
    with db.write() as c:
        c.execute(sa.update(P).where(P.c.id == org.world.alp).values(risk_thresholds={"scope_amber": 0.8,
                                                                                       "scope_red": 1.2}))
    r = get_view(client, org, "risk", as_of=AS_OF)
    alp = by_name(r["groups"])["ALP"]
    s = alp["signals"]["scope_creep"]
    # The project: 0.75 ≤ 0.8, green; 1.1: 1.5 > 1.2, red — the signal is the worse of the two.
    assert (s["project_level"], s["milestones"][0]["level"], s["level"]) == ("green", "red", "red")
    assert "scope_creep" in alp["set_by"]
    assert r["total"]["signals"]["scope_creep"]["milestones"] == 2
    d = r["definitions"]["scope_creep"]
    for words in ("history", "baseline", "raised", "milestone", "worst"):
        assert words in d, words


def _more_changes(db: Database, org: Org, rows: list[tuple[Any, ...]], tasks: dict[str, dict[str, Any]]) -> None:
    """Change rows ``(task, id, field, old, new, when, origin, source)`` and task columns, as a sync
    would leave them."""
    w = org.world
    ids = _ids(db, w.org_id)
    with db.write() as c:
        c.execute(sa.insert(C), [
            {"org_id": w.org_id, "source_id": source, "task_external_id": task, "external_id": ext, "field": field,
             "from_value": old, "to_value": new, "changed_at": when, "origin": origin}
            for task, ext, field, old, new, when, origin, source in rows])
        for task, values in tasks.items():
            c.execute(sa.update(T).where(T.c.id == ids[task]).values(**values))
        rollups.rebuild(c, w.org_id)


def test_scope_creep_two_raises_and_a_task_out_of_its_milestone_and_back(client, db, creeping):
    """A2 (5 points at both baselines): 5 → 8 on 02-20 and 8 → 13 on 03-08; it left 1.1 on 02-20
    and came back on 03-03. As of 03-11: raised 5 → 13 (+8) beside A3's +1, and A2 is a baseline
    task of 1.1 again (only A1 removed); as of 03-01 (between the raises): +3, and A2 is removed."""
    org, _ = creeping
    j = org.world.jira
    _more_changes(db, org, [("A2", "x1", "points", "5", "8", at(2, 20), "changelog", j),
                            ("A2", "x2", "points", "8", "13", at(3, 8), "changelog", j),
                            ("A2", "y1", "milestone", "v2", None, at(2, 20), "changelog", j),
                            ("A2", "y2", "milestone", None, "v2", at(3, 3), "changelog", j)],
                  {"A2": {"estimate_points": 13, "remote_updated_at": at(3, 8)}})
    alp = _creep(client, org, AS_OF)["ALP"]
    assert (alp["baseline_estimate"], alp["raised_tasks"], alp["raised_estimate"]) == (15, 2, 9)
    assert [(t["key"], t["estimate_then"], t["estimate_now"]) for t in alp["raised"]] == [
        ("ALP-A2", 5, 13), ("ALP-A3", 4, 5)]
    [v2] = alp["milestones"]
    assert (v2["baseline_tasks"], v2["added_tasks"], v2["removed_tasks"], v2["raised_estimate"]) == (2, 3, 1, 8)
    early = _creep(client, org, "2026-03-01")["ALP"]
    assert (early["raised_tasks"], early["raised_estimate"]) == (1, 3)
    [v2] = early["milestones"]
    assert (v2["baseline_tasks"], v2["removed_tasks"]) == (2, 2)



def test_an_observed_copy_of_a_jira_estimate_change_is_not_a_second_change(client, db, creeping):
    """A2's points 5 → 8 on 02-01 10:00 (Jira's changelog), before ALP's baseline (the end of 02-02);
    the sync that first saw it ran after another edit on 02-05 and also wrote an observed row 5 → 8
    stamped 02-05. A2 had 8 at the baseline: 15 − 5 + 8 = 18, and only A3 raised (before: 15, A2
    'raised' 5 → 8 after the baseline)."""
    org, _ = creeping
    j = org.world.jira
    _more_changes(db, org, [("A2", "x1", "points", "5", "8", at(2, 1, 10), "changelog", j),
                            ("A2", "x2", "points", "5.0", "8.0", at(2, 5), "observed", j)],
                  {"A2": {"estimate_points": 8, "remote_updated_at": at(3, 8)}})
    alp = _creep(client, org, AS_OF)["ALP"]
    assert (alp["baseline_estimate"], alp["raised_tasks"], alp["raised_estimate"]) == (18, 1, 1)
    [v2] = alp["milestones"]  # its baseline (02-10) is after both rows: A2 had 8 then
    assert (v2["baseline_estimate"], v2["raised_tasks"]) == (13, 0)

def test_a_baselined_milestone_without_a_project_is_listed(client, db, creeping):
    """1.1 loses its project (deleted: SET NULL): its scope creep and milestone figures are listed in
    the group without a project, not dropped (before: no group showed them, while the total's
    overdue / at-risk counts, taken from every milestone, still counted it)."""
    org, _ = creeping
    M = Milestone.__table__
    with db.write() as c:
        c.execute(sa.update(M).where(M.c.id == (org.world.milestones or {})["v2"]).values(project_id=None))
    r = get_view(client, org, "risk", as_of=AS_OF)
    g = by_name(r["groups"])["(no project)"]
    [v2] = g["signals"]["scope_creep"]["milestones"]
    assert (v2["name"], v2["baseline_tasks"], v2["added_tasks"], v2["level"]) == ("1.1", 2, 3, "red")
    assert (g["signals"]["scope_creep"]["level"], g["signals"]["milestones"]["milestones"]) == ("red", 1)
    assert by_name(r["groups"])["ALP"]["signals"]["scope_creep"]["milestones"] == []


# An observed estimate change (a sync saw the task's estimate differ) records "the points, else the
# seconds" on each side without saying which (service/store/tasks.py, _observed_changes), and the
# scope part reads it in the unit the task has NOW: a task whose kind of estimate changed after the
# baseline gets the wrong unit then. Known, not fixed here: the record needs the unit (ingest).

def test_points_removed_after_the_baseline_as_a_sync_observed_it(client, db, creeping):
    """A2 had 5 points at ALP's baseline; a sync saw them go on 02-20 ('5.0' → none), a ``points``
    row as the store writes it (migration 0032). The baseline still holds 15 points (before 0032's
    rows named their unit: 10, and 5 *seconds* for A2)."""
    org, _ = creeping
    _more_changes(db, org, [("A2", "x1", "points", "5.0", None, at(2, 20), "observed", org.world.jira)],
                  {"A2": {"estimate_points": None, "remote_updated_at": at(3, 8)}})
    alp = _creep(client, org, AS_OF)["ALP"]
    assert (alp["estimate_unit"], alp["baseline_estimate"]) == ("points", 15)


def test_hours_then_points_on_a_trello_card_as_a_sync_observed_it(client, db, creeping):
    """C4 had 4 h at Beta launch's baseline (03-01 09:00) and no points; on 03-05 a points field
    was set (3), the hours kept: the sync observed a ``points`` row none → '3' (migration 0032; before,
    one 'estimate' row '14400' → '3' read as a baseline of 14400 *points*). No task had points at
    the baseline."""
    org, _ = creeping
    t = org.world.trello
    _more_changes(db, org, [("C4", "z1", "estimate", None, "14400", at(2, 20), "observed", t),
                            ("C4", "z2", "points", None, "3", at(3, 5), "observed", t)],
                  {"C4": {"estimate_points": 3, "estimate_seconds": 14400, "remote_updated_at": at(3, 5)}})
    [mc1] = _creep(client, org, AS_OF)["BETA"]["milestones"]
    assert (mc1["estimate_unit"], mc1["baseline_estimate"]) == ("points", 0)


# --- project moves: a Jira issue moved to another project, a Trello card to another board ----------
# Membership in a project is replayed from the ``project`` change rows the mappings write (from / to:
# the projects' external ids, also in from_id / to_id) as membership in a milestone is: the first
# move after an instant tells the project then; none, the project now.

def _project_moves(db: Database, org: Org, rows: list[tuple[Any, ...]], tasks: dict[str, dict[str, Any]],
                   *, ids: bool = True, names: dict[str, str] | None = None) -> None:
    """``project`` change rows ``(source, task, id, from project, to project, when)`` and task columns,
    as a sync would leave them; ``ids=False``: a row stored before moves were kept by id (Jira's
    display names, no from_id / to_id); ``names``: from / to hold these names of the projects
    (a row stored before, whose ids a history re-read set: ``store.history.rewrite_changes``)."""
    w = org.world
    task_ids = _ids(db, w.org_id)
    shown = names or {}
    with db.write() as c:
        c.execute(sa.insert(C), [
            {"org_id": w.org_id, "source_id": source, "task_external_id": task, "external_id": ext,
             "field": "project", "from_value": shown.get(old, old), "to_value": shown.get(new, new),
             "from_id": old if ids else None, "to_id": new if ids else None, "changed_at": when,
             "origin": "changelog"}
            for source, task, ext, old, new, when in rows])
        for task, values in tasks.items():
            c.execute(sa.update(T).where(T.c.id == task_ids[task]).values(**values))
        rollups.rebuild(c, w.org_id)


def _ops_planned(db: Database, org: Org) -> int:
    """OPS (Jira, external id 200) planned from 02-10: its baseline is the end of 02-10."""
    with db.write() as c:
        return c.execute(sa.update(P).where(P.c.source_id == org.world.jira, P.c.external_id == "200")
                         .values(planned_start=date(2026, 2, 10)).returning(P.c.id)).scalar_one()


def test_a_jira_issue_moved_to_another_project_after_the_baseline(client, db, creeping):
    """A2 (5 points, in ALP at its baseline, the end of 02-02) moved to OPS on 02-20 (ALP-A2 became an
    OPS issue: Jira's project item 100 → 200). As of 03-11 ALP shows it removed: baseline A1 A2 A3 A9
    (15 points), removed A9 and A2, added A4 A5 A6; OPS (baseline the end of 02-10, nothing then: O1
    was created on 03-01, A2 was in ALP) shows it added beside O1: 2 added, A2's 5 points (O1 has
    none). Before, A2 counted in OPS's baseline and not in ALP's (ALP 3 / removed 1, OPS 1 / added 1)."""
    org, ids = creeping
    ops = _ops_planned(db, org)
    _project_moves(db, org, [(org.world.jira, "A2", "h1:0", "100", "200", at(2, 20))], {"A2": {"project_id": ops}})
    g = _creep(client, org, AS_OF)
    alp, o = g["ALP"], g["OPS"]
    assert (alp["baseline_tasks"], alp["removed_tasks"], alp["added_tasks"], alp["baseline_estimate"]) == (4, 2, 3, 15)
    assert (o["baseline_tasks"], o["added_tasks"], o["removed_tasks"]) == (0, 2, 0)
    assert (o["estimate_unit"], o["added_estimate"], o["added_unestimated"]) == ("points", 5, 1)
    assert _keys(o["tasks"]) == ["OPS-1", "ALP-A2"]  # the newest added first
    # Before the move (as of 02-19) A2 is ALP's, and OPS had nothing.
    early = _creep(client, org, "2026-02-19")
    assert ("ALP-A2" not in _keys(early["OPS"]["tasks"]), early["OPS"]["added_tasks"]) == (True, 0)


def test_a_jira_issue_moved_out_and_back(client, db, creeping):
    """A3 (4 points then) moved ALP → OPS on 02-15 and back on 02-25. As of 03-11 nothing changed: ALP
    has it at both instants, OPS at neither (O1 alone added). As of 02-20, between the moves: ALP
    shows it removed and OPS added (4 points: its raise to 5 came on 03-05); before, A3 was ALP's at
    both instants and OPS showed nothing."""
    org, _ = creeping
    j = org.world.jira
    _ops_planned(db, org)
    before = _creep(client, org, "2026-02-20")["ALP"]
    _project_moves(db, org, [(j, "A3", "h2:0", "100", "200", at(2, 15)), (j, "A3", "h3:0", "200", "100", at(2, 25))],
                   {})
    g = _creep(client, org, AS_OF)
    assert (g["ALP"]["baseline_tasks"], g["ALP"]["removed_tasks"], g["ALP"]["added_tasks"]) == (4, 1, 3)
    assert (g["OPS"]["baseline_tasks"], g["OPS"]["added_tasks"], _keys(g["OPS"]["tasks"])) == (0, 1, ["OPS-1"])
    mid = _creep(client, org, "2026-02-20")
    assert (mid["ALP"]["baseline_tasks"], mid["ALP"]["removed_tasks"]) == (
        before["baseline_tasks"], before["removed_tasks"] + 1)
    assert (mid["OPS"]["baseline_tasks"], mid["OPS"]["added_tasks"], mid["OPS"]["added_estimate"]) == (0, 1, 4)
    assert _keys(mid["OPS"]["tasks"]) == ["ALP-A3"]


def test_a_trello_card_moved_to_another_board(client, db, creeping):
    """G1 (3 h, created 02-10) was on GAMMA (board b2, planned from 02-16) and moved to BETA (b1) on
    03-05 (moveCardToBoard: boardSource b2 → board b1). As of 03-11: GAMMA had it at its baseline and
    lost it (baseline 1, 3 h, removed 1); BETA (nothing at its baseline) has it added beside C1 C2 C3
    C4: 5 added. As of 03-04 it is GAMMA's at both instants and not BETA's. Before, G1 counted in
    BETA's baseline (1, none added of it) and GAMMA showed nothing."""
    org, _ = creeping
    w = org.world
    with db.write() as c:
        gamma = c.execute(sa.insert(P).values(org_id=w.org_id, source_id=w.trello, external_id="b2", key="GAMMA",
                                              name="GAMMA", planned_start=date(2026, 2, 16), created_at=at(1, 1))
                          .returning(P.c.id)).scalar_one()
        c.execute(sa.insert(T).values(
            org_id=w.org_id, source_id=w.trello, project_id=w.beta, external_id="G1", key="G1", title="Card G1",
            type="card", status="To Do", status_category="todo", estimate_seconds=3 * 3600,
            remote_created_at=at(2, 10), remote_updated_at=at(3, 5), synced_at=datetime.now(UTC)))
    _project_moves(db, org, [(w.trello, "G1", "a9:project", "b2", "b1", at(3, 5))], {})
    g = _creep(client, org, AS_OF)
    assert (g["GAMMA"]["baseline_tasks"], g["GAMMA"]["removed_tasks"], g["GAMMA"]["added_tasks"]) == (1, 1, 0)
    assert (g["GAMMA"]["estimate_unit"], g["GAMMA"]["baseline_estimate"]) == ("hours", 3)
    assert (g["BETA"]["baseline_tasks"], g["BETA"]["added_tasks"]) == (0, 5)
    assert "G1" in _keys(g["BETA"]["tasks"])
    early = _creep(client, org, "2026-03-04")
    assert (early["GAMMA"]["baseline_tasks"], early["GAMMA"]["removed_tasks"]) == (1, 0)
    assert "G1" not in _keys(early["BETA"]["tasks"]) and early["BETA"]["baseline_tasks"] == 0
    assert gamma


def test_a_move_stored_by_name_is_not_replayed(client, db, creeping):
    """A project row stored before moves were kept by id holds Jira's display names ("ALP" → "OPS")
    and no ids: it cannot be matched to a project, so the task counts in its project now at both
    instants (A5 in OPS's baseline, not in ALP), as the definition says."""
    org, _ = creeping
    ops = _ops_planned(db, org)
    _project_moves(db, org, [(org.world.jira, "A5", "h4:0", "ALP", "OPS", at(2, 20))], {"A5": {"project_id": ops}},
                   ids=False)
    g = _creep(client, org, AS_OF)
    assert (g["ALP"]["baseline_tasks"], g["ALP"]["added_tasks"], g["ALP"]["removed_tasks"]) == (4, 2, 1)
    assert (g["OPS"]["baseline_tasks"], g["OPS"]["added_tasks"]) == (1, 1)
    d = get_view(client, org, "risk", as_of=AS_OF)["definitions"]["scope_creep"]
    for words in ("moved", "project", "board"):
        assert words in d, words


def test_a_move_stored_by_name_whose_ids_a_history_re_read_set_is_replayed(client, db, creeping):
    """The move out and back of ``test_a_jira_issue_moved_out_and_back`` stored before moves were
    kept by id ("ALP" / "OPS" in from / to), then given the ids by a history re-read (which
    updates a stored row's from_id / to_id, not its values): replayed by the ids, the same figures
    (before, reading the names: A3 not in ALP at its baseline, 'added' there)."""
    org, _ = creeping
    j = org.world.jira
    _ops_planned(db, org)
    _project_moves(db, org, [(j, "A3", "h2:0", "100", "200", at(2, 15)), (j, "A3", "h3:0", "200", "100", at(2, 25))],
                   {}, names={"100": "ALP", "200": "OPS"})
    g = _creep(client, org, AS_OF)
    assert (g["ALP"]["baseline_tasks"], g["ALP"]["removed_tasks"], g["ALP"]["added_tasks"]) == (4, 1, 3)
    mid = _creep(client, org, "2026-02-20")
    assert (mid["OPS"]["added_tasks"], _keys(mid["OPS"]["tasks"])) == (1, ["ALP-A3"])
