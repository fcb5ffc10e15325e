"""The status report's PDF render time: Latin text, other scripts, and CJK (issue 23 leftover).

    .venv/bin/python -m bench.report_pdf [--runs 15] [--rev REV]

Builds the hand-computed portfolio of the tests (``tests.views.portfolio_data``) in a scratch SQLite
database, takes its portfolio report of 2026-W11 (``service.reports.data.build``: 2 projects, 4
charts) and renders its PDF ``--runs`` times per case, printing the median and the fastest:

- ``latin``: the data as it is;
- ``scripts``: project and portfolio names and a commentary in Greek, Cyrillic, Polish, Turkish and
  Vietnamese (no CJK: the fallback font is not loaded);
- ``cjk``: the same plus Chinese, Japanese and Korean names (the CJK fallback font is loaded);
- ``shaped``: Hebrew and Arabic project names, a Thai and Devanagari portfolio name and a commentary
  mixing them into English (their four Noto fallback fonts are loaded, and HarfBuzz shaping and
  bidi are on).

``--rev`` also renders each case with ``service/dashboard/report_render.py`` as it was at that git
revision, in the same process and alternating with the current one (the machine's load moves both
alike). Renders run one at a time; the figures include what fpdf2 does with the fonts on each render
(since the parsed-font cache: subsetting them into the PDF; before it, parsing them too).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.db import Database  # noqa: E402
from service.reports import data as report_data  # noqa: E402
from service.reports.weeks import parse_week  # noqa: E402
from tests.views.portfolio_data import build  # noqa: E402

SCOPE_NAME = "Портфель Ελλάδα"
NAMES = ["Zażółć gęślą jaźń — İstanbul", "Tiếng Việt: dự án Ωμέγα"]
COMMENTARY = ("Κείμενο στα ελληνικά. Комментарий по-русски: бюджет исчерпан. Zażółć gęślą jaźń. "
              "Iğdır'da şu işçi. Dự án chậm tiến độ.")
CJK_NAMES = ["项目进度 (中文)", "日本語のプロジェクト 한국어 과제"]
SHAPED_NAMES, SHAPED_SCOPE = ["פרויקט צפון (עברית)", "مشروع الشمال (عربي)"], "พอร์ตโฟลิโอ ไทย हिन्दी पोर्टफोलियो"
SHAPED_COMMENTARY = ("The פרויקט צפון project is late by 3 days; مشروع الشمال is on budget. "
                     "สถานะโครงการล่าช้า. परियोजना में देरी है. הערה בעברית: התקציב נוצל.")


def report() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        db.migrate()
        w = build(db)
        return report_data.build(db, w.org_id, "portfolio", w.portfolio, parse_week("2026-W11"))


def variant(d: dict[str, Any], names: list[str], scope_name: str) -> dict[str, Any]:
    import json

    out: dict[str, Any] = json.loads(json.dumps(d))
    out["scope_name"] = scope_name
    for row, name in zip(out["projects"], names, strict=False):
        row["name"] = name
    return out


def renderer_at(rev: str) -> Callable[..., bytes]:
    source = subprocess.run(["git", "show", f"{rev}:service/dashboard/report_render.py"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "report_render_old.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("report_render_old", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "FONTS"):  # the shipped fonts, beside the module it was copied from
        module.FONTS = ROOT / "service" / "dashboard" / "fonts"
    return module.RENDERER.pdf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rev", help="also render with report_render.py at this git revision")
    args = parser.parse_args()
    import logging

    logging.getLogger("fpdf").setLevel(logging.ERROR)
    from service.dashboard.report_render import RENDERER

    base = report()
    cases = {
        "latin": (base, "Alpha slips: release 1.0 moved."),
        "scripts": (variant(base, NAMES, SCOPE_NAME), COMMENTARY),
        "cjk": (variant(base, CJK_NAMES, SCOPE_NAME), COMMENTARY + " 预算超支。"),
        "shaped": (variant(base, SHAPED_NAMES, SHAPED_SCOPE), SHAPED_COMMENTARY),
    }
    renderers: dict[str, Callable[..., bytes]] = {"current": RENDERER.pdf}
    if args.rev:
        renderers[args.rev] = renderer_at(args.rev)
    for case, (d, commentary) in cases.items():
        times: dict[str, list[float]] = {name: [] for name in renderers}
        size: dict[str, int] = {}
        for name, render in renderers.items():
            size[name] = len(render(d, commentary=commentary, status="published"))  # warm-up
        for _ in range(args.runs):
            for name, render in renderers.items():
                t = time.perf_counter()
                render(d, commentary=commentary, status="published")
                times[name].append(time.perf_counter() - t)
        for name, ts in times.items():
            print(f"{case:8} {name:10} median {statistics.median(ts) * 1000:6.0f} ms  fastest "
                  f"{min(ts) * 1000:6.0f} ms  {size[name] / 1024:5.1f} KiB")


if __name__ == "__main__":
    main()
