"""The status report's PDF writes every script our users name things in (issue 23 leftover), on both
stores: project and portfolio names, commentary, register risks and task titles in Greek, Cyrillic,
Polish, Turkish, Vietnamese, Chinese, Japanese and Korean come out of the PDF's text as they went in
(before, the core fonts' Latin-1 made them "?" or stripped their accents). A character the shipped
fonts cannot draw is a visible U+FFFD, never a crash and never the loss of the text around it."""

from __future__ import annotations

import io
import re
import tomllib
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pypdf import PdfReader

from service.dashboard.report_render import FONTS, RENDERER, coverage, pdf_text
from service.tables import Portfolio, Project, RiskItem, table

PR, PF, RI = table(Project), table(Portfolio), table(RiskItem)
WEEK = "2026-W11"

GREEK, CYRILLIC = "Ελληνικό έργο", "Проект «Север»"
POLISH, TURKISH = "Zażółć gęślą jaźń", "İstanbul şubesi ığdır"
VIETNAMESE = "Dự án Tiếng Việt"
CHINESE, JAPANESE, KOREAN = "项目进度报告", "日本語のプロジェクト", "한국어 과제"
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
    assert b"DejaVuSans" in content and b"DroidSansFallback" not in content
    assert "ALP" in first and "SPI 0.7536" in first


def _data(client: Any, org: Any) -> dict[str, Any]:
    r = client.get("/api/v1/reports", params={"portfolio": org.world.portfolio, "week": WEEK}, headers=org.h())
    assert r.status_code == 200, r.text
    return dict(r.json()["data"])


def test_blocked_task_titles_in_other_scripts_and_what_no_font_draws(client, world):
    """Characters neither shipped font draws (Thai, Hebrew without bidi, emoji) become U+FFFD one
    for one; the text around them, and every other line of the report, stays."""
    d = _data(client, world)
    d["blocked"] = [{"key": "ALP-7", "title": f"{JAPANESE} — {GREEK}"},
                    {"key": "ALP-8", "title": "ภาษาไทย 😀 שלום ok"}]
    commentary = "Before ภาษา after. Tiê\u0301ng (typed decomposed)\u200b, zero\u200dwidth, flag\ufe0f."
    first = PdfReader(io.BytesIO(RENDERER.pdf(d, commentary=commentary, status="draft"))).pages[0].extract_text()
    assert _flat(f"Blocked: ALP-7 {JAPANESE} — {GREEK}") in _flat(first)
    r = "\ufffd"
    assert _flat(f"Blocked: ALP-8 {r * 7} {r} {r * 4} ok") in _flat(first)  # 7 Thai, 1 emoji, 4 Hebrew
    assert _flat("Before \ufffd\ufffd\ufffd\ufffd after. Tiếng (typed decomposed)") in _flat(first)
    assert "DRAFT" in first and "Milestones" in first and "Quality" in first


def test_pdf_text_replaces_visibly_composes_and_drops_only_the_invisible():
    assert pdf_text("Plain ASCII") == "Plain ASCII"
    assert pdf_text("Tie\u0302\u0301ng") == "Tiếng"  # NFC: one glyph the font has
    assert pdf_text("a\u200db\ufe0fc\u202ed") == "abcd"  # a joiner, a variation selector, a bidi override
    assert pdf_text("x\u0e44y") == "x\ufffdy" and pdf_text("\U0001f600") == "\ufffd"
    assert pdf_text("línea\nnueva\tcol") == "línea\nnueva col"
    assert pdf_text(f"{CHINESE}{KOREAN}") == f"{CHINESE}{KOREAN}"
    main, cjk = coverage()
    for ch in GREEK + CYRILLIC + POLISH + TURKISH + VIETNAMESE + "€₺₫—…«»“”→×−":
        assert ord(ch) in main, ch
    for ch in CHINESE + JAPANESE + KOREAN.replace(" ", "") + "，。":
        assert ord(ch) in cjk, ch


def test_the_fonts_ship_in_the_package_with_their_licenses():
    """The wheel carries every file in the fonts folder (pyproject's package data), each font has its
    license file beside it, and nothing is read from the system."""
    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["service"]
    files = sorted(p.relative_to(root / "service").as_posix() for p in FONTS.iterdir())
    assert {"dashboard/fonts/DejaVuSans.ttf", "dashboard/fonts/DejaVuSans-Bold.ttf",
            "dashboard/fonts/DroidSansFallback.ttf", "dashboard/fonts/README.md",
            "dashboard/fonts/LICENSE-DejaVu.txt", "dashboard/fonts/LICENSE-Apache-2.0.txt"} <= set(files)
    for f in files:
        assert any(fnmatch(f, g) for g in globs), f"{f} is not package data"
    assert FONTS.is_relative_to(root / "service")


def test_without_the_cjk_font_its_characters_are_replaced_not_dropped():
    """``pdf_text`` for a document that did not load the CJK fallback (its text was not in the
    report's data): U+FFFD, as fpdf2 would otherwise drop them."""
    assert pdf_text(f"A {CHINESE} B", cjk=False) == f"A {chr(0xFFFD) * len(CHINESE)} B"
