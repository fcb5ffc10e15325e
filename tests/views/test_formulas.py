"""The pure formulas of METRICS.md, called directly: undefined figures are None with a reason."""

from __future__ import annotations

import math
import statistics
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.views import formulas as f


def test_percent_complete_by_count_estimate_and_time():
    assert f.percent_complete_count(3, 12) == (0.25, None)
    assert f.percent_complete_count(0, 0)[0] is None
    assert f.percent_complete_estimate(8, 20, 5) == (0.4, None)
    value, reason = f.percent_complete_estimate(0, 0, 0)
    assert value is None and "nothing" in reason
    assert f.percent_complete_estimate(0, 0, 3)[0] is None  # all estimates are 0
    assert f.unestimated_share(5, 10) == (0.5, None)
    assert f.percent_complete_time(35, 14, 4) == (35 / 49, None)
    assert f.percent_complete_time(0, 0, 0)[0] is None


def test_working_days_count_monday_to_friday_inclusive():
    assert f.working_days(date(2026, 2, 2), date(2026, 3, 27)) == 40  # 8 full weeks
    assert f.working_days(date(2026, 3, 7), date(2026, 3, 8)) == 0  # a weekend
    assert f.working_days(date(2026, 3, 6), date(2026, 3, 9)) == 2  # Fri + Mon
    assert f.working_days(date(2026, 3, 9), date(2026, 3, 8)) == 0  # end before start


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)), st.integers(0, 400))
def test_working_days_matches_a_day_by_day_count(start, n):
    from datetime import timedelta

    end = start + timedelta(days=n)
    expected = sum(1 for i in range(n + 1) if (start + timedelta(days=i)).weekday() < 5)
    assert f.working_days(start, end) == expected


def test_planned_value_is_linear_over_working_days_and_clamped():
    s, e = date(2026, 2, 2), date(2026, 3, 27)
    assert f.planned_value(20000, s, e, date(2026, 3, 11)) == (14000, None)  # 28 / 40
    assert f.planned_value(20000, s, e, date(2026, 1, 15)) == (0, None)  # before the start
    assert f.planned_value(20000, s, e, date(2026, 6, 1)) == (20000, None)  # after the end: BAC
    assert f.planned_value(20000, s, e, date(2026, 3, 8))[0] == 12500  # Sunday: 25 / 40
    assert f.planned_value(None, s, e, date(2026, 3, 11))[0] is None
    value, reason = f.planned_value(20000, None, e, date(2026, 3, 11))
    assert value is None and "planned_start" in reason


def test_evm_figures_follow_pmbok():
    e = f.evm(bac=20000, ac=3000, pv=14000, ev=8000)
    assert (e.cv, e.sv) == (5000, -6000)
    assert e.cpi == pytest.approx(8 / 3) and e.spi == pytest.approx(8 / 14)
    assert e.eac == pytest.approx(7500) and e.eac_atypical == 15000
    assert e.etc == pytest.approx(4500) and e.vac == pytest.approx(12500)
    assert e.tcpi == pytest.approx(12000 / 17000)
    # METRICS (issue 20): TCPI(EAC) is the figure only once the budget is exhausted; while AC < BAC
    # it is null with a reason, so the reasons are no longer empty.
    assert e.tcpi_eac is None
    assert e.reasons == {"tcpi_eac": "the budget is not exhausted (AC < BAC): TCPI(BAC) is the figure"}


def test_evm_with_ac_zero_gives_null_ratios_with_reasons_never_infinity():
    e = f.evm(bac=10000, ac=0, pv=5000, ev=2000)
    assert e.cpi is None and "AC is 0" in e.reasons["cpi"]
    assert e.eac is None and e.etc is None and e.vac is None
    assert e.eac_atypical == 8000  # AC + (BAC − EV) stays defined
    assert e.tcpi == pytest.approx(0.8)
    assert e.spi == pytest.approx(0.4)
    for v in e.as_dict().values():
        assert v is None or math.isfinite(v)


def test_evm_with_pv_zero_and_nothing_earned():
    e = f.evm(bac=10000, ac=500, pv=0, ev=0)
    assert e.spi is None and "PV is 0" in e.reasons["spi"]
    assert e.cpi == 0 and e.eac is None and "nothing earned" in e.reasons["eac"]


def test_evm_without_budget_is_all_null_with_reasons():
    e = f.evm(
        bac=None,
        ac=1200,
        pv=None,
        ev=None,
        pv_reason="no budget (BAC)",
        ev_reason="no budget (BAC)",
    )
    assert all(v is None for v in e.as_dict().values())
    assert set(e.reasons) == set(f.EVM.FIELDS)


def test_tcpi_undefined_when_budget_exactly_spent():
    e = f.evm(bac=1000, ac=1000, pv=1000, ev=900)
    # METRICS (issue 20): AC ≥ BAC is "budget exhausted" (was "the budget is spent"); TCPI(EAC)
    # is shown instead: CPI = 0.9, EAC = 1000 / 0.9 = 1111.11, (1000 − 900) / (1111.11 − 1000) = 0.9
    assert e.tcpi is None and "budget exhausted" in e.reasons["tcpi"]
    assert e.tcpi_eac == pytest.approx(0.9)


def test_runway_and_exhaustion():
    assert f.runway_weeks(20000, 3000, 630)[0] == pytest.approx(26.984127)
    assert f.exhaustion_date(date(2026, 3, 11), 26.984127) == date(2026, 9, 15)
    assert f.runway_weeks(1000, 1200, 50) == (0.0, None)  # already spent: no time left
    value, reason = f.runway_weeks(1000, 0, 0)
    assert value is None and "burn rate 0" in reason
    assert f.exhaustion_date(date(2026, 3, 11), None) is None
    assert f.planned_rate(20000, date(2026, 2, 2), date(2026, 3, 27)) == (2500, None)
    assert f.burn_rate(2520) == 630


@pytest.mark.parametrize("values", [[3, 10, 15, 30], [2, 3, 9], [7], [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]])
def test_percentiles_interpolate_linearly_like_statistics_inclusive(values):
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else [values[0]] * 99
    for p in f.PERCENTILES:
        assert f.percentile(values, p) == pytest.approx(cuts[p - 1])


def test_percentile_of_nothing_is_none():
    assert f.percentile([], 50) is None
    assert f.percentiles([3, 10, 15, 30]) == {"p50": 12.5, "p85": 23.25, "p95": 27.75}


def test_forecast_finish_and_milestone_flags():
    today = date(2026, 3, 11)
    assert f.forecast_finish(today, 2, 0.25) == (date(2026, 5, 6), None)  # 2 / 0.25 weeks = 56 days
    assert f.forecast_finish(today, 0, 0) == (today, None)
    assert f.forecast_finish(today, 3, 0)[0] is None
    overdue = f.milestone_flags(date(2026, 3, 8), False, today, None)
    assert (overdue.status, overdue.days_overdue) == ("overdue", 3)
    due_today = f.milestone_flags(today, False, today, today)
    assert (due_today.status, due_today.overdue, due_today.days_overdue) == (
        "on_track",
        False,
        None,
    )
    assert f.milestone_flags(date(2026, 3, 25), False, today, date(2026, 5, 6)).at_risk is True
    assert f.milestone_flags(date(2026, 3, 8), True, today, None).status == "done"
    unknown = f.milestone_flags(date(2026, 4, 1), False, today, None, "no throughput")
    assert unknown.at_risk is None and unknown.reason == "no throughput"
    assert f.slip_days(date(2026, 3, 25), date(2026, 3, 20)) == 5
    assert f.slip_days(None, date(2026, 3, 20), date(2026, 3, 30)) == 10  # no due date: the forecast
    assert f.slip_days(date(2026, 3, 25), None) is None


def test_ratio_never_divides_by_zero():
    assert f.ratio(1, 0, what="x") == (None, "x: the denominator is 0")
    assert f.ratio(None, 2, what="x")[0] is None
    assert f.iso_week(date(2026, 1, 1)) == "2026-W01" and f.iso_week(date(2027, 1, 1)) == "2026-W53"


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=60), st.sampled_from([50, 85, 95]))
def test_the_integer_rank_path_equals_the_ranks_path(values, p):
    """``sorted_percentile`` (in-memory path) gives exactly what ``percentile_from_ranks`` (the SQL
    path's values at ``percentile_ranks``) gives: the same float, not merely close."""
    ordered = sorted(values)
    lo, hi, _ = f.percentile_ranks(len(ordered), p)
    assert f.sorted_percentile(ordered, p) == f.percentile_from_ranks(
        {lo: ordered[lo - 1], hi: ordered[hi - 1]}, len(ordered), p
    )


def test_tcpi_over_budget_is_null_and_tcpi_eac_is_shown():
    """Issue 20: over budget, (BAC − EV) / (BAC − AC) is negative; METRICS: TCPI(BAC) null with
    "budget exhausted", TCPI(EAC) = (BAC − EV) / (EAC − AC) the figure. By hand: BAC 1000,
    AC 1500, EV 600: CPI = 0.4, EAC = 2500, TCPI(EAC) = 400 / 1000 = 0.4 (old: 400 / −500 = −0.8)."""
    e = f.evm(bac=1000, ac=1500, pv=800, ev=600)
    assert e.tcpi is None and e.reasons["tcpi"].startswith("budget exhausted")
    assert e.eac == pytest.approx(2500) and e.tcpi_eac == pytest.approx(0.4)
    assert "tcpi_eac" not in e.reasons


def test_tcpi_never_negative():
    # EV above BAC (more earned than budgeted) would make either TCPI negative: null with a reason.
    e = f.evm(bac=1000, ac=500, pv=800, ev=1200)
    assert e.tcpi is None and "negative" in e.reasons["tcpi"]
    e = f.evm(bac=1000, ac=1500, pv=800, ev=0)
    assert e.tcpi is None and e.tcpi_eac is None and "EAC is undefined" in e.reasons["tcpi_eac"]


def test_percent_complete_time_needs_a_remaining_figure_on_every_open_task():
    # Issue 20: Trello cards have spent hours but no remaining figure; 10 h spent, 0 remaining
    # read 100 %. METRICS: null with the reason and the share of open tasks without one.
    value, reason = f.percent_complete_time(36000, 0, 3, open_without_remaining=7, open_tasks=10)
    assert value is None and reason and "7 of 10 open tasks (70%)" in reason
    assert f.percent_complete_time(36000, 12000, 3) == (0.75, None)  # 10 h / (10 h + 3.33 h)
