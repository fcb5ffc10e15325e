"""The status report (issue 23) in a real headless Chromium at a phone's (390 px) and a laptop's
(1366 px) width: the report page itself, the Reports list and a report's page fit the window (no
sideways overflow of the page; charts scroll inside their box), chart labels stay inside their
chart and readable, and the report's own Content-Security-Policy refuses nothing it uses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from service.app import create_app
from service.dashboard.report_render import RENDERER
from service.reports import snapshots
from service.reports.weeks import parse_week
from service.security.auth import create_token
from service.tables import Project, RiskItem, table
from tests.conftest import make_sqlite_database
from tests.dashboard.test_dashboard_browser import _fit_problems
from tests.dashboard.world import make_settings
from tests.views.portfolio_data import build

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]
LONG = "Mobile App Relaunch for the Northern Region with a name that runs on"
COMMENTARY = ("Beta's budget runs out on 2026-04-02, a week before its planned end: we ask for 2,000 USD more. "
              "Alpha's release 1.0 moved; https://wiki.example.com/" + "x" * 90)


@dataclass
class Site:
    base: str
    token: str
    report_id: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from sandbox.server import run_in_thread

    tmp = tmp_path_factory.mktemp("reports-browser")
    db = make_sqlite_database(tmp)
    w = build(db)
    now = datetime.now(UTC)
    with db.write() as c:
        c.execute(sa.update(table(Project)).where(table(Project).c.id == w.alp).values(name=LONG))
        c.execute(sa.insert(table(RiskItem)).values(
            org_id=w.org_id, project_id=w.alp, title="The payment provider's new API is late " * 3, probability=4,
            impact=5, status="open", mitigation="A fallback to the old API, tested weekly.", owner_name=LONG,
            created_at=now, updated_at=now))
    report, _ = snapshots.generate(db, w.org_id, "portfolio", w.portfolio, parse_week("2026-W11"), renderer=RENDERER)
    snapshots.set_commentary(db, w.org_id, report.id, COMMENTARY, renderer=RENDERER)
    snapshots.publish(db, w.org_id, report.id, by="pm", renderer=RENDERER)
    with db.session() as s:
        token = create_token(s, w.org_id, "write")[0]
    app = create_app(make_settings(tmp), db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    try:
        yield Site(base, token, report.id)
    finally:
        stop()
        db.dispose()


@pytest.mark.parametrize("width", [390, 1366])
def test_the_report_and_its_pages_fit_the_window(site: Site, chromium: Any, width: int) -> None:
    ctx = chromium.new_context(viewport={"width": width, "height": 900})
    console: list[str] = []
    try:
        page = ctx.new_page()
        page.on("console", lambda m: console.append(m.text))
        page.goto(site.base + "/login?next=/reports")
        page.fill("#token", site.token)
        page.click("button[type=submit]")
        page.wait_for_url(site.base + "/reports")
        problems: list[str] = []
        for path in ("/reports", f"/reports/{site.report_id}", f"/reports/{site.report_id}/html"):
            page.goto(site.base + path)
            problems += _fit_problems(page, path)
        # The report page: its style applied (inline, allowed by its own policy) and every chart drawn.
        assert page.eval_on_selector("body", "b => getComputedStyle(b).fontFamily").startswith("system-ui")
        assert page.locator("svg.chart").count() == 4
        assert page.get_by_text("we ask for 2,000 USD more", exact=False).count() == 1
        assert problems == []
        assert [m for m in console if "Content Security Policy" in m or "Refused" in m] == []
    finally:
        ctx.close()
