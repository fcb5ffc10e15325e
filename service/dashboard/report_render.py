"""The status report's rendering (issue 23): a standalone HTML page and a PDF, from its stored data.

HTML: ``report.html`` with the dashboard's stylesheet embedded (the page is mailed and opened
outside the dashboard, so it carries its own style and its charts as inline SVG: no request to
taskhub is needed to read it). The charts are the dashboard's (``build.burnup_chart``,
``build.budget_chart``, ``charts.bar_chart``).

PDF: fpdf2 (pure Python; see docs/DESIGN_NOTES.md for WeasyPrint against it), laid out natively
(tables and lists) with the same SVG charts drawn as vectors by fpdf2's SVG support. Its text is
in fonts shipped in ``fonts/`` (their README says what and whence): DejaVu Sans (a subset: Latin,
Greek, Cyrillic, Armenian, Georgian, symbols) and, as fpdf2's fallback fonts loaded only for a report
that has their characters, Noto Sans Hebrew, Arabic, Thai and Devanagari (with fpdf2's HarfBuzz
text shaping and bidi, on for such a report only) and Droid Sans Fallback for CJK. A character no
font draws is written as U+FFFD "\ufffd" (``pdf_text``), never dropped; the HTML keeps every
character.

``RENDERER`` is what the edge hands to ``service.reports.snapshots`` (the domain may not import
the dashboard).
"""

from __future__ import annotations

import copy
import html
import io
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont
from markupsafe import Markup, escape

from service.dashboard.build import budget_chart, burnup_chart
from service.dashboard.charts import PALETTE, BarSeries, Series, bar_chart, line_chart
from service.dashboard.render import STATIC, env, money, num, pct, ratio

__all__ = ["FONTS", "RENDERER", "ReportRenderer", "coverage", "fallbacks_for", "pdf_text"]

QUALITY_LABELS = {
    "open_defects": "Open defects", "inflow": "Defects created", "outflow": "Defects done",
    "bug_share_of_throughput": "Bug share of throughput (4 weeks)",
    "defect_throughput_per_week": "Defects done per week",
    "reopened_defects": "Defects reopened", "escaped_defects": "Escaped defects",
}


@lru_cache(maxsize=1)
def _css() -> tuple[str, str]:
    return ((STATIC / "dashboard.css").read_text(encoding="utf-8"), (STATIC / "report.css").read_text(encoding="utf-8"))


def _signed(v: float | None) -> str:
    return "" if v is None else f"{v:+,.0f}"


def _pp(v: float | None) -> str:
    return "" if v is None else f"{v * 100:+.1f} pp"


def _signed_money(v: float | None) -> str:
    return "" if v is None else f"{v:+,.0f} this week"


def baseline_text(d: dict[str, Any]) -> str:
    b = d.get("baseline") or {}
    if b.get("kind") == "previous_report":
        return f"the {b.get('week')} report"
    return f"the end of {b.get('week')} (no {b.get('week')} report stored)"


def _quality_facts(total: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The quality view's totals the report shows, labelled, in the view's own rounding."""
    if not total:
        return []
    out = [(label, pct(total.get(k), 1) if "share" in k else num(total.get(k))) for k, label in QUALITY_LABELS.items()]
    age = total.get("open_defect_age_days") or {}
    if age.get("p50") is not None:
        out.append(("Open defect age, median / p85 (days)", f"{num(age.get('p50'))} / {num(age.get('p85'))}"))
    return out


def _quality_chart(d: dict[str, Any]) -> Markup | None:
    weeks = (d.get("quality") or {}).get("weeks") or []
    if not weeks:
        return None
    days = [date.fromisoformat(w["start"]) for w in weeks]
    return line_chart([Series("created", "defects created", list(zip(days, [w.get("created") for w in weeks],
                                                                      strict=True)), PALETTE["red"]),
                       Series("done", "defects done", list(zip(days, [w.get("done") for w in weeks], strict=True)),
                              PALETTE["green"])],
                      title="Defects per week", y_format=lambda v: f"{v:.0f}", y_integer=True)


def _progress_bars(d: dict[str, Any]) -> Markup | None:
    rows = [p for p in d.get("projects") or [] if p["progress"].get("percent_complete_count") is not None]
    if len(rows) < 2:
        return None
    shares = [p["progress"]["percent_complete_count"] for p in rows]
    return bar_chart([p["name"] for p in rows], [BarSeries("complete", "percent complete", shares)],
                     title="Percent complete", x_format=lambda v: f"{v * 100:.0f}%", x_max=1.0)


def _charts(d: dict[str, Any]) -> tuple[Markup, Markup]:
    series = d.get("series") or {}
    burnup = burnup_chart({"series": {"burnup": series.get("burnup") or []}}, title="Burn-up")
    total = dict(d["total"]["budget"])
    total["currency"] = total.get("currency") or d.get("currency")
    budget = budget_chart({"total": total, "series": {"cost": series.get("cost") or []}},
                          date.fromisoformat(d["as_of_date"]), title="Budget burn")
    return burnup, budget


class ReportRenderer:
    """The ``service.reports.snapshots.Renderer`` of taskhub: HTML page and PDF."""

    def html(self, data: dict[str, Any], *, commentary: str | None, status: str) -> str:
        burnup, budget = _charts(data)
        css, report_css = _css()
        return env().get_template("report.html").render(
            d=data, commentary=commentary, status=status, css=Markup(css),  # noqa: S704 - our own stylesheets
            report_css=Markup(report_css),  # noqa: S704
            baseline_text=baseline_text(data), burnup=burnup, budget=budget, progress_bars=_progress_bars(data),
            quality_facts=_quality_facts((data.get("quality") or {}).get("total")), quality_chart=_quality_chart(data),
            signed=_signed, pp=_pp, signed_money=_signed_money,
        )

    def pdf(self, data: dict[str, Any], *, commentary: str | None, status: str) -> bytes:
        return _Pdf(data, commentary, status).build()


RENDERER = ReportRenderer()


FONTS = Path(__file__).parent / "fonts"
SANS, CJK = "taskhub-sans", "taskhub-cjk"  # the PDF's font families (fpdf2 names)
_SANS_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
# The fallback fonts, in the order fpdf2 tries them, each loaded only for a report that has a
# character only it draws. The first four need HarfBuzz (bidi, joining, reordering: SHAPED).
HEBREW, ARABIC, THAI, DEVANAGARI = "taskhub-hebrew", "taskhub-arabic", "taskhub-thai", "taskhub-devanagari"
_FALLBACK_FILES: dict[str, dict[str, str]] = {
    HEBREW: {"": "NotoSansHebrew-Regular.ttf", "B": "NotoSansHebrew-Bold.ttf"},
    ARABIC: {"": "NotoSansArabic-Regular.ttf", "B": "NotoSansArabic-Bold.ttf"},
    THAI: {"": "NotoSansThai-Regular.ttf", "B": "NotoSansThai-Bold.ttf"},
    DEVANAGARI: {"": "NotoSansDevanagari-Regular.ttf", "B": "NotoSansDevanagari-Bold.ttf"},
    CJK: {"": "DroidSansFallback.ttf"},  # no bold: its regular face (exact_match=False)
}
SHAPED = frozenset({HEBREW, ARABIC, THAI, DEVANAGARI})
RTL = frozenset({HEBREW, ARABIC})
REPLACEMENT = "\ufffd"


@lru_cache(maxsize=1)
def coverage() -> tuple[frozenset[int], dict[str, frozenset[int]]]:
    """The code points the main font draws (regular and bold both), and for each fallback font
    those it is the first to draw (not the main font, not an earlier fallback): the font fpdf2
    takes for them. Read once per process from the fonts' character maps (~60 ms)."""
    from fontTools.ttLib import TTFont

    def cmap(name: str) -> frozenset[int]:
        with TTFont(FONTS / name, lazy=True) as font:
            return frozenset(font.getBestCmap())

    main = frozenset.intersection(*(cmap(f) for f in _SANS_FILES.values()))
    taken, fallbacks = set(main), {}
    for family, files in _FALLBACK_FILES.items():
        # Its regular face decides (a bold face, where there is one, draws the same characters).
        fallbacks[family] = cmap(files[""]) - taken
        taken |= fallbacks[family]
    return main, fallbacks


def _invisible(ch: str) -> bool:
    """Controls, format characters (joiners, direction marks) and variation selectors: nothing to draw."""
    cp = ord(ch)
    return unicodedata.category(ch) in ("Cc", "Cf") or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def pdf_text(s: Any, *, fonts: Iterable[str] | None = None) -> str:
    """``s`` as the PDF writes it: composed (NFC: a Vietnamese letter typed as a base and its marks
    becomes the one glyph the font has), each character the fonts cannot draw as U+FFFD, visibly —
    never dropped (fpdf2 would drop it with a log line) — and invisible ones left out (joiners and
    direction marks too: the text is shaped and ordered by fpdf2's HarfBuzz and bidi). ``fonts``:
    the fallback fonts the document loaded (default all; the characters of one not loaded are
    U+FFFD too)."""
    text = str(s)
    if text.isascii() and text.isprintable():
        return text
    main, fallbacks = coverage()
    drawn = [main, *(fallbacks[f] for f in (fallbacks if fonts is None else fonts))]
    return "".join("\n" if ch == "\n" else " " if ch == "\t" else "" if _invisible(ch)
                   else ch if any(ord(ch) in cover for cover in drawn) else REPLACEMENT
                   for ch in unicodedata.normalize("NFC", text))


def fallbacks_for(text: str) -> list[str]:
    """The fallback fonts ``text`` needs, in ``coverage()``'s order."""
    chars = {ord(ch) for ch in unicodedata.normalize("NFC", text)}
    return [family for family, cover in coverage()[1].items() if not chars.isdisjoint(cover)]


def _font_of(ch: str, fallbacks: dict[str, frozenset[int]]) -> str:
    cp = ord(ch)
    return next((family for family, cover in fallbacks.items() if cp in cover), SANS)


def _visual(text: str) -> str:
    """``text`` in the order it is seen, for the charts' SVG text (fpdf2 draws it without bidi or
    shaping): its right-to-left runs turned around by fpdf2's own bidi algorithm (``_rtl_visual``)."""
    from fpdf.bidi import BidiParagraph, auto_detect_base_direction
    from fpdf.enums import TextDirection

    base = auto_detect_base_direction(text)
    runs = [_rtl_visual(run) if direction == TextDirection.RTL else run
            for run, direction in BidiParagraph(text=text, base_direction=base).get_bidi_fragments()]
    if base == TextDirection.RTL:
        runs.reverse()
    return "".join(runs)


_MIRRORED = dict(zip("()[]{}<>«»‹›", ")(][}{><»«›‹", strict=True))


def _is_arabic(ch: str) -> bool:
    return 0x0600 <= ord(ch) <= 0x06FF or 0x0750 <= ord(ch) <= 0x077F


def _rtl_visual(run: str) -> str:
    """A right-to-left run left to right: its letters (each with the marks that follow it) in
    reverse order, brackets mirrored, and each Arabic word as the joined forms HarfBuzz picks
    (``_arabic_forms``)."""
    items: list[str] = []
    for cluster in _clusters(run):
        if items and _is_arabic(cluster[0]) and _is_arabic(items[-1][0]):
            items[-1] += cluster  # an Arabic word stays whole, to be shaped
        else:
            items.append(cluster)
    return "".join((_arabic_forms(item) or "".join(_clusters(item)[::-1])) if _is_arabic(item[0])
                   else _MIRRORED.get(item, item) for item in reversed(items))


@lru_cache(maxsize=1)
def _arabic_shaper() -> tuple[Any, dict[int, int]]:
    """HarfBuzz's font for Noto Sans Arabic (only read after: safe to share between threads) and
    a map from each glyph to a character the font draws with it (the presentation forms U+FB50–
    U+FEFF name most initial, medial and final forms and the lam-alef ligatures)."""
    import uharfbuzz as hb
    from fontTools.ttLib import TTFont

    path = FONTS / _FALLBACK_FILES[ARABIC][""]
    with TTFont(path, lazy=True) as font:
        glyph_chars: dict[int, int] = {}
        for cp, name in sorted(font.getBestCmap().items()):
            glyph_chars.setdefault(font.getGlyphID(name), cp)
    return hb.Font(hb.Face(hb.Blob.from_file_path(path))), glyph_chars


def _arabic_forms(word: str) -> str | None:
    """An Arabic word shaped by HarfBuzz and written back as the characters of the glyphs it
    picked, left to right: drawn one by one (as fpdf2 draws SVG text) they are the joined word.
    None when a glyph has no character (then its letters are only turned around)."""
    import uharfbuzz as hb

    font, glyph_chars = _arabic_shaper()
    buf = hb.Buffer()
    buf.add_str(word)
    buf.direction, buf.script = "rtl", "Arab"
    hb.shape(font, buf, {})
    chars = [glyph_chars.get(info.codepoint) for info in buf.glyph_infos]  # in visual order
    return None if any(cp is None for cp in chars) else "".join(chr(cp) for cp in chars if cp is not None)


def _clusters(run: str) -> list[str]:
    """``run`` cut into letters each with the marks that follow it (vowel points, harakat)."""
    out: list[str] = []
    for ch in run:
        if out and unicodedata.category(ch).startswith("M"):
            out[-1] += ch
        else:
            out.append(ch)
    return out


class _ParsedFonts:
    """fpdf2's parsed fonts, kept for the process: fpdf2 parses a font file on every ``add_font``
    (Droid Sans Fallback: ~0.25 s, most of a CJK report's render). Each document gets its own
    ``TTFFont`` sharing the parsed, read-only parts (character map, glyph ids, metrics, names) and
    with its own per-document ones: widths (a defaultdict, filled on reads), the subset of glyphs
    used, the font descriptor (a PDF object fpdf2 numbers and completes while writing the PDF), the
    HarfBuzz font (fpdf2 sets its size before each shaping) and the fontTools font, which
    fpdf2 subsets in place when writing the PDF: a fresh lazy one from the file's bytes, given the
    glyph order the template worked out (for Droid it is derived from its character map, ~0.1 s)
    and without the layout tables the PDF does not embed.
    Safe with threads: the templates are made under a lock and only read after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._templates: dict[tuple[str, str], tuple[TTFFont, bytes, list[str]]] = {}

    def _template(self, family: str, style: str, name: str) -> tuple[TTFFont, bytes, list[str]]:
        from fontTools.ttLib import TTFont

        key = (f"{family}{style}", name)
        with self._lock:
            if key not in self._templates:
                scratch = FPDF()
                scratch.add_font(family, style, FONTS / name)
                font = scratch.fonts[f"{family}{style}"]
                assert isinstance(font, TTFFont)
                glyph_order = font.ttfont.getGlyphOrder()
                # Its parsed tables are not read again (each document opens its own): ~20 MB for Droid.
                font.ttfont.close()
                font.ttfont = TTFont()
                self._templates[key] = (font, (FONTS / name).read_bytes(), glyph_order)
            return self._templates[key]

    def add(self, pdf: FPDF, family: str, style: str, name: str) -> None:
        """``pdf.add_font(family, style, FONTS / name)``, from the parsed template."""
        from fontTools.ttLib import TTFont

        template, data, glyph_order = self._template(family, style, name)
        font = TTFFont.__new__(TTFFont)
        for slot in TTFFont.__slots__:
            if hasattr(template, slot):  # (fpdf2 leaves some unset)
                setattr(font, slot, getattr(template, slot))
        font.i = len(pdf.fonts) + 1
        font.cw = copy.copy(template.cw)  # a defaultdict, its default kept
        # The font descriptor is a PDF object: fpdf2 numbers it and hangs the font file on it while
        # writing, so a shared one took another document's object numbers in parallel renders.
        font.desc = copy.copy(template.desc)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None  # noqa: SLF001 - made from the file on first use, per document
        font.ttfont = TTFont(io.BytesIO(data), lazy=True, recalcTimestamp=False)
        font.ttfont.setGlyphOrder(list(glyph_order))
        for tag in _LAYOUT_TABLES:  # the PDF drops them (fpdf2's subset options); HarfBuzz reads the file
            if tag in font.ttfont:
                del font.ttfont[tag]
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


PARSED_FONTS = _ParsedFonts()
# fontTools' subsetter reads these before fpdf2's options drop them: ~60 ms a render for the Noto
# Arabic and Devanagari ones, whose substitution and positioning rules are large.
_LAYOUT_TABLES = ("GDEF", "GSUB", "GPOS")


_SVG_WRAP = re.compile(r'^<div class="chart-box">|</div>$')
_FONT_FAMILY = re.compile(r'font-family="[^"]*"')
_TEXT_NODE = re.compile(r"<text\b([^>]*)>([^<]*)((?:<title>[^<]*</title>)?)</text>")  # a label, its tooltip
_EMPTY_PATH = re.compile(r'<path [^>]*\bd=""[^>]*?(?:/>|>.*?</path>)', re.DOTALL)
_SVG_TITLE = re.compile(r"<title[^>]*>([^<]*)</title>")


class _Pdf:
    """One A4 document: heading, commentary, projects table, milestones, risks, quality, charts."""

    def __init__(self, d: dict[str, Any], commentary: str | None, status: str) -> None:
        self.d, self.commentary, self.status = d, commentary, status
        self.pdf = FPDF(format="A4", unit="mm")
        self.pdf.set_auto_page_break(True, margin=14)
        self.pdf.set_margins(14, 14, 14)
        for style, name in _SANS_FILES.items():
            PARSED_FONTS.add(self.pdf, SANS, style, name)
        # Each fallback font only when the report has a character only it draws (subsetting the
        # CJK one into the PDF takes ~0.1 s), and HarfBuzz shaping and bidi only when one of those
        # needs them.
        self.fonts = fallbacks_for(json.dumps(d, ensure_ascii=False) + (commentary or ""))
        for family in self.fonts:
            for style, name in _FALLBACK_FILES[family].items():
                PARSED_FONTS.add(self.pdf, family, style, name)
        if self.fonts:
            self.pdf.set_fallback_fonts(self.fonts, exact_match=False)  # bold CJK: its regular face
        if SHAPED.intersection(self.fonts):
            self.pdf.set_text_shaping(True)
        self.pdf.set_title(pdf_text(f"Status report {d['scope_name']} {d['week']}", fonts=self.fonts))
        self.pdf.set_creator("taskhub")

    def text(self, s: Any, size: float = 10, style: str = "", h: float = 5.0) -> None:
        self.pdf.set_font(SANS, style, size)
        self.pdf.multi_cell(0, h, pdf_text(s, fonts=self.fonts), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(self, s: str, size: float = 13) -> None:
        self.pdf.ln(3)
        self.text(s, size, "B", 7)
        self.pdf.ln(1)

    def table(self, head: list[str], rows: Iterable[list[str]], widths: tuple[float, ...]) -> None:
        self.pdf.set_font(SANS, "", 8.5)
        with self.pdf.table(col_widths=widths, text_align="LEFT", line_height=4.6,
                            first_row_as_headings=True) as t:
            for cells in [head, *rows]:
                row = t.row()
                for c in cells:
                    row.cell(pdf_text(c, fonts=self.fonts))

    def chart(self, svg: Markup, width: float = 170) -> None:
        raw = self.svg_text(_SVG_WRAP.sub("", str(svg)))
        raw = _EMPTY_PATH.sub("", raw)  # a series with no point (fpdf2 refuses a path without a move)
        if self.pdf.will_page_break(70):
            self.pdf.add_page()
        logging.getLogger("fpdf.svg").setLevel(logging.ERROR)  # its notes on the <desc> it does not draw
        try:
            self.pdf.image(io.BytesIO(raw.encode("utf-8")), w=width)
        except Exception:  # noqa: BLE001 - one chart fpdf2 cannot draw must not cost the report
            logging.getLogger("taskhub.reports").exception("report.pdf_chart_failed")
            title = _SVG_TITLE.search(raw)
            self.text(f"(The chart {title.group(1) if title else ''} is in the HTML report.)", 9)
        self.pdf.ln(2)

    def svg_text(self, raw: str) -> str:
        """The chart's text in the PDF's fonts: fpdf2's SVG text has neither fallback fonts nor
        shaping, so each <text> names the main font, its stretches in other scripts are <tspan>s
        in their fallback font (regular: CJK has no bold), and right-to-left ones are put in the
        order they are seen (``_visual``: Hebrew reads right, Arabic joined; Thai and Devanagari
        stay unshaped: the labels are project names the table above writes shaped).
        Its text goes through ``pdf_text`` first, as the body's does."""
        raw = _FONT_FAMILY.sub(f'font-family="{SANS}"', raw)
        fallbacks = coverage()[1]

        def node(m: re.Match[str]) -> str:
            attrs = m[1] if "font-family=" in m[1] else f' font-family="{SANS}"{m[1]}'
            text = pdf_text(html.unescape(m[2]), fonts=self.fonts)
            if RTL.intersection(self.fonts):
                text = _visual(text)
            runs = []  # (pdf_text left fallback characters only if their font is loaded)
            for family, chars in groupby(text, key=lambda ch: _font_of(ch, fallbacks)):
                run = escape("".join(chars))
                weight = ' font-weight="normal"' if family == CJK else ""
                runs.append(str(run) if family == SANS else f'<tspan font-family="{family}"{weight}>{run}</tspan>')
            return f"<text{attrs}>{''.join(runs)}{m[3]}</text>"

        return _TEXT_NODE.sub(node, raw)

    def build(self) -> bytes:
        d, p = self.d, self.pdf
        p.add_page()
        self.text(f"Weekly status report - {d['scope']}" + (" - DRAFT" if self.status == "draft" else ""), 9)
        self.text(f"{d['scope_name']}  {d['week']}", 18, "B", 9)
        self.text(f"{d['week_start']} to {d['week_end']} ({d['timezone']}); figures as of {d['as_of_date']}; "
                  f"changes since {baseline_text(d)}", 9)
        if self.commentary:
            self.heading("Commentary")
            self.text(self.commentary, 10)
        self.heading("Projects")
        cur = d.get("currency") or ""
        rows = []
        for r in d.get("projects") or []:
            pr, b = r["progress"], r["budget"]
            rag = (r.get("rag") or "-").upper() + (f" ({r['rule']})" if r.get("rule") else "")
            rows.append([
                r["name"], rag,
                f"{num(pr.get('done'))} / {num(pr.get('scope'))} {_signed(pr.get('delta_done'))}".strip(),
                f"{pct(pr.get('percent_complete_count'))} {_pp(pr.get('delta_percent_complete_count'))}".strip(),
                f"{money(b.get('ac'), b.get('currency') or cur)} {_signed(b.get('delta_ac'))}".strip(),
                pct(b.get("consumed_share")), ratio(b.get("cpi")), ratio(b.get("spi")),
                (b.get("exhaustion_date") or "-") + (" before end" if b.get("exhaustion_before_planned_end") else ""),
            ])
        if rows:
            self.table(["Project", "Status", "Done", "Complete", "Actual cost", "Used", "CPI", "SPI", "Exhaustion"],
                       rows, (34, 30, 18, 20, 24, 12, 10, 10, 24))
        else:
            self.text(f"No projects in this {d['scope']}.")
        self.heading("Milestones")
        labels = (("done", "Done this week"), ("slipped", "Slipped this week"), ("overdue", "Overdue"),
                  ("coming", "Coming (next 14 days)"))
        for key, label in labels:
            ms = d["milestones"].get(key) or []
            self.text(f"{label}: {len(ms)}", 10, "B")
            for m in ms:
                extra = f" - {m.get('why')}" if key == "slipped" else ""
                self.text(f"  {m['name']} ({m.get('project') or '-'}), due {m.get('due_date') or '-'}{extra}", 9)
        self.heading("Top risks")
        risks = d.get("top_risks") or []
        if risks:
            self.table(["Risk", "Project", "P x I", "Owner", "Status", "Review"],
                       [[r["title"], r.get("project") or "-", f"{r['probability']} x {r['impact']} = {r['score']}",
                         r.get("owner") or "-", r["status"], r.get("review_date") or "-"] for r in risks],
                       (60, 32, 22, 26, 20, 22))
        else:
            self.text("No open entries in the risk register.", 9)
        for t in d.get("blocked") or []:
            self.text(f"  Blocked: {t.get('key') or t.get('task_id')} {t.get('title') or ''}", 9)
        self.heading("Quality")
        facts = _quality_facts((d.get("quality") or {}).get("total"))
        reason = (d.get("quality") or {}).get("reason") or "-"
        self.text("; ".join(f"{k}: {v}" for k, v in facts) if facts else reason, 9)
        p.add_page()  # the charts start a page of their own: the figures above stay on the first pages
        self.heading("Charts")
        bars = _progress_bars(d)
        if bars is not None:
            self.chart(bars)
        burnup, budget = _charts(d)
        self.chart(burnup)
        self.chart(budget)
        quality = _quality_chart(d)
        if quality is not None:
            self.chart(quality)
        self.text(f"Generated {d['generated_at'][:16].replace('T', ' ')} UTC by taskhub.", 8)
        return bytes(p.output())
