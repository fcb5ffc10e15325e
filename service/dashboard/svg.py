"""SVG building blocks shared by the charts: palette, ticks, number format, legend, glyphs.

SVG reference: https://www.w3.org/TR/SVG2/ (paths: https://www.w3.org/TR/SVG2/paths.html)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from itertools import count

from markupsafe import Markup, escape

__all__ = [
    "PALETTE",
    "compact_number",
    "nice_ticks",
    "date_ticks",
    "num",
    "open_svg",
    "legend",
    "glyph",
    "fmt_opt",
    "text_width",
    "middle_cut",
    "fit_lines",
    "distinct",
    "unique_fits",
    "text_lines",
    "to_markup",
]

PALETTE = {
    "blue": "#2563eb",
    "green": "#16a34a",
    "grey": "#6b7280",
    "red": "#dc2626",
    "amber": "#d97706",
    "purple": "#7c3aed",
    "teal": "#0d9488",
}
FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"'
_ids = count(1)


def compact_number(v: float) -> str:
    """1234 → 1.2k, 30000 → 30k, 0.5 → 0.5."""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            s = f"{v / div:.1f}".rstrip("0").rstrip(".")
            return s + suffix
    if a >= 100 or v == int(v):
        return str(int(round(v)))
    return f"{v:.2f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, n: int = 5, *, integer: bool = False) -> list[float]:
    """Round tick values covering ``[lo, hi]`` with at most about ``n`` steps (whole
    steps when ``integer``: task counts never get a 2.5 tick)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    span = hi - lo
    mag = 10 ** math.floor(math.log10(span / n))
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        step = m * mag
        if integer and step != int(step):
            continue
        if span / step <= n:
            break
    if integer:
        step = max(step, 1.0)
    start = math.floor(lo / step + 1e-9) * step
    end = max(math.ceil(hi / step - 1e-9) * step, start + step)
    k = int(round((end - start) / step))
    return [round(start + i * step, 10) for i in range(k + 1)]


def date_ticks(start: date, end: date, n: int = 6) -> list[tuple[date, str]]:
    """Readable date ticks: days or weeks (``Mar 02``) or month starts (``Mar 2026``)."""
    span = max((end - start).days, 1)
    for step in (1, 2, 7, 14):
        if span / step <= n:
            first = start if step < 7 else start + timedelta(days=(7 - start.weekday()) % 7)
            out, d = [], first
            while d <= end:
                out.append((d, d.strftime("%b %d")))
                d += timedelta(days=step)
            return out
    months = max(1, math.ceil(span / 30.4 / n))
    y, m = start.year, start.month
    out = []
    while True:
        m += 1
        if m > 12:
            y, m = y + 1, 1
        d = date(y, m, 1)
        if d > end:
            break
        if (y * 12 + m) % months == 0:
            out.append((d, d.strftime("%b %Y")))
    return out or [(start, start.strftime("%b %d"))]


def num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def open_svg(kind: str, title: str, width: int, height: int, desc: str) -> tuple[str, list[str]]:
    cid = f"chart-{next(_ids)}"
    head = (
        f'<svg class="chart chart-{kind}" data-chart="{kind}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT} font-size="12">'
    )
    return cid, [
        head,
        f'<title id="{cid}-t">{escape(title)}</title>',
        f'<desc id="{cid}-d">{escape(desc)}</desc>',
        f'<text class="chart-title" x="4" y="15" font-size="14" font-weight="600" fill="#111827">'
        f"{escape(middle_cut(title, width - 8, 14 * 1.1))}</text>",
    ]


LEGEND_Y, LEGEND_ROW = 36, 17


def legend(
    items: Sequence[tuple[str, str, str, str]], x0: float, max_x: float
) -> tuple[str, float]:
    """``(markup, extra height)`` of a legend that wraps onto more rows when it must.
    Items are ``(name, label, color, style)``, style ``line`` | ``dashed`` | ``box`` | ``diamond`` |
    ``ring`` | ``triangle``."""
    parts = ['<g class="legend">']
    x, y = x0, float(LEGEND_Y)
    for name, label, color, style in items:
        w = 34 + 7 * len(label)
        if x > x0 and x + w - 12 > max_x:
            x, y = x0, y + LEGEND_ROW
        parts.append(f'<g data-legend="{escape(name)}" transform="translate({num(x)},{num(y)})">')
        if style == "box":
            parts.append(f'<rect x="0" y="-9" width="14" height="10" fill="{color}"/>')
        elif style in ("diamond", "ring", "triangle"):
            parts.append(
                f'<path d="{glyph(style, 7, -4)}" fill="{"none" if style == "ring" else color}" '
                f'stroke="{color}" stroke-width="1.5"/>'
            )
        else:
            dash = ' stroke-dasharray="5 3"' if style == "dashed" else ""
            parts.append(
                f'<line x1="0" y1="-4" x2="18" y2="-4" stroke="{color}" stroke-width="2.5"{dash}/>'
            )
        parts.append(f'<text x="22" y="0" fill="#111827">{escape(label)}</text></g>')
        x += w
    parts.append("</g>")
    return "".join(parts), y - LEGEND_Y


def glyph(style: str, x: float, y: float, r: float = 5.5) -> str:
    if style == "diamond":
        return f"M{num(x)},{num(y - r)}l{num(r)},{num(r)}l{num(-r)},{num(r)}l{num(-r)},{num(-r)}Z"
    if style == "triangle":
        return f"M{num(x)},{num(y - r)}l{num(r)},{num(2 * r * 0.85)}h{num(-2 * r)}Z"
    # ring: a circle as two arcs, so many rings fit in one path
    arc = f"a{num(r)},{num(r)} 0 1,0"
    return f"M{num(x - r)},{num(y)}{arc} {num(2 * r)},0{arc} {num(-2 * r)},0Z"


def fmt_opt(v: float | None, fmt: Callable[[float], str]) -> str:
    return "—" if v is None else fmt(v)


# Advance widths in em of DejaVu Sans (what ``system-ui`` resolves to on Debian, the widest of
# the fonts FONT names): charts size their label columns with them and fit labels into them,
# so a label is never clipped by the chart's edge whatever font the browser picks.
_NARROW, _WIDE, _UPPER = set("fijlrtI1.,:;'|!()[] ·"), set("mwMW…—%@"), set("ABCDEFGHKNOPQRUVXYZ")
ELLIPSIS = "…"


def text_width(s: str, size: float = 12, *, bold: bool = False) -> float:
    """The width in px a line of text takes at font size ``size`` (an upper estimate)."""
    em = 0.0
    for c in s:
        if c in _NARROW:
            em += 0.36
        elif c in _WIDE:
            em += 1.0
        elif c in _UPPER or c.isdigit() or not c.isascii():
            em += 0.72
        else:
            em += 0.62
    return em * size * (1.1 if bold else 1.0)


def middle_cut(s: str, width: float, size: float = 12) -> str:
    """``s`` cut in the middle to fit ``width``: the start and the end stay, because that is
    where names differ ("Mobile App · Milestone: Beta 1" / "… Beta 2")."""
    if text_width(s, size) <= width:
        return s
    head, tail = 0, 0
    while head + tail < len(s):
        grow_head = head <= tail
        h, t = (head + 1, tail) if grow_head else (head, tail + 1)
        if text_width(_cut(s, h, t), size) > width:
            break
        head, tail = h, t
    return _cut(s, head, tail)


def _cut(s: str, head: int, tail: int) -> str:
    return s[:head].rstrip() + ELLIPSIS + (s[len(s) - tail :].lstrip() if tail else "")


def fit_lines(s: str, width: float, size: float = 12, max_lines: int = 2) -> list[str]:
    """``s`` on at most ``max_lines`` lines of ``width`` px: broken at spaces, the last line
    cut in the middle when the rest still does not fit."""
    words, lines = s.split(" "), list[str]()
    while len(lines) < max_lines - 1 and text_width(" ".join(words), size) > width:
        n = 0
        while n < len(words) and text_width(" ".join(words[: n + 1]), size) <= width:
            n += 1
        if n == 0:  # one word wider than the line: cut it below instead
            break
        lines.append(" ".join(words[:n]))
        words = words[n:]
    return [*lines, middle_cut(" ".join(words), width, size)]


def distinct(labels: Sequence[str]) -> list[str]:
    """The labels with a repeated one numbered " (2)", " (3)" … in order of appearance."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return out


def unique_fits(
    labels: Sequence[str], fit: Callable[[str], list[str]]
) -> list[list[str]]:
    """Each label fitted by ``fit``, numbered " (2)", " (3)" … when what is shown would repeat
    one shown before (two people of the same name, two labels that differ only where they were
    cut): a chart never shows two labels a reader cannot tell apart."""
    seen: set[str] = set()
    out = []
    for label in labels:
        lines, n = fit(label), 1
        while " ".join(lines) in seen and n < 1000:
            n += 1
            lines = fit(f"{label} ({n})")
        seen.add(" ".join(lines))
        out.append(lines)
    return out


def text_lines(lines: Sequence[str], x: float, y: float, line_h: float) -> str:
    """``<tspan>`` lines of one ``<text>`` centred vertically on ``y`` (already escaped)."""
    top = y - line_h * (len(lines) - 1) / 2
    return "".join(
        f'<tspan x="{num(x)}" y="{num(top + i * line_h)}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )


def to_markup(parts: Sequence[str]) -> Markup:
    """The finished chart in its box: the box scrolls sideways when the page is too narrow
    for the chart to stay readable (dashboard.css), so the page itself never does.
    Every piece of text in ``parts`` went through ``escape``."""
    return Markup(  # noqa: S704 - built here from escaped text only
        '<div class="chart-box">' + "".join(parts) + "</div>"
    )
