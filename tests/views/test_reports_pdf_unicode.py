"""The status report's PDF writes every script our users name things in (issue 23 leftover), on both
stores: project and portfolio names, commentary, register risks and task titles in Greek, Cyrillic,
Polish, Turkish, Vietnamese, Chinese, Japanese and Korean come out of the PDF's text as they went in
(before, the core fonts' Latin-1 made them "?" or stripped their accents); Hebrew and Arabic (bidi,
joined letters), Thai and Devanagari (shaped by HarfBuzz) are drawn in their Noto fonts, loaded only
for a report that has them. A character the shipped fonts cannot draw is a visible U+FFFD, never a
crash and never the loss of the text around it."""

from __future__ import annotations

import io
import re
import tomllib
import unicodedata
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pypdf import PdfReader

from service.dashboard import report_render
from service.dashboard.report_render import CJK, FONTS, RENDERER, coverage, fallbacks_for, pdf_text
from service.tables import Portfolio, Project, RiskItem, table

PR, PF, RI = table(Project), table(Portfolio), table(RiskItem)
WEEK = "2026-W11"

GREEK, CYRILLIC = "Ελληνικό έργο", "Проект «Север»"
POLISH, TURKISH = "Zażółć gęślą jaźń", "İstanbul şubesi ığdır"
VIETNAMESE = "Dự án Tiếng Việt"
CHINESE, JAPANESE, KOREAN = "项目进度报告", "日本語のプロジェクト", "한국어 과제"
HEBREW, ARABIC = "פרויקט צפון", "مشروع الشمال"
THAI, DEVANAGARI = "ภาษาไทย สวัสดี", "हिन्दी परियोजना में देरी"
TAMIL, KHMER = "தமிழ்", "ភាសាខ្មែរ"  # no shipped font draws them
COMMENTARY = (f"{GREEK}: καθυστέρηση. {CYRILLIC}: бюджет исчерпан. {POLISH}. {TURKISH}. {VIETNAMESE} chậm. "
              f"{CHINESE}，预算超支。{JAPANESE}は遅れています。{KOREAN} 지연.")


def _flat(text: str) -> str:
    """The PDF's text without the line breaks and spaces a table cell or a wrapped line adds."""
    return re.sub(r"\s+", "", text)


def _pdf(client: Any, org: Any, report_id: int) -> tuple[bytes, list[str]]:
    r = client.get(f"/api/v1/reports/{report_id}", params={"format": "pdf"}, headers=org.h())
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    return r.content, [p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages]


def test_names_commentary_and_risks_in_every_script_come_out_of_the_pdf(client, world, db):
    w = world.world
    now = datetime.now(UTC)
    with db.write() as c:
        c.execute(sa.update(PR).where(PR.c.id == w.alp).values(name=f"{GREEK} {CHINESE}"))
        c.execute(sa.update(PR).where(PR.c.id == w.beta).values(name=f"{CYRILLIC} {KOREAN}"))
        c.execute(sa.update(PF).where(PF.c.id == w.portfolio).values(name=f"{VIETNAMESE} {JAPANESE}"))
        c.execute(sa.insert(RI).values(org_id=w.org_id, project_id=w.beta, title=f"{TURKISH} {POLISH}",
                                       owner_name="Łukasz Żółkiewski", probability=4, impact=4, status="open",
                                       created_at=now, updated_at=now))
    r = client.get("/api/v1/reports", params={"portfolio": w.portfolio, "week": WEEK}, headers=world.h())
    assert r.status_code == 200, r.text
    url = f"/api/v1/reports/{r.json()['id']}"
    assert client.patch(url, json={"commentary": COMMENTARY}, headers=world.h("write")).status_code == 200
    assert client.post(f"{url}/publish", headers=world.h("write")).status_code == 200

    content, (first, charts) = _pdf(client, world, r.json()["id"])
    text = _flat(first)
    for needle in (GREEK, CYRILLIC, POLISH, TURKISH, VIETNAMESE, CHINESE, JAPANESE, KOREAN, "Łukasz Żółkiewski"):
        assert _flat(needle) in text, needle
    assert _flat(COMMENTARY) in text  # the commentary whole, in its order
    assert _flat(f"{VIETNAMESE} {JAPANESE}") in text  # the portfolio's name in the heading
    assert "?" not in first and "\ufffd" not in first  # nothing simplified or replaced
    # The charts' labels too: the bars name the projects, in the CJK fallback where needed.
    assert CHINESE in _flat(charts) and _flat(KOREAN) in _flat(charts)
    assert b"DejaVuSans" in content and b"DroidSansFallback" in content  # the shipped fonts, embedded
    html = client.get(url, params={"format": "html"}, headers=world.h()).text
    assert CHINESE in html and CYRILLIC in html  # the HTML kept them before too


def test_a_latin_report_does_not_load_the_cjk_font(client, world):
    w = world.world
    r = client.get("/api/v1/reports", params={"project": w.alp, "week": WEEK}, headers=world.h())
    content, (first, _) = _pdf(client, world, r.json()["id"])
    assert b"DejaVuSans" in content and b"DroidSansFallback" not in content and b"NotoSans" not in content
    assert "ALP" in first and "SPI 0.7536" in first


def _seen(s: str) -> str:
    """A right-to-left run as pypdf gives it back: each word in its own order (pypdf turns the
    glyphs of one text run around), the words in the order they are seen (right to left)."""
    return " ".join(reversed(s.split()))


def _embedded_glyphs(content: bytes, name: str) -> int:
    """How many glyphs the PDF's subset of the font ``name`` holds."""
    from fontTools.ttLib import TTFont

    for page in PdfReader(io.BytesIO(content)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if name in font["/BaseFont"]:
                data = font["/DescendantFonts"][0].get_object()["/FontDescriptor"]["/FontFile2"].get_data()
                return len(TTFont(io.BytesIO(data)).getGlyphOrder())
    raise AssertionError(f"{name} is not embedded")


def test_hebrew_arabic_thai_and_devanagari_are_drawn_in_order_and_shaped(client, world, db):
    """Names and commentary in Hebrew and Arabic (right to left, inside an English sentence too),
    Thai and Devanagari come out of the PDF (before: U+FFFD); each script's font is embedded, and
    Arabic's letters are joined (its subset holds more glyphs than the text has letters: the
    initial, medial and final forms HarfBuzz picked)."""
    w = world.world
    with db.write() as c:
        c.execute(sa.update(PR).where(PR.c.id == w.alp).values(name=HEBREW))
        c.execute(sa.update(PR).where(PR.c.id == w.beta).values(name=ARABIC))
        c.execute(sa.update(PF).where(PF.c.id == w.portfolio).values(name=f"{THAI} {DEVANAGARI}"))
    r = client.get("/api/v1/reports", params={"portfolio": w.portfolio, "week": WEEK}, headers=world.h())
    assert r.status_code == 200, r.text
    url = f"/api/v1/reports/{r.json()['id']}"
    commentary = f"The {HEBREW} project is late; {ARABIC} is on budget."
    assert client.patch(url, json={"commentary": commentary}, headers=world.h("write")).status_code == 200

    content, (first, charts) = _pdf(client, world, r.json()["id"])
    # pypdf gives the glyphs no character maps to (Devanagari's half forms) as control characters
    text = _flat("".join(ch for ch in first if unicodedata.category(ch) != "Cc"))
    assert _flat(f"The {_seen(HEBREW)} project is late; {_seen(ARABIC)} is on budget.") in text
    assert _flat(f"{THAI} {DEVANAGARI}") in text  # the portfolio's name in the heading
    assert _flat(_seen(HEBREW)) in text and _flat(_seen(ARABIC)) in text  # the projects table
    assert "\ufffd" not in first and "?" not in first
    assert _flat(_seen(HEBREW)) in _flat(charts)  # the progress bars' labels, in the order they are seen
    for font in (b"NotoSansHebrew", b"NotoSansArabic", b"NotoSansThai", b"NotoSansDevanagari"):
        assert font in content, font
    assert b"DroidSansFallback" not in content  # no CJK in this report
    letters = {ch for ch in ARABIC if not ch.isspace()}
    assert _embedded_glyphs(content, "NotoSansArabic") > len(letters) + 4  # + .notdef, .null, CR, space


def test_a_report_loads_only_the_fallback_fonts_its_text_needs(client, world):
    d = _data(client, world)
    content = RENDERER.pdf(d, commentary=f"Only Hebrew: {HEBREW}.", status="draft")
    assert b"NotoSansHebrew" in content
    assert b"NotoSansArabic" not in content and b"NotoSansThai" not in content and b"DroidSansFallback" not in content
    first = PdfReader(io.BytesIO(content)).pages[0].extract_text()
    assert _flat(f"Only Hebrew: {_seen(HEBREW)}.") in _flat(first)


def _data(client: Any, org: Any) -> dict[str, Any]:
    r = client.get("/api/v1/reports", params={"portfolio": org.world.portfolio, "week": WEEK}, headers=org.h())
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def test_blocked_task_titles_in_other_scripts_and_what_no_font_draws(client, world):
    """Characters no shipped font draws (Tamil, Khmer, emoji) become U+FFFD one for one; the text
    around them, and every other line of the report, stays."""
    d = _data(client, world)
    d["blocked"] = [{"key": "ALP-7", "title": f"{JAPANESE} — {GREEK}"},
                    {"key": "ALP-8", "title": f"{TAMIL} 😀 {THAI} ok"}]
    commentary = f"Before {KHMER} after. Tiê\u0301ng (typed decomposed)\u200b, zero\u200dwidth, flag\ufe0f."
    first = PdfReader(io.BytesIO(RENDERER.pdf(d, commentary=commentary, status="draft"))).pages[0].extract_text()
    assert _flat(f"Blocked: ALP-7 {JAPANESE} — {GREEK}") in _flat(first)
    r = "\ufffd"
    assert _flat(f"Blocked: ALP-8 {r * len(TAMIL)} {r} {THAI} ok") in _flat(first)  # Tamil, 1 emoji; Thai drawn
    assert _flat(f"Before {r * len(KHMER)} after. Tiếng (typed decomposed)") in _flat(first)
    assert "DRAFT" in first and "Milestones" in first and "Quality" in first


def test_pdf_text_replaces_visibly_composes_and_drops_only_the_invisible():
    assert pdf_text("Plain ASCII") == "Plain ASCII"
    assert pdf_text("Tie\u0302\u0301ng") == "Tiếng"  # NFC: one glyph the font has
    assert pdf_text("a\u200db\ufe0fc\u202ed") == "abcd"  # a joiner, a variation selector, a bidi override
    assert pdf_text(f"x{TAMIL}y") == f"x{chr(0xFFFD) * len(TAMIL)}y" and pdf_text("\U0001f600") == "\ufffd"
    assert pdf_text(f"{HEBREW} {ARABIC} {THAI} {DEVANAGARI}") == f"{HEBREW} {ARABIC} {THAI} {DEVANAGARI}"
    assert pdf_text("línea\nnueva\tcol") == "línea\nnueva col"
    assert pdf_text(f"{CHINESE}{KOREAN}") == f"{CHINESE}{KOREAN}"
    main, fallbacks = coverage()
    for ch in GREEK + CYRILLIC + POLISH + TURKISH + VIETNAMESE + "€₺₫—…«»“”→×−":
        assert ord(ch) in main, ch
    for ch in CHINESE + JAPANESE + KOREAN.replace(" ", "") + "，。":
        assert ord(ch) in fallbacks[CJK], ch
    for text, family in ((HEBREW, "hebrew"), (ARABIC, "arabic"), (THAI, "thai"), (DEVANAGARI, "devanagari")):
        assert fallbacks_for(text) == [f"taskhub-{family}"], text
    assert fallbacks_for(f"{GREEK} ok") == [] and fallbacks_for(f"{KOREAN} {THAI}") == ["taskhub-thai", CJK]


def test_the_fonts_ship_in_the_package_with_their_licenses():
    """The wheel carries every file in the fonts folder (pyproject's package data), each font has its
    license file beside it, and nothing is read from the system."""
    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["service"]
    files = sorted(p.relative_to(root / "service").as_posix() for p in FONTS.iterdir())
    noto = {f"dashboard/fonts/NotoSans{script}-{weight}.ttf" for script in ("Hebrew", "Arabic", "Thai", "Devanagari")
            for weight in ("Regular", "Bold")}
    assert {"dashboard/fonts/DejaVuSans.ttf", "dashboard/fonts/DejaVuSans-Bold.ttf",
            "dashboard/fonts/DroidSansFallback.ttf", "dashboard/fonts/README.md", "dashboard/fonts/LICENSE-DejaVu.txt",
            "dashboard/fonts/LICENSE-Apache-2.0.txt", "dashboard/fonts/LICENSE-OFL-1.1.txt", *noto} <= set(files)
    for f in files:
        assert any(fnmatch(f, g) for g in globs), f"{f} is not package data"
    assert FONTS.is_relative_to(root / "service")


def test_without_the_cjk_font_its_characters_are_replaced_not_dropped():
    """``pdf_text`` for a document that did not load the CJK fallback (its text was not in the
    report's data): U+FFFD, as fpdf2 would otherwise drop them."""
    assert pdf_text(f"A {CHINESE} B", fonts=[]) == f"A {chr(0xFFFD) * len(CHINESE)} B"
    assert pdf_text(f"A {CHINESE} {HEBREW}", fonts=["taskhub-hebrew"]) == f"A {chr(0xFFFD) * len(CHINESE)} {HEBREW}"


def _same_pdf(content: bytes) -> bytes:
    """The PDF without what changes from one render to the next (its creation time and the ID made from it)."""
    return re.sub(rb"/CreationDate \([^)]*\)|/ID \[<[0-9A-F]+><[0-9A-F]+>\]", b"", content)


def test_fonts_parsed_once_per_process_give_the_pdf_fpdf2_writes_parsing_them_each_time(client, world, monkeypatch):
    """The parsed-font cache (``PARSED_FONTS``) changes nothing in the PDF: a report in every
    script, rendered twice with it and once with fpdf2's own ``add_font``, is the same file; and
    renders in parallel threads each get their own fonts (fpdf2 subsets them in place)."""
    d = _data(client, world)
    d["projects"][0]["name"], d["projects"][1]["name"] = f"{HEBREW} {CHINESE}", f"{ARABIC} {KOREAN}"
    commentary = f"{GREEK}. {THAI}. {DEVANAGARI}. {JAPANESE}."
    cached = [_same_pdf(RENDERER.pdf(d, commentary=commentary, status="draft")) for _ in range(2)]
    with monkeypatch.context() as m:
        m.setattr(report_render.PARSED_FONTS, "add",
                  lambda pdf, family, style, name: pdf.add_font(family, style, FONTS / name))
        parsed_each_time = _same_pdf(RENDERER.pdf(d, commentary=commentary, status="draft"))
    assert cached[0] == cached[1] == parsed_each_time

    from concurrent.futures import ThreadPoolExecutor

    latin = _data(client, world)
    jobs = [(d, commentary), (latin, "Plain."), (d, commentary), (latin, "Plain.")]
    with ThreadPoolExecutor(4) as pool:
        out = list(pool.map(lambda job: _same_pdf(RENDERER.pdf(job[0], commentary=job[1], status="draft")), jobs))
    assert out[0] == out[2] == parsed_each_time
    assert out[1] == out[3] == _same_pdf(RENDERER.pdf(latin, commentary="Plain.", status="draft"))


def test_chart_labels_put_right_to_left_text_in_the_order_it_is_seen_and_join_arabic():
    """fpdf2 draws the charts' SVG text character by character, left to right: a Hebrew run is
    turned around (a letter keeps its points, a bracket is mirrored), an Arabic word becomes the
    joined forms HarfBuzz picks (presentation-form characters, which NFKC turns back into the
    letters)."""
    visual = report_render._visual
    assert visual(f"Project {HEBREW} is late") == f"Project {HEBREW[::-1]} is late"
    shin, lamed, vav, mem = "\u05e9\u05c1\u05b8", "\u05dc", "\u05d5\u05b9", "\u05dd"  # with points
    assert visual(shin + lamed + vav + mem) == mem + vav + lamed + shin  # the marks stay after their letters
    seen = visual(ARABIC)
    assert sum(0xFE70 <= ord(ch) <= 0xFEFF for ch in seen) >= 6, seen  # initial, medial, final forms
    assert unicodedata.normalize("NFKC", seen[::-1]) == ARABIC
    assert visual(f"{ARABIC} ok") == f"ok {seen}"  # a right-to-left label: its Latin word on the left
    assert visual("פרויקט (עברית)") == "(תירבע) טקיורפ"  # brackets mirrored, as fpdf2's shaping does in the body
    in_brackets = visual(f"({ARABIC})")
    assert in_brackets[0] + in_brackets[-1] == "()" and in_brackets[1:-1] == seen
    assert visual("ok") == "ok" and visual(THAI) == THAI


def test_documents_share_no_pdf_object_of_a_parsed_font(client, world):
    """fpdf2 numbers a font's descriptor (a PDF object) and hangs the document's font file on it
    while writing the PDF: documents sharing one (the parsed-font cache's template) wrote each
    other's object numbers when rendered in parallel threads (KeyError in fpdf2's xref, or a
    font descriptor pointing into another document). Each document gets its own; renders of
    different scripts in parallel threads give the serial renders' bytes."""
    from fpdf.syntax import PDFObject

    docs = [report_render._Pdf(_data(client, world), f"{ARABIC} {CHINESE} {THAI}", "draft") for _ in range(2)]
    for key, font in docs[0].pdf.fonts.items():
        other = docs[1].pdf.fonts[key]
        for slot in type(font).__slots__:
            value = getattr(font, slot, None)
            if isinstance(value, PDFObject):
                assert value is not getattr(other, slot), f"{key}.{slot} shared between documents"

    from concurrent.futures import ThreadPoolExecutor

    base = _data(client, world)
    jobs = []
    for names, commentary in (((HEBREW, "x"), "h"), ((ARABIC, "y"), "a"), ((CHINESE, KOREAN), "c"),
                              ((THAI, DEVANAGARI), "t"), ((f"{ARABIC} {CHINESE} Latin", f"{HEBREW} ok"), THAI)):
        d = {**base, "projects": [dict(p) for p in base["projects"]]}
        d["projects"][0]["name"], d["projects"][1]["name"] = names
        jobs.append((d, commentary))
    serial = [_same_pdf(RENDERER.pdf(d, commentary=c, status="draft")) for d, c in jobs]
    with ThreadPoolExecutor(5) as pool:
        out = list(pool.map(lambda job: _same_pdf(RENDERER.pdf(job[0], commentary=job[1], status="draft")), jobs * 2))
    assert out == serial * 2
