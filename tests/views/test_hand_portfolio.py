"""Every figure of every view equals the hand computation (issue 5 §5), on both stores.

The portfolio is described in ``portfolio_data.py``. As of 2026-03-11 (a Wednesday,
end of day, UTC organization), the tasks in scope and their state are:

    ALP (points)  A1 done 02-12 (3 pts)  A2 done 03-04 (5)  A3 in progress (5)  A4 in progress (2)
                  A5 todo (no estimate, cost 80)  A6 in progress (5; done only on 03-12)
                  — out of scope: A7 epic, A8 created 03-12, A9 deleted 03-02
    BETA (hours)  C1 done 02-20 (10 h, cost 2000)  C2 in progress (6 h, cost 3000)
                  C3 todo (4 h, cost 1000)  C4 done 03-05 (no estimate)
                  — out of scope: MC1 milestone card, C5 archived

Worklogs (ALP): W1 Ann 02-10 4 h, W2 Ann 02-24 6 h, W3 Ann 03-02 5 h, W4 Bob 02-20 8 h,
W5 Bob 03-09 10 h, W6 Ann 03-10 2 h; W7 (03-12) is after as_of, W8 deleted 03-05.
Rates: Ann 100/h until 02-28, 120/h from 03-01; Bob none → ALP's 60/h.
"""

from __future__ import annotations

import pytest

from tests.views.conftest import Org, by_name, get_view

AS_OF = "2026-03-11"


# Every test here only reads the portfolio (GET views): it is built once per store for the module
# instead of once per test (36 builds and apps were ~2/3 of the file's time).
@pytest.fixture(scope="module")
def world(shared_world: Org) -> Org:
    return shared_world


@pytest.fixture(scope="module")
def client(shared_client):
    return shared_client


def test_progress_total_and_per_project(client, world):
    r = get_view(client, world, "progress", as_of=AS_OF, group_by="project")
    t = r["total"]
    assert (t["scope"], t["done"], t["in_progress"], t["todo"]) == (10, 4, 4, 2)  # 6 ALP + 4 BETA
    assert t["percent_complete_count"] == 0.4  # 4 / 10
    # The selection uses points (ALP): A1 3 + A2 5 + A3 5 + A4 2 + A6 5 = 20 estimated, done 3 +
    # 5 = 8.
    assert t["estimate_unit"] == "points"
    assert (t["estimate_total"], t["estimate_done"], t["estimated"], t["unestimated"]) == (
        20,
        8,
        5,
        5,
    )
    assert t["percent_complete_estimate"] == 0.4  # 8 / 20
    assert t["unestimated_share"] == 0.5  # A5 + the four BETA cards have no points: 5 / 10
    # Time tracking (A1..A4): spent 4 + 11 + 18 + 2 = 35 h; remaining 0 + 0 + 6 + 8 = 14 h.
    assert (t["spent_seconds"], t["remaining_seconds"], t["time_tracked"]) == (
        35 * 3600,
        14 * 3600,
        4,
    )
    # METRICS (issue 20): percent_complete_time only when every open task has a remaining figure
    # (or an hour estimate standing in). Was 0.7143 (35 / 49). Open at as_of: A3, A4 (remaining
    # 6 h, 8 h), A5, A6 (points only: no remaining, no hour estimate), C2, C3 (hour estimates 6 h +
    # 4 h stand in) → 2 of 6 open tasks without one: null.
    assert t["percent_complete_time"] is None
    assert (t["open_without_remaining"], t["open_without_remaining_share"]) == (2, 0.3333)
    assert t["remaining_stand_in_seconds"] == 10 * 3600  # C2 6 h + C3 4 h
    assert t["reasons"] == {
        "percent_complete_time": "2 of 6 open tasks (33%) have no remaining time and no original "
        "estimate to stand in for it"
    }

    g = by_name(r["groups"])
    alp, beta = g["ALP"], g["BETA"]
    assert (alp["scope"], alp["done"], alp["in_progress"], alp["todo"]) == (6, 2, 3, 1)
    assert alp["percent_complete_count"] == 0.3333  # 2 / 6
    assert alp["percent_complete_estimate"] == 0.4  # 8 / 20
    assert alp["unestimated_share"] == 0.1667  # A5: 1 / 6
    # METRICS (issue 20), was 0.7143: A5 and A6 have no remaining figure: 2 of ALP's 4 open tasks.
    assert alp["percent_complete_time"] is None and alp["open_without_remaining"] == 2
    assert "2 of 4 open tasks (50%)" in alp["reasons"]["percent_complete_time"]
    assert (beta["scope"], beta["done"], beta["in_progress"], beta["todo"]) == (4, 2, 1, 1)
    assert beta["estimate_unit"] == "seconds"  # no points on the board: its hour estimates
    assert (beta["estimate_total"], beta["estimate_done"]) == (
        20 * 3600,
        10 * 3600,
    )  # C1 10 + C2 6 + C3 4; C1
    assert beta["percent_complete_estimate"] == 0.5  # 10 / 20
    assert beta["unestimated_share"] == 0.25  # C4: 1 / 4
    assert beta["percent_complete_count"] == 0.5  # 2 / 4
    assert beta["percent_complete_time"] is None
    assert "time tracking" in beta["reasons"]["percent_complete_time"]


def test_progress_series_burnup_and_weekly_throughput(client, world):
    s = get_view(client, world, "progress", as_of=AS_OF)["series"]
    burnup = {p["date"]: (p["scope"], p["done"]) for p in s["burnup"]}
    assert len(s["burnup"]) == 38  # 2026-02-02 (first creation) .. 03-11: 27 + 11 days
    assert burnup["2026-02-02"] == (3, 0)  # A1, A2, A3 created
    assert burnup["2026-02-03"] == (4, 0)  # + A5
    assert burnup["2026-02-12"] == (4, 1)  # A1 done
    assert burnup["2026-02-16"] == (6, 1)  # + A4, A6
    assert burnup["2026-02-20"] == (8, 2)  # + C1 (02-17), C4 (02-18); C1 done
    assert burnup["2026-03-05"] == (9, 4)  # + C2 (03-03); A2 (03-04), C4 (03-05) done
    assert burnup["2026-03-11"] == (10, 4)  # + C3 (03-09)
    assert [(w["week"], w["done"]) for w in s["throughput"]] == [
        ("2026-W06", 0),
        ("2026-W07", 1),
        ("2026-W08", 1),
        ("2026-W09", 0),
        ("2026-W10", 2),
        ("2026-W11", 0),
    ]  # A1 02-12; C1 02-20; A2 03-04 + C4 03-05


def test_budget_per_project_and_rolled_up(client, world):
    r = get_view(client, world, "budget", as_of=AS_OF, group_by="project")
    g = by_name(r["groups"])
    alp = g["ALP"]
    # AC: W1 4h×100 + W2 6h×100 + W3 5h×120 (Ann's new rate from 03-01) + W6 2h×120 = 1840 (Ann)
    #     + W4 8h×60 + W5 10h×60 = 1080 (Bob, project rate) → 2920 labour; + A5's direct cost 80
    # = 3000.
    assert (alp["bac"], alp["ac"], alp["ac_labour"], alp["ac_direct"], alp["hours"]) == (
        20000,
        3000,
        2920,
        80,
        35,
    )
    assert alp["consumed_share"] == 0.15  # 3000 / 20000
    assert (alp["percent_complete"], alp["percent_complete_basis"]) == (
        0.4,
        "estimate",
    )  # 8 / 20 points
    # Trailing 4 weeks = 02-12..03-11: W2 600 + W3 600 + W4 480 + W5 600 + W6 240 = 2520 → 630 /
    # week.
    assert alp["burn_rate_per_week"] == 630
    assert alp["planned_rate_per_week"] == 2500  # 20000 / (40 working days / 5)
    assert alp["runway_weeks"] == 26.98  # (20000 − 3000) / 630 = 26.984
    assert alp["exhaustion_date"] == "2026-09-15"  # 03-11 + floor(26.984 × 7 = 188.9) = 188 days
    assert alp["exhaustion_before_planned_end"] is False  # planned_end 03-27
    # PV: 28 of 40 working days elapsed (02-02..03-06 = 25, + 03-09, 10, 11) → 20000 × 28/40.
    assert alp["pv"] == 14000
    assert alp["ev"] == 8000  # 20000 × 0.4
    assert (alp["cv"], alp["sv"]) == (5000, -6000)  # 8000 − 3000; 8000 − 14000
    assert (alp["cpi"], alp["spi"]) == (2.6667, 0.5714)  # 8000/3000; 8000/14000
    assert (alp["eac"], alp["eac_atypical"]) == (7500, 15000)  # 20000/(8/3); 3000 + (20000 − 8000)
    assert (alp["etc"], alp["vac"]) == (4500, 12500)  # 7500 − 3000; 20000 − 7500
    assert alp["tcpi"] == 0.7059  # (20000 − 8000) / (20000 − 3000)

    beta = g["BETA"]
    # No worklogs on the board; direct costs C1 2000 + C2 3000 + C3 1000, all created in the window.
    assert (beta["bac"], beta["ac"], beta["ac_labour"], beta["ac_direct"]) == (10000, 6000, 0, 6000)
    assert beta["consumed_share"] == 0.6
    assert (beta["percent_complete"], beta["percent_complete_basis"]) == (
        0.5,
        "estimate",
    )  # 10 / 20 hours
    assert beta["burn_rate_per_week"] == 1500  # 6000 / 4
    assert beta["planned_rate_per_week"] == 1250  # 10000 / 8 weeks
    assert beta["runway_weeks"] == 2.67  # 4000 / 1500
    assert beta["exhaustion_date"] == "2026-03-29"  # 03-11 + floor(18.67) days
    assert beta["exhaustion_before_planned_end"] is True  # before 04-10: flagged
    assert (beta["pv"], beta["ev"]) == (4500, 5000)  # 10000 × 18/40 (02-16..03-11); 10000 × 0.5
    assert (beta["cv"], beta["sv"], beta["cpi"], beta["spi"]) == (-1000, 500, 0.8333, 1.1111)
    assert (beta["eac"], beta["eac_atypical"], beta["etc"], beta["vac"]) == (
        12000,
        11000,
        6000,
        -2000,
    )
    assert beta["tcpi"] == 1.25  # 5000 / 4000

    t = r["total"]
    assert (t["projects"], t["bac"], t["ac"], t["pv"], t["ev"]) == (2, 30000, 9000, 18500, 13000)
    assert t["consumed_share"] == 0.3  # 9000 / 30000
    assert (t["percent_complete"], t["percent_complete_basis"]) == (
        0.4333,
        "ev/bac",
    )  # 13000 / 30000
    assert (t["burn_rate_per_week"], t["planned_rate_per_week"]) == (2130, 3750)
    assert (t["runway_weeks"], t["exhaustion_date"]) == (
        9.86,
        "2026-05-19",
    )  # 21000/2130 = 9.859 → 69 days
    assert t["exhaustion_before_planned_end"] is False  # the latest planned end is 04-10
    assert (t["cv"], t["sv"], t["cpi"], t["spi"]) == (
        4000,
        -5500,
        1.4444,
        0.7027,
    )  # 13000/9000; 13000/18500
    assert (t["eac"], t["eac_atypical"]) == (20769.23, 26000)  # 30000 / 1.4444; 9000 + 17000
    assert (t["etc"], t["vac"], t["tcpi"]) == (11769.23, 9230.77, 0.8095)  # 17000 / 21000
    # METRICS (issue 20): TCPI(EAC) is the figure only once AC ≥ BAC; here it is null with a reason.
    assert t["reasons"] == {"tcpi_eac": "the budget is not exhausted (AC < BAC): TCPI(BAC) is the figure"}


def test_budget_cost_series_against_budget_line(client, world):
    series = get_view(client, world, "budget", as_of=AS_OF)["series"]["cost"]
    pts = {p["date"]: p for p in series}
    assert series[0]["date"] == "2026-02-02" and series[-1]["date"] == AS_OF  # from ALP's planned start
    assert pts["2026-02-02"] == {
        "date": "2026-02-02",
        "ac": 0,
        "budget": 30000,
        "pv": 500,
    }  # 20000/40
    assert pts["2026-02-03"]["ac"] == 80  # A5's direct cost (created 02-03)
    assert pts["2026-02-10"]["ac"] == 480  # + W1 400
    assert pts["2026-02-17"]["ac"] == 2480  # + C1 2000 (created 02-17)
    assert pts["2026-02-17"]["pv"] == 6500  # ALP 12 working days × 500 + BETA 2 (02-16, 02-17) × 250
    assert pts[AS_OF]["ac"] == 9000 and pts[AS_OF]["pv"] == 18500


def test_budget_by_person_has_costs_but_no_budget(client, world):
    r = get_view(client, world, "budget", as_of=AS_OF, group_by="person")
    g = by_name(r["groups"])
    assert (g["Ann"]["ac"], g["Ann"]["hours"], g["Ann"]["burn_rate_per_week"]) == (
        1840,
        17,
        360,
    )  # 1440 / 4
    assert (g["Bob"]["ac"], g["Bob"]["hours"], g["Bob"]["burn_rate_per_week"]) == (1080, 18, 270)
    assert g["Ann"]["bac"] is None and "per project" in g["Ann"]["reasons"]["bac"]
    assert set(g) == {"Ann", "Bob"}


def test_milestones_overdue_at_risk_slip(client, world):
    r = get_view(client, world, "milestones", as_of=AS_OF)
    ms = {m["name"]: m for m in r["milestones"]}
    v0, v1, v2, beta = ms["0.9"], ms["1.0"], ms["1.1"], ms["Beta launch"]
    assert (v0["status"], v0["completed"], v0["overdue"]) == ("done", True, False)  # released 02-27
    assert v0["percent_complete"] is None and v0["reasons"]["percent_complete"]
    # 1.0: due 03-08, open → overdue by 03-11 − 03-08 = 3 days; A1 done, A3 open.
    assert (v1["status"], v1["overdue"], v1["days_overdue"]) == ("overdue", True, 3)
    assert (v1["open"], v1["done"], v1["percent_complete"], v1["slip_days"]) == (1, 1, 0.5, 0)
    # 1.1: due moved 03-20 → 03-25: slip 5. A2 done in the window → 1/4 per week; A4 and A6 open:
    # forecast 03-11 + ceil(2 / 0.25 × 7) = 56 days = 05-06 > 03-25 → at risk.
    assert (v2["status"], v2["at_risk"], v2["slip_days"], v2["baseline_due_date"]) == (
        "at_risk",
        True,
        5,
        "2026-03-20",
    )
    assert (v2["open"], v2["done"], v2["percent_complete"]) == (2, 1, 0.3333)
    assert (v2["throughput_per_week"], v2["forecast_finish"], v2["days_overdue"]) == (
        0.25,
        "2026-05-06",
        None,
    )
    # Beta launch (Trello milestone card): C1 and C4 done in the window → 0.5 per week; C2 open:
    # forecast 03-11 + 14 days = 03-25 ≤ 04-01 → on track.
    assert (beta["status"], beta["at_risk"], beta["overdue"]) == ("on_track", False, False)
    assert (beta["open"], beta["done"], beta["percent_complete"], beta["forecast_finish"]) == (
        1,
        2,
        0.6667,
        "2026-03-25",
    )
    assert [m["name"] for m in r["overdue"]] == ["1.0"] and r["overdue"][0]["days_overdue"] == 3
    assert [m["name"] for m in r["at_risk"]] == ["1.1"]
    t = r["total"]
    assert (t["milestones"], t["completed"], t["overdue"], t["at_risk"]) == (4, 1, 1, 1)
    assert (t["open_tasks"], t["done_tasks"], t["percent_complete"]) == (
        4,
        4,
        0.5,
    )  # 1+2+1 open, 1+1+2 done


def test_flow_lead_cycle_wip_throughput(client, world):
    r = get_view(client, world, "flow", as_of=AS_OF, group_by="project")
    t = r["total"]
    # Lead (done − created): A1 10 d, A2 30 d, C1 3 d, C4 15 d → [3, 10, 15, 30]
    # p50 = 10 + 0.5 × 5 = 12.5; p85: rank 2.55 → 15 + 0.55 × 15 = 23.25; p95: 15 + 0.85 × 15 =
    # 27.75.
    assert t["lead_time_days"] == {"count": 4, "p50": 12.5, "p85": 23.25, "p95": 27.75}
    # Cycle (done − first in progress): A1 3 d, A2 9 d, C1 2 d; C4 went straight to done → excluded.
    # [2, 3, 9]: p50 3; p85: rank 1.7 → 3 + 0.7 × 6 = 7.2; p95: 3 + 0.9 × 6 = 8.4.
    assert t["cycle_time_days"] == {"count": 3, "p50": 3.0, "p85": 7.2, "p95": 8.4, "excluded": 1}
    assert t["wip"] == 4  # A3, A4, A6, C2
    assert t["throughput_per_week"] == 1.0  # A1 (02-12, first day of the window), C1, A2, C4 → 4 / 4
    g = by_name(r["groups"])
    assert g["ALP"]["lead_time_days"] == {
        "count": 2,
        "p50": 20.0,
        "p85": 27.0,
        "p95": 29.0,
    }  # [10, 30]
    assert g["ALP"]["cycle_time_days"] == {
        "count": 2,
        "p50": 6.0,
        "p85": 8.1,
        "p95": 8.7,
        "excluded": 0,
    }  # [3, 9]
    assert g["BETA"]["lead_time_days"] == {
        "count": 2,
        "p50": 9.0,
        "p85": 13.2,
        "p95": 14.4,
    }  # [3, 15]
    assert g["BETA"]["cycle_time_days"] == {
        "count": 1,
        "p50": 2.0,
        "p85": 2.0,
        "p95": 2.0,
        "excluded": 1,
    }
    assert (g["ALP"]["wip"], g["BETA"]["wip"]) == (3, 1)
    assert [(w["week"], w["done"]) for w in r["series"]["throughput"]][-2:] == [
        ("2026-W10", 2),
        ("2026-W11", 0),
    ]


def test_workload_per_person_across_tools(client, world):
    r = get_view(client, world, "workload", as_of=AS_OF)
    p = {x["person"]["name"]: x for x in r["people"]}
    # Ann: A4 (Jira, 2 pts, due 03-10: overdue) and C2 (Trello as m-ann, linked by email, 6 h).
    # Hours this week (Mon 03-09..): W6 2 h (W3 was 03-02; W7 is after as_of).
    assert p["Ann"] | {"person": None} == {
        "person": None,
        "open_tasks": 2,
        "open_estimate_points": 2,
        "open_estimate_hours": 6,
        "overdue_tasks": 1,
        "hours_this_week": 2,
        "reasons": {},
    }
    # Bob: A3 (5 pts, due 03-11 = today: not overdue) and A6 (5 pts); W5 10 h on Monday 03-09.
    assert (
        p["Bob"]["open_tasks"],
        p["Bob"]["open_estimate_points"],
        p["Bob"]["overdue_tasks"],
        p["Bob"]["hours_this_week"],
    ) == (2, 10, 0, 10)
    # Cy: C3 (4 h, due 03-10: overdue).
    assert (p["Cy"]["open_tasks"], p["Cy"]["open_estimate_hours"], p["Cy"]["overdue_tasks"]) == (
        1,
        4,
        1,
    )
    assert p["(unassigned)"]["open_tasks"] == 1  # A5
    t = r["total"]
    assert (t["open_tasks"], t["open_estimate_points"], t["open_estimate_hours"]) == (6, 12, 10)
    assert (t["overdue_tasks"], t["hours_this_week"]) == (2, 12)


@pytest.mark.parametrize("name", ["progress", "budget", "milestones", "flow", "workload"])
def test_every_view_states_its_definitions_and_parameters(client, world, name):
    r = get_view(client, world, name, as_of=AS_OF, portfolio=world.world.portfolio)
    d = r["definitions"]
    assert d["as_of_date"] == AS_OF and d["timezone"] == "UTC"
    assert d["as_of"].startswith("2026-03-11T23:59:59.999999")
    assert "status_category is done" in d["done_rule"]
    assert r["parameters"] == {
        "portfolio": world.world.portfolio,
        "project": None,
        "source": None,
        "assignee": None,
        "group_by": None,
        "as_of": AS_OF,
    }
    if name == "budget":
        assert "effective" in d["rate_source"] and d["currency"] == "USD"
    if name == "progress":
        assert "points" in d["estimate_unit"]


@pytest.mark.parametrize("view", ["progress", "budget", "milestones", "flow", "workload"])
def test_grouping_never_changes_the_total(client, world, view):
    """The grouped queries compute the total in the same pass where groups partition the tasks
    (and apart where they overlap): each grouping's total is the ungrouped one."""
    plain = get_view(client, world, view, as_of=AS_OF)
    for group_by in ("project", "source", "milestone", "person"):
        grouped = get_view(client, world, view, as_of=AS_OF, group_by=group_by)
        assert grouped["total"] == plain["total"], group_by
        assert grouped.get("series") == plain.get("series"), group_by
