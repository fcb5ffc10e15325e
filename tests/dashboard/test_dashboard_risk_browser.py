"""The Risk page in a real headless Chromium (issue 23): a PM signed in with a write token adds a
risk through the page's form — first one the page refuses (probability 9), shown beside the form
keeping what was typed, then a valid one with a long title and mitigation — and the page, with
every edit and add form open and the refusal shown, fits 390 and 1366 px; so does a read
session's page (signals, evidence, register, quality chart). Same recipe as
``test_dashboard_browser`` (Debian's chromium, the playwright package; skipped with the reason
when missing, unless ``TASKHUB_REQUIRE_TOOLS=1``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from service.app import create_app
from service.security.auth import create_token
from tests.conftest import make_sqlite_database
from tests.dashboard.test_dashboard_browser import AS_OF, FIT_PROBLEMS
from tests.dashboard.world import Org, build_org, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

LONG_TITLE = "Payment provider's API v2 sunset before the Northern Region relaunch" + "-" * 40 + "end"
LONG_MITIGATION = "Migrate the checkout to v3; https://docs.example.com/" + "a" * 90


@dataclass
class RiskSite:
    base: str
    org: Org
    writer: str
    browser: Any


@pytest.fixture(scope="module")
def risk_site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[RiskSite]:
    from sandbox.server import run_in_thread

    tmp = tmp_path_factory.mktemp("risk-browser")
    db = make_sqlite_database(tmp)
    o = build_org(db, "acme")
    with db.session() as s:
        writer = create_token(s, o.org_id, "write", name="pm")[0]
    app = create_app(make_settings(tmp), db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    try:
        yield RiskSite(base, o, writer, chromium)
    finally:
        stop()
        db.dispose()


def _sign_in(site: RiskSite, token: str, width: int) -> tuple[Any, Any]:
    ctx = site.browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    page.goto(f"{site.base}/login")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.base}/")
    return ctx, page


def _fits(page: Any, where: str) -> list[str]:
    return [f"{where}: {p}" for p in page.evaluate(FIT_PROBLEMS)]


@pytest.mark.parametrize("width", [390, 1366])
def test_a_pm_adds_a_risk_and_the_page_fits(risk_site: RiskSite, width: int) -> None:
    site, apollo = risk_site, risk_site.org.apollo
    ctx, page = _sign_in(site, site.writer, width)
    try:
        page.goto(f"{site.base}/risk?as_of={AS_OF}")
        before = page.locator("[data-risk-id]").filter(has_text=LONG_TITLE).count()  # the site is the module's
        page.click(f"#add-{apollo} > summary")
        page.fill(f"#new-{apollo}-title", LONG_TITLE)
        page.fill(f"#new-{apollo}-owner-name", "Dana Vendor-Liaison")
        page.fill(f"#new-{apollo}-probability", "9")  # beyond 5: the browser's own check is max-less
        page.fill(f"#new-{apollo}-impact", "4")
        page.fill(f"#new-{apollo}-mitigation", LONG_MITIGATION)
        page.click(f"#add-{apollo} button[type=submit]")
        error = page.locator(f"#add-{apollo} [data-failed]")
        assert "probability" in error.inner_text()
        assert page.input_value(f"#new-{apollo}-title") == LONG_TITLE  # kept
        problems = _fits(page, "/risk refused")
        page.fill(f"#new-{apollo}-probability", "3")
        page.click(f"#add-{apollo} button[type=submit]")
        page.wait_for_url(f"{site.base}/risk?done=new#project-{apollo}")
        assert page.locator("[data-risk-id]").filter(has_text=LONG_TITLE).count() == before + 1
        for details in page.locator("details.edit, details.add").all():
            details.evaluate("d => d.open = true")
        problems += _fits(page, "/risk forms open")
        assert problems == []
    finally:
        ctx.close()


@pytest.mark.parametrize("width", [390, 1366])
def test_a_read_session_sees_signals_and_register_that_fit(risk_site: RiskSite, width: int) -> None:
    ctx, page = _sign_in(risk_site, risk_site.org.token, width)
    try:
        page.goto(f"{risk_site.base}/risk?as_of={AS_OF}")
        assert page.locator("form[method=post]").count() == 0
        assert page.locator("[data-signal]").count() > 0
        assert _fits(page, "/risk read") == []
    finally:
        ctx.close()
