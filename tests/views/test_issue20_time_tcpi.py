"""Issue 20 ("Figures that are wrong or misleading today"), METRICS.md: percent complete by
time only when every open task has a remaining figure (or an original estimate standing in);
TCPI once the budget is exhausted; EAC and the burn-chart forecast named as different methods.
Each figure computed by hand; both stores (the ``db`` fixture)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from service import store
from service.tables import Project
from service.views import ViewParams, compute_view
from tests.views.portfolio_data import BOB, DONE, TODO, WIP, _jira, _moves, _wl, at, make_world

P = Project.__table__
H = 3600


def _tasks(db, w, *upserts) -> None:
    with db.write() as c:
        store.upsert_tasks(c, w.org_id, w.jira, list(upserts))


def _progress(db, w) -> dict:
    return compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 2, 13)))


def test_time_is_null_while_an_open_task_has_no_remaining_figure(db):
    # Like a Trello board: spent hours on every card, no remaining figure. Old rule:
    # 10 h / (10 h + 0) = 100 % with 1 of 4 tasks done.
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 5), DONE, spent_seconds=4 * H, changes=_moves("1", (TODO, DONE, at(2, 5)))),
        _jira("2", at(2, 2), at(2, 2), WIP, spent_seconds=3 * H),
        _jira("3", at(2, 2), at(2, 2), TODO, spent_seconds=3 * H),
        _jira("4", at(2, 2), at(2, 2), TODO, remaining_seconds=2 * H),
    )
    v = _progress(db, w)
    t = v["total"]
    assert (t["scope"], t["done"], t["spent_seconds"]) == (4, 1, 10 * H)
    assert t["percent_complete_time"] is None
    assert (t["open_without_remaining"], t["open_without_remaining_share"]) == (2, 0.6667)  # 2 of 3 open
    assert "2 of 3 open tasks (67%)" in t["reasons"]["percent_complete_time"]
    assert "Never 100 %" in v["definitions"]["percent_complete_time"]


def test_an_original_estimate_stands_in_for_a_missing_remaining_figure(db):
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 5), DONE, spent_seconds=6 * H, changes=_moves("1", (TODO, DONE, at(2, 5)))),
        # open, no remaining figure, original estimate 4 h stands in for it
        _jira("2", at(2, 2), at(2, 2), WIP, spent_seconds=2 * H, estimate_seconds=4 * H),
        _jira("3", at(2, 2), at(2, 2), TODO, remaining_seconds=4 * H),
    )
    t = _progress(db, w)["total"]
    assert (t["open_without_remaining"], t["open_without_remaining_share"]) == (0, 0.0)
    assert (t["remaining_seconds"], t["remaining_stand_in_seconds"]) == (4 * H, 4 * H)
    # Σ spent 8 h / (8 h + 4 h remaining + 4 h standing in) = 0.5
    assert t["percent_complete_time"] == 0.5 and "percent_complete_time" not in t["reasons"]


def test_time_gap_per_group(db):
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 2), TODO, spent_seconds=1 * H, remaining_seconds=3 * H, who=BOB),
        _jira("2", at(2, 2), at(2, 2), TODO, spent_seconds=1 * H),
    )
    v = compute_view(db, w.org_id, "progress", ViewParams(as_of=date(2026, 2, 13), group_by="person"))
    rows = {r["group"]["name"]: r for r in v["groups"]}
    bob = next(r for n, r in rows.items() if n and "Bob" in n)
    nobody = next(r for r in v["groups"] if r["group"]["id"] is None)
    assert bob["percent_complete_time"] == 0.25  # 1 h / (1 h + 3 h)
    assert nobody["percent_complete_time"] is None and nobody["open_without_remaining"] == 1
    assert v["total"]["percent_complete_time"] is None and v["total"]["open_without_remaining_share"] == 0.5


def _budget(db, w, amount: str) -> dict:
    with db.write() as c:
        c.execute(
            sa.update(P)
            .where(P.c.org_id == w.org_id, P.c.external_id == "100")
            .values(
                budget_amount=Decimal(amount),
                budget_currency="USD",
                planned_start=date(2026, 2, 2),
                planned_end=date(2026, 2, 27),
                hourly_rate=Decimal("50"),
            )
        )
    return compute_view(db, w.org_id, "budget", ViewParams(as_of=date(2026, 2, 13)))


def _half_done_with_cost(db, hours: float):
    w = make_world(db)
    _tasks(
        db,
        w,
        _jira("1", at(2, 2), at(2, 5), DONE, points=2, changes=_moves("1", (TODO, DONE, at(2, 5)))),
        _jira("2", at(2, 2), at(2, 2), TODO, points=2),
    )
    with db.write() as c:
        store.upsert_worklogs(c, w.org_id, w.jira, [_wl("w1", "1", BOB, at(2, 3), hours)])
    return w


def test_tcpi_over_budget_is_null_and_tcpi_eac_is_the_figure(db):
    w = _half_done_with_cost(db, 30)  # AC = 30 h × 50 = 1500
    v = _budget(db, w, "1000")
    b = v["total"]
    assert (b["bac"], b["ac"], b["ev"]) == (1000, 1500, 500)  # EV = 1000 × 50 %
    # old: (1000 − 500) / (1000 − 1500) = −1.0 shown as a number
    assert b["tcpi"] is None and b["reasons"]["tcpi"].startswith("budget exhausted")
    # CPI = 500 / 1500; EAC = 1000 / CPI = 3000; TCPI(EAC) = (1000 − 500) / (3000 − 1500) = 0.3333
    assert (b["cpi"], b["eac"], b["tcpi_eac"]) == (0.3333, 3000, 0.3333)
    assert "budget exhausted" in v["definitions"]["tcpi"] and "never a number" in v["definitions"]["tcpi"]


def test_tcpi_under_budget_unchanged(db):
    w = _half_done_with_cost(db, 4)  # AC = 200
    b = _budget(db, w, "1000")["total"]
    assert b["tcpi"] == 0.625  # (1000 − 500) / (1000 − 200)
    assert b["tcpi_eac"] is None and "not exhausted" in b["reasons"]["tcpi_eac"]


def test_eac_and_burn_chart_forecast_are_named_as_different_methods(db):
    w = _half_done_with_cost(db, 4)
    d = _budget(db, w, "1000")["definitions"]
    assert "BAC / CPI" in d["eac"] and "different method" in d["eac"]
    assert "burn_rate_per_week" in d["forecast_method"] and "not EAC" in d["forecast_method"]
