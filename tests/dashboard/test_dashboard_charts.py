"""The SVG chart builders: one ``data-series`` path per series, legends, axes, gaps, escaping."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from xml.etree import ElementTree as ET  # noqa: S405 - parses our own output

from service.dashboard.build import budget_chart, forecast_points, timeline
from service.dashboard.charts import (
    BarSeries,
    Marker,
    Series,
    TimelineRow,
    bar_chart,
    date_ticks,
    line_chart,
    nice_ticks,
    timeline_chart,
)
from tests.dashboard.world import charts

NS = "{http://www.w3.org/2000/svg}"
D0 = date(2026, 3, 1)


def _days(values: list[float | None]) -> list[tuple[date, float | None]]:
    return [(D0 + timedelta(days=i), v) for i, v in enumerate(values)]


def _series_paths(svg: str) -> dict[str, str]:
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    return {el.get("data-series"): el.get("d") or "" for el in root.iter() if el.get("data-series")}  # type: ignore[misc]


def test_line_chart_draws_one_path_per_series_with_a_legend() -> None:
    svg = line_chart(
        [
            Series("scope", "scope", _days([3, 4, 4, 6])),
            Series("done", "done", _days([0, 1, 2, 2]), area=True),
        ],
        title="Burn-up",
        markers=[Marker("today", "today", D0 + timedelta(days=2))],
    )
    assert charts(svg) == [("line", ["scope", "done"])]
    paths = _series_paths(svg)
    assert paths["scope"].count("L") == 3 and paths["done"].startswith("M")
    assert 'data-legend="marker-today"' in svg and 'data-marker="today"' in svg
    assert 'class="area"' in svg  # the shaded area is a separate, unlabelled path
    assert (
        "<title" in svg and "Burn-up" in svg and "scope 6" in svg
    )  # end label with the last value


def test_line_chart_breaks_the_line_at_unknown_values() -> None:
    svg = line_chart([Series("pv", "PV", _days([1, 2, None, 4, 5]))], title="t")
    assert _series_paths(svg)["pv"].count("M") == 2


def test_line_chart_without_data_still_names_its_series() -> None:
    svg = line_chart(
        [Series("ac", "AC", []), Series("forecast", "forecast", [])], title="Budget burn"
    )
    assert charts(svg) == [("line", ["ac", "forecast"])] and "no data yet" in svg


def test_y_axis_is_labelled_with_round_ticks() -> None:
    assert nice_ticks(0, 11) == [0, 2.5, 5, 7.5, 10, 12.5]
    assert nice_ticks(0, 11, integer=True) == [0, 5, 10, 15]
    assert nice_ticks(0, 2, integer=True) == [0, 1, 2]
    assert nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 1e-9, integer=True) == [0, 1]
    svg = line_chart([Series("ac", "AC", _days([0, 9000, 30000]))], title="t")
    labels = re.findall(r'<text x="52" y="[\d.]+">([^<]+)</text>', svg)
    assert labels == ["0", "10k", "20k", "30k"]


def test_date_ticks_are_days_weeks_or_months() -> None:
    assert [lab for _, lab in date_ticks(date(2026, 3, 1), date(2026, 3, 4))] == [
        "Mar 01",
        "Mar 02",
        "Mar 03",
        "Mar 04",
    ]
    weekly = date_ticks(date(2026, 3, 1), date(2026, 4, 10))
    assert all(d.weekday() == 0 for d, _ in weekly) and len(weekly) <= 6
    monthly = date_ticks(date(2025, 1, 15), date(2026, 6, 1))
    assert all(d.day == 1 for d, _ in monthly) and 2 <= len(monthly) <= 7


def test_bar_chart_draws_one_path_per_series_and_one_bar_per_value() -> None:
    svg = bar_chart(
        ["Apollo", "Borealis", "Nimbus"],
        [
            BarSeries("consumed", "consumed", [0.2, 0.6, None]),
            BarSeries("complete", "complete", [0.3, 0.5, 0]),
        ],
        title="Consumed vs complete",
        x_max=1.0,
        links=["/projects/1", "/projects/2", None],
    )
    assert charts(svg) == [("bar", ["consumed", "complete"])]
    paths = _series_paths(svg)
    assert (
        paths["consumed"].count("Z") == 2 and paths["complete"].count("Z") == 2
    )  # no bar for None or 0
    assert svg.count("<a href=") == 2 and "—" in svg  # unknown values are shown as a dash


def test_timeline_marks_overdue_rows_and_draws_three_series() -> None:
    rows = [
        TimelineRow(
            "R1",
            due=date(2026, 3, 9),
            baseline=date(2026, 3, 9),
            status="overdue",
            note="3 d overdue",
        ),
        TimelineRow(
            "R2",
            due=date(2026, 3, 25),
            baseline=date(2026, 3, 20),
            forecast=date(2026, 4, 2),
            status="at_risk",
        ),
    ]
    svg = timeline_chart(rows, today=date(2026, 3, 12), title="Milestones")
    assert charts(svg) == [("timeline", ["baseline", "due", "forecast"])]
    assert svg.count('class="overdue-band"') == 1 and svg.count('class="slip"') == 1
    paths = _series_paths(svg)
    assert (
        paths["due"].count("Z") == 2
        and paths["baseline"].count("Z") == 2
        and paths["forecast"].count("Z") == 1
    )


def test_labels_are_escaped() -> None:
    evil = '<script>alert("x")</script>'
    for svg in (
        line_chart([Series("a", evil, _days([1, 2]))], title=evil),
        bar_chart([evil], [BarSeries("b", evil, [1])], title=evil),
        timeline_chart([TimelineRow(evil, due=D0)], today=D0, title=evil),
    ):
        assert "<script>" not in svg
        ET.fromstring(svg)  # noqa: S314 - still well-formed


def test_budget_chart_adds_the_forecast_at_the_burn_rate() -> None:
    assert forecast_points(1000, 700, date(2026, 3, 12), date(2026, 3, 26)) == [
        (date(2026, 3, 12), 1000),
        (date(2026, 3, 19), 1700),
        (date(2026, 3, 26), 2400),
    ]
    budget: dict[str, Any] = {
        "total": {
            "currency": "USD",
            "bac": 2000.0,
            "planned_end": "2026-03-31",
            "burn_rate_per_week": 700.0,
            "exhaustion_date": "2026-03-22",
        },
        "series": {
            "cost": [
                {"date": "2026-03-11", "ac": 900.0, "pv": 800.0},
                {"date": "2026-03-12", "ac": 1000.0, "pv": 900.0},
            ]
        },
    }
    svg = budget_chart(budget, date(2026, 3, 12))
    assert charts(svg) == [("line", ["ac", "budget", "pv", "forecast"])]
    assert 'data-marker="exhaustion"' in svg and 'data-marker="planned-end"' in svg
    budget["total"].update(bac=None, exhaustion_date=None, planned_end=None)
    for p in budget["series"]["cost"]:
        p["pv"] = None
    assert charts(budget_chart(budget, date(2026, 3, 12))) == [("line", ["ac", "forecast"])]


def test_timeline_notes_say_overdue_and_slip() -> None:
    items = [
        {
            "name": "R2",
            "due_date": "2026-03-25",
            "baseline_due_date": "2026-03-20",
            "forecast_finish": None,
            "status": "at_risk",
            "at_risk": True,
            "overdue": False,
            "slip_days": 5,
            "project_id": 1,
        }
    ]
    svg = timeline(items, date(2026, 3, 12), href=lambda pid: f"/projects/{pid}")
    assert "at risk, slip +5 d" in svg and '<a href="/projects/1">' in svg


def test_a_forecast_to_a_far_planned_end_stays_a_few_hundred_points():
    from datetime import date

    from service.dashboard.build import forecast_points

    near = forecast_points(100.0, 10.0, date(2026, 1, 5), date(2026, 3, 2))
    assert [d for d, _ in near][:3] == [date(2026, 1, 5), date(2026, 1, 12), date(2026, 1, 19)]  # weekly
    far = forecast_points(100.0, 10.0, date(2026, 1, 5), date(9000, 12, 31))
    assert len(far) <= 200 and far[-1][0] == date(9000, 12, 31)
    assert far[-1][1] == 100.0 + 10.0 * (date(9000, 12, 31) - date(2026, 1, 5)).days / 7

