"""Issue 20 (METRICS.md, sharpened): ``as_of`` after today in the organization's time zone is
refused (422, in the API and on the dashboard), and the workload response states why its
per-person rows can sum to more than its total. Both stores (the ``db`` fixture)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mappings.model import MilestoneRef
from service import store
from service.timerange import AsOfAfterToday
from service.views import ViewParams, compute_view
from service.views.selection import org_today
from tests.dashboard.world import sign_in
from tests.views.conftest import tokens_for
from tests.views.portfolio_data import ANN_J, BOB, DONE, TODO, _jira, _version, at, build, make_world

# 2026-03-11 12:00 UTC is 2026-03-12 01:00 in Auckland (UTC+13 in March): "today" there is the 12th.
NOW = datetime(2026, 3, 11, 12, tzinfo=UTC)


def test_as_of_after_today_in_the_organizations_zone_is_refused(db):
    w = make_world(db, timezone="Pacific/Auckland")
    ok = [
        None,
        date(2026, 3, 12),  # today in Auckland, though the 11th in UTC: accepted
        datetime(2026, 3, 12, 10, 59, tzinfo=UTC),  # 23:59 on the 12th in Auckland
        datetime(2026, 3, 12, 23, 0),  # no zone: the organization's, 23:00 on the 12th
    ]
    for as_of in ok:
        r = compute_view(db, w.org_id, "budget", ViewParams(as_of=as_of), now=NOW)
        assert r["definitions"]["as_of_date"] <= "2026-03-12", as_of
    refused = [
        date(2026, 3, 13),  # tomorrow in Auckland
        datetime(2026, 3, 12, 11, 0, tzinfo=UTC),  # 00:00 on the 13th in Auckland
        date(2030, 1, 1),  # the example (PV = BAC, SV = -490,746 before)
    ]
    for as_of in refused:
        with pytest.raises(AsOfAfterToday) as exc:
            compute_view(db, w.org_id, "budget", ViewParams(as_of=as_of), now=NOW)
        assert "after today (2026-03-12 in Pacific/Auckland)" in exc.value.message, as_of
        assert exc.value.kind == "after_today"


def test_api_refuses_as_of_after_today_with_a_422_naming_the_rule(client, db):
    w = build(db, timezone="Pacific/Auckland")
    h = {"Authorization": f"Bearer {tokens_for(db, w.org_id)['read']}"}
    today = org_today(ZoneInfo("Pacific/Auckland"))
    for name in ("progress", "budget", "milestones", "flow", "workload"):
        for value in ("2030-01-01", (today + timedelta(days=1)).isoformat()):
            r = client.get(f"/api/v1/views/{name}", params={"as_of": value}, headers=h)
            assert r.status_code == 422, (name, value, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            body = r.json()
            err = body["errors"][0]
            assert err["field"] == "query.as_of" and err["type"] == "as_of_after_today", err
            assert "after today" in body["detail"] and "organization's time zone" in body["detail"]
            assert "Pacific/Auckland" in err["message"]
        # Today itself (the end of the day, later than now) is answered.
        r = client.get(f"/api/v1/views/{name}", params={"as_of": today.isoformat()}, headers=h)
        assert r.status_code == 200, (name, r.text)


def test_dashboard_refuses_as_of_after_today(client, db):
    w = build(db)
    sign_in(client, tokens_for(db, w.org_id)["read"])
    today = org_today(ZoneInfo("UTC"))
    for page in ["/", "/milestones", "/people", f"/projects/{w.alp}"]:
        for value in ("2030-01-01", (today + timedelta(days=1)).isoformat()):
            r = client.get(page, params={"as_of": value})
            assert r.status_code == 422 and "after today" in r.text, (page, value, r.status_code)
        assert client.get(page, params={"as_of": today.isoformat()}).status_code == 200, page


def test_workload_rows_sum_past_the_total_and_the_definitions_say_why(db):
    """Hand-computed: task 1 (Ann and Bob), task 2 (Bob), task 3 done. Rows: Ann 1 + Bob 2 = 3
    open tasks; the total counts task 1 once: 2. Points: rows 3 + 5 = 8, total 5."""
    w = make_world(db)
    shared = _jira("1", at(2, 2), at(2, 2), TODO, points=3)
    shared = shared.model_copy(update={"task": shared.task.model_copy(update={
        "assignees": [ANN_J, BOB], "milestones": [MilestoneRef(external_id="m1")]})})
    with db.write() as c:
        store.apply_effects(c, w.org_id, w.jira, [
            _version("m1", "1.0", date(2026, 4, 1), at(2, 2)),
            shared,
            _jira("2", at(2, 2), at(2, 2), TODO, points=2, who=BOB),
            _jira("3", at(2, 2), at(2, 2), DONE, points=8, who=BOB),
        ])
    r = compute_view(db, w.org_id, "workload", ViewParams(), now=NOW)
    rows = {p["person"]["name"]: p for p in r["people"]}
    assert {n: p["open_tasks"] for n, p in rows.items()} == {"Ann": 1, "Bob": 2}
    assert sum(p["open_tasks"] for p in rows.values()) == 3
    assert sum(p["open_estimate_points"] for p in rows.values()) == 8
    assert (r["total"]["open_tasks"], r["total"]["open_estimate_points"]) == (2, 5)
    d = r["definitions"]
    assert "a task with several assignees counts once for each" in d["assignees"]
    assert "sum to more than the total" in d["assignees"]
    assert "counted once, however many assignees it has" in d["total"]
