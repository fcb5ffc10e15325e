"""Chart labels fitted to their column (service.dashboard.svg): widths estimated in DejaVu Sans
em, long labels wrapped and cut in the middle, repeated ones numbered. Pure functions: no store.

Hand-computed widths at 12 px: a plain lower-case letter 0.62 em = 7.44 px, a space 4.32 px,
a digit 8.64 px, ")" 4.32 px, the ellipsis 12 px.
"""

from __future__ import annotations

from datetime import date

import pytest

from service.dashboard.charts import BarSeries, TimelineRow, bar_chart, timeline_chart
from service.dashboard.svg import (
    distinct,
    fit_lines,
    middle_cut,
    text_lines,
    text_width,
    unique_fits,
)


def test_text_width_counts_narrow_wide_and_plain_letters() -> None:
    assert text_width("abc") == pytest.approx(22.32)
    assert text_width("Wi") == pytest.approx(16.32)  # 1.0 em + 0.36 em
    assert text_width("abc", 10, bold=True) == pytest.approx(20.46)


def test_middle_cut_keeps_both_ends() -> None:
    assert middle_cut("abcdefghij", 42) == "ab…ij"  # 4 letters + … = 41.76 px; 5 would be 49.2
    assert middle_cut("abc", 100) == "abc"


def test_fit_lines_wraps_at_spaces_then_cuts_the_last_line() -> None:
    assert fit_lines("aaaa bbbb cccc dddd", 70) == ["aaaa bbbb", "cccc dddd"]  # 63.84 px each
    assert fit_lines("aaaa bbbb cccc dddd eeee", 70) == ["aaaa bbbb", "cccc…eee"]
    assert fit_lines("aaaa bbbb cccc", 70, max_lines=1) == ["aaaa…ccc"]  # 64.08 px; one more: 71.52


def test_repeated_labels_are_numbered() -> None:
    assert distinct(["A", "B", "A", "A"]) == ["A", "B", "A (2)", "A (3)"]
    # Different labels that the cut makes equal: the second is numbered, and the number shows.
    fits = unique_fits(["aaaa1aaaa", "aaaa2aaaa"], lambda s: [middle_cut(s, 42)])
    assert fits == [["aa…aa"], ["aa…2)"]]


def test_text_lines_centres_the_lines_on_y() -> None:
    assert text_lines(["a", "b"], 10, 50, 13) == (
        '<tspan x="10" y="43.5">a</tspan><tspan x="10" y="56.5">b</tspan>'
    )


def test_timeline_labels_that_differ_at_their_end_stay_apart() -> None:
    """The issue's "Mobile App · Milestone:…" twice: now two lines, the end of each kept."""
    label = "Mobile App Relaunch for the Northern Region · Milestone: Beta release, phase {}"
    rows = [TimelineRow(label.format(n), date(2026, 3, n)) for n in (1, 2)]
    svg = str(timeline_chart(rows, today=date(2026, 3, 5), title="t"))
    assert svg.count("<tspan") == 4  # two lines per label
    assert svg.count("phase 1</tspan>") == 1 and svg.count("phase 2</tspan>") == 1
    assert svg.count(f"<title>{label.format(1)}</title>") == 1  # the full label as tooltip


def test_a_negative_bar_stays_inside_the_plot() -> None:
    """Hours -2 and 4: ticks -2, 0, 2, 4; the plot spans x 80 (the least label column) to 664
    (720 - 56), so zero sits at 80 + 584 * 2/6 = 274.7; the -2 bar runs 194.7 px left of it and
    its value is written right of zero, never over the names."""
    svg = str(bar_chart(["a", "b"], [BarSeries("h", "hours", [-2, 4])], title="t"))
    assert 'd="M274.7,52h-194.7v10h194.7ZM274.7,76h389.3v10h-389.3Z"' in svg
    assert '<text class="value" x="278.7" y="61"' in svg  # -2, beside zero
    assert [t for t in ("-2", "0", "2", "4") if f">{t}</text>" in svg] == ["-2", "0", "2", "4"]
