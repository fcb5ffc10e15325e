"""Edge cases: nothing estimated, AC = 0, no budget, "today" in a non-UTC organization,
rate fallbacks, profiles that keep archived cards."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa

from mappings.model import MilestoneRef
from service import store
from service.portfolio import people
from service.portfolio.schemas import RateCreate
from service.tables import Organization, Project, Source
from service.views import ViewParams, compute_view
from tests.views.portfolio_data import (
    ANN_J,
    BOB,
    DONE,
    TODO,
    WIP,
    _jira,
    _moves,
    _version,
    _wl,
    at,
    make_world,
)

P = Project.__table__


def _project(db, org_id: int, **values) -> int:
    with db.write() as c:
        pid = c.execute(sa.select(P.c.id).where(P.c.org_id == org_id, P.c.external_id == "100")).scalar_one()
        if values:
            c.execute(sa.update(P).where(P.c.id == pid).values(**values))
    return pid


def _tasks(db, w, *upserts) -> None:
    with db.write() as c:
        store.upsert_tasks(c, w.org_id, w.jira, list(upserts))


def test_nothing_estimated_falls_back_to_count_and_says_so(db):
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 5), DONE, changes=_moves("1", (TODO, DONE, at(2, 5)))),
        _jira("2", at(2, 2), at(2, 2), TODO),
        _jira("3", at(2, 2), at(2, 2), TODO),
        _jira("4", at(2, 2), at(2, 2), TODO),
    )
    _project(
        db,
        w.org_id,
        budget_amount=Decimal("1000"),
        budget_currency="USD",
        planned_start=date(2026, 2, 2),
        planned_end=date(2026, 2, 27),
    )
    p = compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 2, 10)))["total"]
    assert p["estimate_unit"] is None and p["estimated"] == 0 and p["unestimated_share"] == 1.0
    assert p["percent_complete_estimate"] is None
    assert "nothing in scope is estimated" in p["reasons"]["percent_complete_estimate"]
    assert p["percent_complete_count"] == 0.25
    b = compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 10)))["total"]
    assert (b["percent_complete"], b["percent_complete_basis"], b["ev"]) == (
        0.25,
        "count",
        250,
    )  # EV by count


def test_ac_zero_gives_null_ratios_with_reasons(db):
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 5), DONE, points=2, changes=_moves("1", (TODO, DONE, at(2, 5)))),
        _jira("2", at(2, 2), at(2, 2), TODO, points=2),
    )
    _project(
        db,
        w.org_id,
        budget_amount=Decimal("1000"),
        budget_currency="USD",
        planned_start=date(2026, 2, 2),
        planned_end=date(2026, 2, 27),
    )
    b = compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))["total"]
    assert (b["ac"], b["consumed_share"], b["burn_rate_per_week"]) == (0, 0, 0)
    assert (b["pv"], b["ev"], b["cv"], b["sv"]) == (500, 500, 500, 0)  # 10 of 20 working days; 50 %
    assert b["cpi"] is None and "AC is 0" in b["reasons"]["cpi"]
    assert b["eac"] is None and b["etc"] is None and b["vac"] is None and "CPI" in b["reasons"]["eac"]
    assert b["spi"] == 1.0 and b["tcpi"] == 0.5  # (1000 − 500) / (1000 − 0)
    assert b["runway_weeks"] is None and "burn rate 0" in b["reasons"]["runway_weeks"]
    assert b["exhaustion_date"] is None and b["exhaustion_before_planned_end"] is None


def test_no_budget_makes_budget_figures_null_with_reasons(db):
    w = make_world(db)
    _tasks(db, w, _jira("1", at(2, 2), at(2, 2), TODO, points=2, who=BOB))
    with db.write() as c:
        store.upsert_worklogs(c, w.org_id, w.jira, [_wl("w1", "1", BOB, at(2, 3), 2)])
    _project(db, w.org_id, hourly_rate=Decimal("50"))
    b = compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))["total"]
    assert (b["bac"], b["ac"], b["burn_rate_per_week"]) == (None, 100, 25)  # 2 h × 50
    for name in (
        "bac",
        "consumed_share",
        "pv",
        "ev",
        "cv",
        "sv",
        "cpi",
        "spi",
        "eac",
        "etc",
        "vac",
        "tcpi",
        "runway_weeks",
        "planned_rate_per_week",
    ):
        assert b[name] is None, name
        assert b["reasons"][name], name
    assert "no budget" in b["reasons"]["bac"]


def test_a_group_with_one_unbudgeted_project_has_no_bac(client, world, db):
    with db.write() as c:
        c.execute(sa.update(P).where(P.c.id == world.world.beta).values(budget_amount=None, budget_currency=None))
    r = client.get(
        "/api/v1/views/budget",
        params={"as_of": "2026-03-11", "group_by": "project"},
        headers=world.h(),
    ).json()
    assert r["total"]["bac"] is None and r["total"]["reasons"]["bac"] == "1 of 2 projects have no budget (BAC)"
    assert r["total"]["ac"] == 9000  # costs still add up
    alp = next(g for g in r["groups"] if g["group"]["name"] == "ALP")
    assert alp["bac"] == 20000 and alp["cpi"] == 2.6667


def test_budget_in_another_currency_is_not_compared_with_costs(db):
    w = make_world(db)
    _tasks(db, w, _jira("1", at(2, 2), at(2, 2), TODO, points=2))
    _project(db, w.org_id, budget_amount=Decimal("1000"), budget_currency="EUR")
    b = compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))["total"]
    assert b["bac"] is None and "EUR" in b["reasons"]["bac"] and "USD" in b["reasons"]["bac"]


def test_rate_falls_back_to_project_then_org_default_else_unrated(db):
    w = make_world(db)  # org default 40
    _tasks(db, w, _jira("1", at(2, 2), at(2, 2), TODO, who=BOB))
    with db.write() as c:
        store.upsert_worklogs(c, w.org_id, w.jira, [_wl("w1", "1", BOB, at(2, 3), 3)])
    assert compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))["total"]["ac"] == 120  # 3 × 40
    _project(db, w.org_id, hourly_rate=Decimal("70"))
    assert compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))["total"]["ac"] == 210  # 3 × 70
    with db.write() as c:
        c.execute(sa.update(P).values(hourly_rate=None))
        c.execute(sa.update(Organization.__table__).values(default_hourly_rate=None))
    b = compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))["total"]
    assert (b["ac"], b["hours"], b["unrated_hours"]) == (0, 3, 3)
    assert "not in AC" in b["reasons"]["unrated_hours"]


def test_a_rate_takes_effect_on_the_local_date_of_the_worklog(db):
    """A worklog at 23:30 UTC on 02-28 is 03-01 in Auckland: the rate from 03-01 applies."""
    w = make_world(db, timezone="Pacific/Auckland")
    _tasks(db, w, _jira("1", at(2, 2), at(2, 2), TODO, who=BOB))
    with db.write() as c:
        store.upsert_worklogs(c, w.org_id, w.jira, [_wl("w1", "1", BOB, datetime(2026, 2, 28, 23, 30, tzinfo=UTC), 1)])
        pid = c.execute(sa.text("SELECT person_id FROM worklog")).scalar_one()
    with db.session() as s:  # the API's write path
        for day, rate in ((date(2026, 1, 1), 100), (date(2026, 3, 1), 120)):
            people.add_rate(s, w.org_id, pid, RateCreate(effective_from=day, hourly_rate=Decimal(rate)))
        s.commit()
    assert compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 3, 5)))["total"]["ac"] == 120


def _milestones(db, w) -> None:
    with db.write() as c:
        store.upsert_milestones(
            c,
            w.org_id,
            w.jira,
            [
                _version("due-yesterday", "yesterday", date(2026, 3, 10), at(2, 1)),
                _version("due-today", "today", date(2026, 3, 11), at(2, 1)),
            ],
        )
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 2), TODO, who=BOB, ms="due-today", due_date=date(2026, 3, 11)),
        _jira("2", at(2, 2), at(2, 2), TODO, who=BOB, ms="due-yesterday", due_date=date(2026, 3, 10)),
    )


def test_due_date_exactly_today_in_auckland_is_not_overdue(client, make_org):
    org = make_org("kiwi", "Pacific/Auckland", full=False)
    _milestones(client.app.state.db, org.world)
    # 2026-03-10 20:00 UTC is 2026-03-11 09:00 in Auckland (UTC+13): today is 03-11 there,
    # while the UTC date is still 03-10.
    r = client.get("/api/v1/views/milestones", params={"as_of": "2026-03-10T20:00:00Z"}, headers=org.h()).json()
    assert r["definitions"]["as_of_date"] == "2026-03-11" and r["definitions"]["timezone"] == "Pacific/Auckland"
    ms = {m["name"]: m for m in r["milestones"]}
    assert (ms["today"]["overdue"], ms["today"]["days_overdue"], ms["today"]["status"]) == (
        False,
        None,
        "unknown",
    )
    assert (ms["yesterday"]["overdue"], ms["yesterday"]["days_overdue"]) == (True, 1)
    wl = client.get("/api/v1/views/workload", params={"as_of": "2026-03-10T20:00:00Z"}, headers=org.h()).json()
    assert wl["total"]["overdue_tasks"] == 1  # task 2 (due 03-10); task 1 is due today


def test_due_date_today_in_los_angeles_while_utc_is_already_tomorrow(client, make_org):
    org = make_org("coast", "America/Los_Angeles", full=False)
    _milestones(client.app.state.db, org.world)
    # 2026-03-11 05:00 UTC is 2026-03-10 22:00 PDT (DST began 03-08): today is 03-10 in LA.
    r = client.get("/api/v1/views/milestones", params={"as_of": "2026-03-11T05:00:00Z"}, headers=org.h()).json()
    assert r["definitions"]["as_of_date"] == "2026-03-10"
    ms = {m["name"]: m for m in r["milestones"]}
    assert ms["yesterday"]["overdue"] is False and ms["yesterday"]["days_overdue"] is None  # due today in LA
    assert r["total"]["overdue"] == 0
    # A date as_of is the end of that day in the organization's time zone.
    d = client.get("/api/v1/views/milestones", params={"as_of": "2026-03-11"}, headers=org.h()).json()
    assert d["definitions"]["as_of"] == "2026-03-12T06:59:59.999999+00:00"
    assert {m["name"]: m["days_overdue"] for m in d["milestones"]} == {
        "yesterday": 1,
        "today": None,
    }


def test_hours_this_week_follow_the_local_week(db):
    w = make_world(db, timezone="Pacific/Auckland")
    _tasks(db, w, _jira("1", at(2, 2), at(2, 2), WIP, who=BOB))
    with db.write() as c:  # Sunday 03-08 12:00 UTC = Monday 03-09 01:00 in Auckland: this week there
        store.upsert_worklogs(
            c,
            w.org_id,
            w.jira,
            [
                _wl("w1", "1", BOB, datetime(2026, 3, 8, 12, tzinfo=UTC), 2),
                _wl("w2", "1", BOB, datetime(2026, 3, 8, 10, tzinfo=UTC), 1),
            ],
        )
    r = compute_view(db, w.org_id, "workload", ViewParams(as_of=date(2026, 3, 11)))
    assert r["people"][0]["hours_this_week"] == 2  # w2 is Sunday 23:00 local: last week


def test_archived_cards_count_when_the_profile_keeps_them_as_done(db):
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 3), DONE, archived=True),
        _jira("2", at(2, 2), at(2, 2), TODO),
    )
    assert compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 3, 1)))["total"]["scope"] == 1
    with db.write() as c:
        c.execute(
            sa.update(Source.__table__)
            .where(Source.__table__.c.id == w.jira)
            .values(mapping_profile={"trello": {"archived_as_done": True}})
        )
    p = compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 3, 1)))["total"]
    assert (p["scope"], p["done"]) == (2, 1)


def test_an_empty_organization_answers_nulls_with_reasons_not_errors(db):
    w = make_world(db)
    for name in ("progress", "budget", "milestones", "flow", "workload"):
        r = compute_view(db, w.org_id, name, ViewParams(as_of=date(2026, 3, 1), group_by="project"))
        assert r["groups"] == [] or name == "budget"
    p = compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 3, 1)))["total"]
    assert p["scope"] == 0 and p["percent_complete_count"] is None and p["reasons"]["percent_complete_count"]
    f = compute_view(db, w.org_id, "flow", ViewParams(as_of=date(2026, 3, 1)))["total"]
    assert f["lead_time_days"]["p50"] is None and f["reasons"]["lead_time_days"]


def test_daily_series_count_local_days_in_a_zone_far_from_utc(db):
    """Creation and completion land on the organization's calendar day, not UTC's (PostgreSQL
    buckets by a cast under the transaction's TimeZone, SQLite by UTC date + hour class)."""
    w = make_world(db, timezone="Pacific/Auckland")  # UTC+13 in March (daylight time)
    _tasks(
        db,
        w,
        # created 03-01 10:30 UTC = 03-01 23:30 local; done 03-01 11:30 UTC = 03-02 00:30 local
        _jira("1", datetime(2026, 3, 1, 10, 30, tzinfo=UTC), datetime(2026, 3, 1, 11, 30, tzinfo=UTC), DONE,
              completed_at=datetime(2026, 3, 1, 11, 30, tzinfo=UTC)),
        # created 03-02 12:00 UTC = 03-03 01:00 local, still open
        _jira("2", datetime(2026, 3, 2, 12, tzinfo=UTC), datetime(2026, 3, 2, 12, tzinfo=UTC), TODO),
    )
    series = compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 3, 5)))["series"]["burnup"]
    days = {p["date"]: (p["scope"], p["done"]) for p in series}
    assert days["2026-03-01"] == (1, 0)
    assert days["2026-03-02"] == (1, 1)
    assert days["2026-03-03"] == (2, 1)
    flow = compute_view(db, w.org_id, "flow", ViewParams(as_of=date(2026, 3, 5)))
    assert [(p["start"], p["done"]) for p in flow["series"]["throughput"]][-1] == ("2026-03-02", 1)


def test_workload_total_counts_a_shared_task_once_in_every_grouping(db):
    """A task with two assignees and two milestones is in both people's rows (and both
    milestones' when grouped so), but the total — read in the same pass — counts it once."""
    w = make_world(db)
    shared = _jira("1", at(2, 2), at(2, 2), TODO, points=3, due_date=date(2026, 3, 1))
    shared = shared.model_copy(update={"task": shared.task.model_copy(update={
        "assignees": [ANN_J, BOB], "milestones": [MilestoneRef(external_id="m1"), MilestoneRef(external_id="m2")]})})
    with db.write() as c:
        store.apply_effects(c, w.org_id, w.jira, [
            _version("m1", "1.0", date(2026, 4, 1), at(2, 2)),
            _version("m2", "2.0", date(2026, 5, 1), at(2, 2)),
            shared,
            _jira("2", at(2, 2), at(2, 2), TODO, points=2, who=BOB),
            _jira("3", at(2, 2), at(2, 2), DONE, points=8, who=BOB),
        ])
    now = datetime(2026, 3, 11, 12, tzinfo=UTC)
    for by in (None, "project", "milestone"):
        r = compute_view(db, w.org_id, "workload", ViewParams(group_by=by), now=now)
        t = r["total"]
        assert (t["open_tasks"], t["open_estimate_points"], t["overdue_tasks"]) == (2, 5, 1), by
        per_person: dict[str, int] = {}
        for row in r["people"]:
            per_person[row["person"]["name"]] = per_person.get(row["person"]["name"], 0) + row["open_tasks"]
        # Ann: the shared task (in two milestone rows when grouped by milestone); Bob: it and task 2.
        assert per_person == ({"Ann": 2, "Bob": 3} if by == "milestone" else {"Ann": 1, "Bob": 2}), by
