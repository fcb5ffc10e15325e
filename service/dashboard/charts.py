"""Inline SVG charts, rendered in Python: readable with JavaScript off.

Every chart is one ``<svg>`` with a legend and one ``<path>`` per series carrying
``data-series="<name>"`` (tests and scrapers count them); decorations (axes,
grid, markers, labels) never carry it. Pure functions: data in, markup out.

SVG reference: https://www.w3.org/TR/SVG2/paths.html
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from markupsafe import Markup, escape

from service.dashboard.svg import (
    PALETTE,
    compact_number,
    date_ticks,
    distinct,
    fit_lines,
    fmt_opt,
    glyph,
    legend,
    middle_cut,
    nice_ticks,
    num,
    open_svg,
    text_lines,
    text_width,
    to_markup,
    unique_fits,
)

__all__ = [
    "PALETTE",
    "Series",
    "Marker",
    "BarSeries",
    "TimelineRow",
    "line_chart",
    "bar_chart",
    "timeline_chart",
    "nice_ticks",
    "date_ticks",
    "compact_number",
]


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are ``(date, value)``; a ``None`` value breaks the line."""

    name: str
    label: str
    points: Sequence[tuple[date, float | None]]
    color: str = PALETTE["blue"]
    dashed: bool = False
    area: bool = False  # shade the area below the line
    short: str | None = None  # the end-of-line label (default: label)


@dataclass(frozen=True)
class Marker:
    """A vertical line at a date (today, planned end, exhaustion date)."""

    name: str
    label: str
    at: date
    color: str = PALETTE["grey"]


@dataclass(frozen=True)
class BarSeries:
    name: str
    label: str
    values: Sequence[float | None]
    color: str = PALETTE["blue"]


@dataclass(frozen=True)
class TimelineRow:
    label: str
    due: date | None
    baseline: date | None = None
    forecast: date | None = None
    status: str = "on_track"  # overdue | at_risk | done | on_track | ...
    note: str = ""
    href: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    markers: Sequence[Marker] = (),
    y_format: Callable[[float], str] = compact_number,
    y_min: float | None = 0.0,
    y_integer: bool = False,
    width: int = 720,
    height: int = 280,
    empty_text: str = "no data yet",
) -> Markup:
    """Lines over dates with axes, grid, end labels, vertical markers and a legend."""
    left, right, top, bottom = 58, 104, 52, 28
    items = [(s.name, s.label, s.color, "dashed" if s.dashed else "line") for s in series]
    items += [(f"marker-{m.name}", m.label, m.color, "dashed") for m in markers]
    legend_svg, extra = legend(items, left, width - 8)
    top, height = top + int(extra), height + int(extra)
    pw, ph = width - left - right, height - top - bottom
    dates = [d for s in series for d, v in s.points if v is not None] + [m.at for m in markers]
    values = [v for s in series for _, v in s.points if v is not None]
    desc = "; ".join(f"{s.label}: {_last(s, y_format)}" for s in series)
    cid, out = open_svg("line", title, width, height, desc or empty_text)
    out.append(legend_svg)
    if not dates or not values:
        out.append(
            f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle" fill="#6b7280">'
            f"{escape(empty_text)}</text>"
        )
        out += [f'<path data-series="{escape(s.name)}" d="" fill="none"/>' for s in series]
        out.append("</svg>")
        return to_markup(out)
    d0, d1 = min(dates), max(dates)
    if d1 == d0:
        d1 = d0 + timedelta(days=1)
    lo = min(values) if y_min is None else min(y_min, min(values))
    ticks = nice_ticks(lo, max(values), integer=y_integer)
    y0, y1 = ticks[0], ticks[-1]

    def sx(d: date) -> float:
        return left + pw * (d - d0).days / (d1 - d0).days

    def sy(v: float) -> float:
        return top + ph - ph * (v - y0) / (y1 - y0)

    out.append('<g class="grid" stroke="#e5e7eb" stroke-width="1">')
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{num(sy(t))}" y2="{num(sy(t))}"/>')
    out.append('</g><g class="axis y" fill="#4b5563" text-anchor="end">')
    for t in ticks:
        out.append(f'<text x="{left - 6}" y="{num(sy(t) + 4)}">{escape(y_format(t))}</text>')
    out.append(
        f'</g><g class="axis x" fill="#4b5563" text-anchor="middle">'
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#9ca3af"/>'
    )
    for d, lab in date_ticks(d0, d1):
        out.append(
            f'<line x1="{num(sx(d))}" x2="{num(sx(d))}" y1="{top + ph}" y2="{top + ph + 4}" '
            f'stroke="#9ca3af"/>'
            f'<text x="{num(sx(d))}" y="{top + ph + 17}">{escape(lab)}</text>'
        )
    out.append("</g>")
    for m in markers:
        x = num(sx(m.at))
        out.append(
            f'<g data-marker="{escape(m.name)}"><line x1="{x}" x2="{x}" y1="{top}" y2="{top + ph}" '
            f'stroke="{m.color}" stroke-width="1.5" stroke-dasharray="5 3"/>'
            f"<title>{escape(m.label)}: {m.at.isoformat()}</title></g>"
        )
    ends: list[tuple[float, str, str]] = []
    for s in series:
        d_attr, area, last = _line_path(s, sx, sy, top + ph)
        if s.area:
            out.append(
                f'<path class="area" d="{area}" fill="{s.color}" fill-opacity="0.12" '
                'stroke="none"/>'
            )
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(
            f'<path data-series="{escape(s.name)}" d="{d_attr}" fill="none" stroke="{s.color}" '
            f'stroke-width="2.25" stroke-linejoin="round"{dash}>'
            f"<title>{escape(s.label)}</title></path>"
        )
        if last is not None:
            ends.append((sy(last[1]), f"{s.short or s.label} {y_format(last[1])}", s.color))
    for y, text, color in _spread(ends, top + 4, top + ph):
        out.append(
            f'<text class="end-label" x="{left + pw + 6}" y="{num(y + 4)}" fill="{color}">'
            f"{escape(middle_cut(text, right - 10))}<title>{escape(text)}</title></text>"
        )
    out.append("</svg>")
    return to_markup(out)


def _last(s: Series, fmt: Callable[[float], str]) -> str:
    known = [(d, v) for d, v in s.points if v is not None]
    return f"{fmt(known[-1][1])} on {known[-1][0].isoformat()}" if known else "no data"


def _line_path(
    s: Series, sx: Callable[[date], float], sy: Callable[[float], float], base: float
) -> tuple[str, str, tuple[date, float] | None]:
    """``(line path, area path, last point)``; a ``None`` value starts a new run."""
    runs: list[list[tuple[date, float]]] = [[]]
    for d, v in s.points:
        if v is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((d, v))
    line, area, last = [], [], None
    for run in (r for r in runs if r):
        pts = "L".join(f"{num(sx(d))},{num(sy(v))}" for d, v in run)
        line.append("M" + pts)
        area.append(f"M{num(sx(run[0][0]))},{num(base)}L{pts}L{num(sx(run[-1][0]))},{num(base)}Z")
        last = run[-1]
    return "".join(line), "".join(area), last


def _spread(
    items: list[tuple[float, str, str]], lo: float, hi: float, gap: float = 13
) -> list[tuple[float, str, str]]:
    """Push end labels apart vertically so they never overlap."""
    items = sorted(items)
    out: list[tuple[float, str, str]] = []
    for y, t, c in items:
        y = max(y, lo) if not out else max(y, out[-1][0] + gap)
        out.append((y, t, c))
    overflow = out[-1][0] - hi if out else 0
    if overflow > 0:
        out = [(y - overflow, t, c) for y, t, c in out]
    return out


def bar_chart(
    categories: Sequence[str],
    series: Sequence[BarSeries],
    *,
    title: str,
    x_format: Callable[[float], str] = compact_number,
    x_max: float | None = None,
    x_integer: bool = False,
    links: Sequence[str | None] | None = None,
    width: int = 720,
    empty_text: str = "nothing to show",
) -> Markup:
    """Horizontal grouped bars: one row per category, one bar per series in it. The category
    column is as wide as the longest name needs, up to 30 % of the chart; longer names are cut
    in the middle (the full name is the label's tooltip)."""
    n = max(len(series), 1)
    names = distinct(categories)
    label_width = _column(names, 12, 80, width * 0.3)
    shown = unique_fits(names, lambda c: [middle_cut(c, label_width - 14)])
    bar_h, gap, top, bottom, right = 12, 12, 52, 24, 56
    legend_svg, extra = legend(
        [(s.name, s.label, s.color, "box") for s in series], label_width, width - 8
    )
    top += int(extra)
    row_h = n * bar_h + gap
    height = int(top + bottom + max(len(categories), 1) * row_h)
    pw = width - label_width - right
    vals = [v for s in series for v in s.values if v is not None]
    desc = "; ".join(
        f"{c}: " + ", ".join(f"{s.label} {fmt_opt(s.values[i], x_format)}" for s in series)
        for i, c in enumerate(categories)
    )
    cid, out = open_svg("bar", title, width, height, desc or empty_text)
    out.append(legend_svg)
    # A negative value (a correction logged as negative hours) gets its bar left of zero,
    # inside the plot: the axis starts below zero then, never in the label column.
    ticks = nice_ticks(min([*vals, 0.0]), max([*vals, x_max or 0.0, 1e-9]), integer=x_integer)
    x0, xmax = ticks[0], ticks[-1]

    def sx(v: float) -> float:
        return label_width + pw * (v - x0) / (xmax - x0)

    base_y = top + len(categories) * row_h
    out.append('<g class="grid" stroke="#e5e7eb">')
    for t in ticks:
        out.append(f'<line x1="{num(sx(t))}" x2="{num(sx(t))}" y1="{top - 4}" y2="{base_y}"/>')
    out.append('</g><g class="axis x" fill="#4b5563" text-anchor="middle">')
    for t in ticks:
        out.append(f'<text x="{num(sx(t))}" y="{base_y + 15}">{escape(x_format(t))}</text>')
    out.append('</g><g class="axis y" fill="#111827" text-anchor="end">')
    for i, c in enumerate(categories):
        y = top + i * row_h + (n * bar_h) / 2 + 4
        text = (
            f'<text x="{label_width - 8}" y="{num(y)}">{escape(shown[i][0])}'
            f"<title>{escape(c)}</title></text>"
        )
        href = links[i] if links and i < len(links) else None
        out.append(f'<a href="{escape(href)}">{text}</a>' if href else text)
    out.append("</g>")
    if not categories:
        out.append(
            f'<text x="{label_width + pw / 2}" y="{top + 12}" text-anchor="middle" fill="#6b7280">'
            f"{escape(empty_text)}</text>"
        )
    labels = []
    for j, s in enumerate(series):
        parts = []
        for i, v in enumerate(s.values):
            y = top + i * row_h + j * bar_h
            if v:
                parts.append(
                    f"M{num(sx(0))},{num(y)}h{num(sx(v) - sx(0))}v{bar_h - 2}h{num(sx(0) - sx(v))}Z"
                )
            labels.append(
                f'<text class="value" x="{num(sx(max(v or 0, 0)) + 4)}" y="{num(y + bar_h - 3)}" '
                'fill="#374151" font-size="11">'
                f"{escape(fmt_opt(v, x_format))}</text>"
            )
        out.append(
            f'<path data-series="{escape(s.name)}" d="{"".join(parts)}" fill="{s.color}">'
            f"<title>{escape(s.label)}</title></path>"
        )
    out.append('<g class="values">' + "".join(labels) + "</g></svg>")
    return to_markup(out)


def _column(texts: Sequence[str], size: float, least: float, most: float) -> int:
    """The width of a column of labels: the longest one's, padded, within ``[least, most]``."""
    longest = max((text_width(t, size) for t in texts), default=0.0)
    return math.ceil(min(max(longest + 14, least), most))


TIMELINE_STYLE = {"overdue": PALETTE["red"], "at_risk": PALETTE["amber"], "done": PALETTE["green"]}


def timeline_chart(
    rows: Sequence[TimelineRow],
    *,
    today: date,
    title: str,
    width: int = 720,
) -> Markup:
    """Milestones on a date axis: the baseline due (ring), the current due (diamond) and the
    forecast finish (triangle), a line for the slip between baseline and due, today's line;
    overdue rows on a red band, at-risk rows in amber.

    The label column (left, up to 30 % of the chart) and the notes column (right, up to 22 %)
    are as wide as their longest text needs; a longer text wraps onto a second line, cut in
    the middle when even that is short (the full label is its tooltip)."""
    note_size = 11
    names = distinct([r.label for r in rows])
    label_width = _column(names, 12, 100, width * 0.3)
    labels = unique_fits(names, lambda s: fit_lines(s, label_width - 14))
    right = _column([r.note for r in rows], note_size, 60, width * 0.22)
    notes = [fit_lines(r.note, right - 12, note_size) if r.note else [] for r in rows]
    two_lines = any(len(lines) > 1 for lines in [*labels, *notes])
    row_h, top, bottom = (30 if two_lines else 26), 52, 26
    grey, blue, purple = PALETTE["grey"], PALETTE["blue"], PALETTE["purple"]
    legend_svg, extra = legend(
        [
            ("baseline", "baseline due", grey, "ring"),
            ("due", "due", blue, "diamond"),
            ("forecast", "forecast finish", purple, "triangle"),
            ("marker-today", "today", PALETTE["red"], "dashed"),
        ],
        label_width,
        width - 8,
    )
    top += int(extra)
    height = int(top + bottom + max(len(rows), 1) * row_h)
    pw = width - label_width - right
    dates = [today] + [d for r in rows for d in (r.due, r.baseline, r.forecast) if d is not None]
    d0, d1 = min(dates) - timedelta(days=3), max(dates) + timedelta(days=3)
    desc = "; ".join(
        f"{r.label}: due {r.due or '—'}, baseline {r.baseline or '—'}, {r.status}" for r in rows
    )
    cid, out = open_svg("timeline", title, width, height, desc or "no milestones")
    out.append(legend_svg)

    def sx(d: date) -> float:
        return label_width + pw * (d - d0).days / max((d1 - d0).days, 1)

    base_y = top + len(rows) * row_h
    out.append('<g class="axis x" fill="#4b5563" text-anchor="middle">')
    for d, lab in date_ticks(d0, d1):
        out.append(
            f'<line x1="{num(sx(d))}" x2="{num(sx(d))}" y1="{top - 4}" y2="{base_y}" '
            'stroke="#e5e7eb"/>'
            f'<text x="{num(sx(d))}" y="{base_y + 16}">{escape(lab)}</text>'
        )
    out.append("</g>")
    glyphs: dict[str, list[str]] = {"baseline": [], "due": [], "forecast": []}
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        color = TIMELINE_STYLE.get(r.status, "#111827")
        if r.status == "overdue":
            out.append(
                f'<rect class="overdue-band" x="0" y="{num(y - row_h / 2 + 1)}" width="{width}" '
                f'height="{row_h - 2}" fill="#fee2e2"/>'
            )
        text = (
            f'<text x="{label_width - 8}" y="{num(y + 4)}" text-anchor="end" fill="{color}" '
            f'data-status="{escape(r.status)}">{text_lines(labels[i], label_width - 8, y + 4, 13)}'
            f"<title>{escape(r.label)}</title></text>"
        )
        out.append(f'<a href="{escape(r.href)}">{text}</a>' if r.href else text)
        if r.baseline and r.due and r.baseline != r.due:
            out.append(
                f'<line class="slip" x1="{num(sx(r.baseline))}" x2="{num(sx(r.due))}" '
                f'y1="{num(y)}" y2="{num(y)}" stroke="{color if r.status == "overdue" else grey}" '
                'stroke-width="2"/>'
            )
        for key, when in (("baseline", r.baseline), ("due", r.due), ("forecast", r.forecast)):
            if when is not None:
                glyphs[key].append(
                    glyph(
                        {"baseline": "ring", "due": "diamond", "forecast": "triangle"}[key],
                        sx(when),
                        y,
                    )
                )
        if r.note:
            out.append(
                f'<text class="note" x="{label_width + pw + 8}" y="{num(y + 4)}" fill="{color}" '
                f'font-size="{note_size}">{text_lines(notes[i], label_width + pw + 8, y + 4, 12)}'
                f"<title>{escape(r.note)}</title></text>"
            )
    tx = num(sx(today))
    out.append(
        f'<g data-marker="today"><line x1="{tx}" x2="{tx}" y1="{top - 4}" y2="{base_y}" '
        f'stroke="{PALETTE["red"]}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        f"<title>today: {today.isoformat()}</title></g>"
    )
    out.append(
        f'<path data-series="baseline" d="{"".join(glyphs["baseline"])}" fill="#fff" '
        f'stroke="{grey}" '
        'stroke-width="1.75"><title>baseline due</title></path>'
    )
    out.append(
        f'<path data-series="due" d="{"".join(glyphs["due"])}" fill="{blue}">'
        "<title>due</title></path>"
    )
    out.append(
        f'<path data-series="forecast" d="{"".join(glyphs["forecast"])}" fill="{purple}">'
        "<title>forecast finish</title></path>"
    )
    if not rows:
        out.append(
            f'<text x="{label_width + pw / 2}" y="{top + 14}" text-anchor="middle" fill="#6b7280">'
            "no milestones</text>"
        )
    out.append("</svg>")
    return to_markup(out)
