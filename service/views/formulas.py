"""Portfolio metric formulas, exactly as defined in ``shared/design/METRICS.md``.

Pure functions: data and an injected ``as_of``/``today`` in, figures out. A figure
that is undefined (a ratio over zero, a missing budget) is returned as
``(None, reason)``, never as a division error or infinity. EVM terms follow the
PMBOK Guide (PV, EV, AC, CV, SV, CPI, SPI, EAC, ETC, VAC, TCPI).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

__all__ = [
    "Fig",
    "EVM",
    "MilestoneFlags",
    "ratio",
    "percent_complete_count",
    "percent_complete_estimate",
    "unestimated_share",
    "percent_complete_time",
    "working_days",
    "planned_value",
    "earned_value",
    "evm",
    "burn_rate",
    "planned_rate",
    "runway_weeks",
    "exhaustion_date",
    "percentile",
    "percentile_from_ranks",
    "sorted_percentile",
    "percentile_ranks",
    "percentiles",
    "forecast_finish",
    "milestone_flags",
    "slip_days",
    "iso_week",
    "PERCENTILES",
    "TRAILING_DAYS",
]

Fig = tuple[float | None, str | None]
"""A figure and, when it is ``None``, the reason it is undefined."""

PERCENTILES = (50, 85, 95)
TRAILING_DAYS = 28  # burn rate and recent throughput: the trailing 4 weeks


def ratio(num: float | None, den: float | None, *, what: str) -> Fig:
    """``num / den``, or ``None`` with a reason naming ``what`` when undefined."""
    if num is None or den is None:
        return None, f"{what}: an operand is undefined"
    if den == 0:
        return None, f"{what}: the denominator is 0"
    return num / den, None


# --- progress ------------------------------------------------------------------------------


def percent_complete_count(done: int, scope: int) -> Fig:
    """done / scope."""
    if scope == 0:
        return None, "no task in scope"
    return done / scope, None


def percent_complete_estimate(done_estimate: float, total_estimate: float, estimated: int) -> Fig:
    """Σ estimate(done) / Σ estimate(scope), over estimated tasks only."""
    if estimated == 0:
        return None, "nothing in scope is estimated"
    if total_estimate == 0:
        return None, "the estimates in scope sum to 0"
    return done_estimate / total_estimate, None


def unestimated_share(unestimated: int, scope: int) -> Fig:
    if scope == 0:
        return None, "no task in scope"
    return unestimated / scope, None


def percent_complete_time(
    spent: float, remaining: float, tracked: int, *, open_without_remaining: int = 0, open_tasks: int = 0
) -> Fig:
    """Σ spent / (Σ spent + Σ remaining), where time tracking exists, only when every open task
    has a remaining figure (or an original estimate standing in for it, already in
    ``remaining``); otherwise undefined with the share of open tasks without one (METRICS)."""
    if open_without_remaining > 0:
        of = f" of {open_tasks}" if open_tasks else ""
        pct = f" ({open_without_remaining / open_tasks:.0%})" if open_tasks else ""
        return None, (
            f"{open_without_remaining}{of} open tasks{pct} have no remaining time and no original "
            "estimate to stand in for it"
        )
    if tracked == 0:
        return None, "no task in scope has time tracking (spent or remaining time)"
    if spent + remaining == 0:
        return None, "spent + remaining time is 0"
    return spent / (spent + remaining), None


# --- budget and earned value ------------------------------------------------------------------


def working_days(start: date, end: date) -> int:
    """Mon–Fri days in ``[start, end]`` (both included); 0 when ``end < start``."""
    if end < start:
        return 0
    total = (end - start).days + 1
    weeks, rest = divmod(total, 7)
    days = weeks * 5
    wd = start.weekday()
    for i in range(rest):
        if (wd + i) % 7 < 5:
            days += 1
    return days


def planned_value(bac: float | None, start: date | None, end: date | None, as_of: date) -> Fig:
    """PV = BAC × working days elapsed in [start, as_of] / working days in [start, end], in "
    "[0, BAC]."""
    if bac is None:
        return None, "no budget (BAC)"
    if start is None or end is None:
        return None, "planned_start and planned_end are needed for PV"
    total = working_days(start, end)
    if total == 0:
        return None, "the planned period has no working day"
    elapsed = working_days(start, min(as_of, end))
    share = min(max(elapsed / total, 0.0), 1.0)
    return bac * share, None


def earned_value(bac: float | None, percent_complete: float | None) -> Fig:
    """EV = BAC × percent complete."""
    if bac is None:
        return None, "no budget (BAC)"
    if percent_complete is None:
        return None, "percent complete is undefined"
    return bac * percent_complete, None


@dataclass
class EVM:
    bac: float | None
    ac: float | None
    pv: float | None
    ev: float | None
    cv: float | None = None
    sv: float | None = None
    cpi: float | None = None
    spi: float | None = None
    eac: float | None = None
    eac_atypical: float | None = None
    etc: float | None = None
    vac: float | None = None
    tcpi: float | None = None
    tcpi_eac: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)

    FIELDS = ("pv", "ev", "cv", "sv", "cpi", "spi", "eac", "eac_atypical", "etc", "vac", "tcpi", "tcpi_eac")

    def as_dict(self) -> dict[str, float | None]:
        return {k: getattr(self, k) for k in self.FIELDS}


def evm(
    bac: float | None,
    ac: float | None,
    pv: float | None,
    ev: float | None,
    *,
    pv_reason: str | None = None,
    ev_reason: str | None = None,
) -> EVM:
    """Every EVM figure from BAC, AC, PV and EV; undefined ones get a reason."""
    out = EVM(bac=bac, ac=ac, pv=pv, ev=ev)
    r = out.reasons
    if pv is None:
        r["pv"] = pv_reason or "PV is undefined"
    if ev is None:
        r["ev"] = ev_reason or "EV is undefined"

    def diff(name: str, a: float | None, b: float | None, need: str) -> float | None:
        if a is None or b is None:
            r[name] = f"{need} is undefined"
            return None
        return a - b

    out.cv = diff("cv", ev, ac, "EV or AC")
    out.sv = diff("sv", ev, pv, "EV or PV")
    if ev is None or ac is None:
        r["cpi"] = "EV or AC is undefined"
    elif ac == 0:
        r["cpi"] = "AC is 0: nothing spent yet"
    else:
        out.cpi = ev / ac
    if ev is None or pv is None:
        r["spi"] = "EV or PV is undefined"
    elif pv == 0:
        r["spi"] = "PV is 0: the planned period has not started"
    else:
        out.spi = ev / pv
    if bac is None:
        r["eac"] = "no budget (BAC)"
    elif out.cpi is None:
        r["eac"] = f"CPI is undefined ({r['cpi']})"
    elif out.cpi == 0:
        r["eac"] = "CPI is 0: nothing earned yet"
    else:
        out.eac = bac / out.cpi
    if bac is None or ac is None or ev is None:
        r["eac_atypical"] = "BAC, AC or EV is undefined"
    else:
        out.eac_atypical = ac + (bac - ev)
    if out.eac is None or ac is None:
        r["etc"] = "EAC is undefined"
    else:
        out.etc = out.eac - ac
    if out.eac is None or bac is None:
        r["vac"] = "EAC is undefined"
    else:
        out.vac = bac - out.eac
    out.tcpi, out.tcpi_eac = _tcpi(bac, ac, ev, out.eac, r)
    return out


def _tcpi(
    bac: float | None, ac: float | None, ev: float | None, eac: float | None, r: dict[str, str]
) -> tuple[float | None, float | None]:
    """TCPI(BAC) = (BAC − EV) / (BAC − AC) while AC < BAC; once the budget is exhausted
    (AC ≥ BAC) it is undefined ("budget exhausted") and TCPI(EAC) = (BAC − EV) / (EAC − AC) is
    the figure to show. A negative TCPI is never a number (METRICS)."""
    if bac is None or ac is None or ev is None:
        r["tcpi"] = r["tcpi_eac"] = "BAC, AC or EV is undefined"
        return None, None
    if ac < bac:
        r["tcpi_eac"] = "the budget is not exhausted (AC < BAC): TCPI(BAC) is the figure"
        value = (bac - ev) / (bac - ac)
        if value < 0:
            r["tcpi"] = "BAC − EV is negative: more earned than budgeted"
            return None, None
        return value, None
    r["tcpi"] = "budget exhausted (AC ≥ BAC): TCPI(EAC) is the figure"
    if eac is None:
        r["tcpi_eac"] = f"EAC is undefined ({r.get('eac', '')})"
        return None, None
    if eac - ac <= 0:
        r["tcpi_eac"] = "EAC − AC is not positive: no cost left to complete"
        return None, None
    value = (bac - ev) / (eac - ac)
    if value < 0:
        r["tcpi_eac"] = "BAC − EV is negative: more earned than budgeted"
        return None, None
    return None, value


def burn_rate(ac_trailing: float, weeks: int = 4) -> float:
    """AC over the trailing ``weeks`` weeks / ``weeks`` (money per week)."""
    return ac_trailing / weeks


def planned_rate(bac: float | None, start: date | None, end: date | None) -> Fig:
    """BAC / planned duration in weeks (working days / 5)."""
    if bac is None:
        return None, "no budget (BAC)"
    if start is None or end is None:
        return None, "planned_start and planned_end are needed for the planned rate"
    days = working_days(start, end)
    if days == 0:
        return None, "the planned period has no working day"
    return bac / (days / 5), None


def runway_weeks(bac: float | None, ac: float | None, burn: float | None) -> Fig:
    """(BAC − AC) / burn rate, in weeks; 0 when the budget is already spent."""
    if bac is None:
        return None, "no budget (BAC)"
    if ac is None or burn is None:
        return None, "AC or the burn rate is undefined"
    if ac >= bac:
        return 0.0, None
    if burn <= 0:
        return None, "nothing was spent in the trailing 4 weeks (burn rate 0)"
    return (bac - ac) / burn, None


def exhaustion_date(as_of: date, runway: float | None) -> date | None:
    """as_of + runway (whole days, rounded down); ``None`` past the calendar's end (9999-12-31):
    a large budget spent at a tiny rate has a runway of millennia, and the date overflowed."""
    if runway is None:
        return None
    days = runway * 7 + 1e-9
    if days >= (date.max - as_of).days + 1:
        return None
    return as_of + timedelta(days=math.floor(days))


# --- percentiles ------------------------------------------------------------------------------


def percentile_ranks(n: int, p: int) -> tuple[int, int, Fraction]:
    """The 1-based ranks around the ``p``-th percentile of ``n`` sorted values and the fraction
    between them (linear interpolation, like numpy's default and Excel's PERCENTILE.INC)."""
    pos = Fraction((n - 1) * p, 100)
    k = math.floor(pos)
    return k + 1, min(k + 2, n), pos - k


def percentile_from_ranks(values: dict[int, float], n: int, p: int) -> float | None:
    """The percentile from the values at the ranks ``percentile_ranks`` names (the SQL path)."""
    if n == 0:
        return None
    lo_rank, hi_rank, frac = percentile_ranks(n, p)
    lo, hi = values[lo_rank], values[hi_rank]
    return lo + float(frac) * (hi - lo)


def percentile(values: Sequence[float], p: int) -> float | None:
    """The ``p``-th percentile (0–100) of ``values``; ``None`` for no values."""
    return sorted_percentile(sorted(values), p)


def sorted_percentile(ordered: Sequence[float], p: int) -> float | None:
    """``percentile`` of values already sorted ascending."""
    n = len(ordered)
    if n == 0:
        return None
    # percentile_ranks in integers: rank k + 1 and the next, r / 100 of the way between (r / 100
    # is the same correctly rounded float as float(Fraction(r, 100))).
    k, r = divmod((n - 1) * p, 100)
    lo, hi = ordered[k], ordered[min(k + 1, n - 1)]
    return lo + (r / 100) * (hi - lo)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{p}": percentile(values, p) for p in PERCENTILES}


# --- milestones ------------------------------------------------------------------------------


def forecast_finish(today: date, remaining: int, throughput_per_week: float | None) -> tuple[date | None, str | None]:
    """today + remaining tasks / recent throughput (whole days, rounded up)."""
    if remaining <= 0:
        return today, None
    if not throughput_per_week:
        return (
            None,
            "no task of it reached done in the trailing 4 weeks: no throughput to forecast from",
        )
    return today + timedelta(days=math.ceil(remaining / throughput_per_week * 7 - 1e-9)), None


def slip_days(due: date | None, baseline: date | None, forecast: date | None = None) -> int | None:
    """Current due (or, without one, the forecast) − baseline due, in days."""
    current = due or forecast
    if current is None or baseline is None:
        return None
    return (current - baseline).days


@dataclass(frozen=True)
class MilestoneFlags:
    status: str  # done | overdue | at_risk | on_track | no_due_date | unknown
    overdue: bool
    days_overdue: int | None
    at_risk: bool | None
    reason: str | None = None


def milestone_flags(
    due: date | None,
    completed: bool,
    today: date,
    forecast: date | None,
    forecast_reason: str | None = None,
) -> MilestoneFlags:
    """Overdue: due < today and not completed. At risk: not overdue, forecast finish after due."""
    if completed:
        return MilestoneFlags("done", False, None, False)
    if due is None:
        return MilestoneFlags("no_due_date", False, None, None, "the milestone has no due date")
    if due < today:
        return MilestoneFlags("overdue", True, (today - due).days, False)
    if forecast is None:
        return MilestoneFlags("unknown", False, None, None, forecast_reason or "no forecast")
    if forecast > due:
        return MilestoneFlags("at_risk", False, None, True)
    return MilestoneFlags("on_track", False, None, False)


def iso_week(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"
