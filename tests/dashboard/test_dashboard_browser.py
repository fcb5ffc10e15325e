"""The dashboard in a real headless Chromium: sign in, pages load, charts carry the right
number of series, links navigate, pages read without JavaScript, screenshots are taken.

Debian's ``chromium`` driven by the Python ``playwright`` package (no ``playwright install``:
it would try a download). Both missing → skipped with the reason, unless
``TASKHUB_REQUIRE_TOOLS=1`` (CI), where that is a failure.
https://playwright.dev/python/docs/api/class-browsertype#browser-type-launch
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from tests.conftest import make_sqlite_database
from tests.dashboard.world import AS_OF, Org, build_org, make_settings

# One worker runs them all under xdist (`make test`): one server and one Chromium, not one per worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE = os.environ.get("TASKHUB_REQUIRE_TOOLS") == "1"


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not found: apt-get install -y chromium (Debian's; .ci/run installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install 'playwright==1.65.2' (the dev extra)"
    return None


@dataclass
class Site:
    base: str
    acme: Org
    browser: Any
    shots: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    reason = _missing()
    if reason:
        if REQUIRE:
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    from sandbox.server import run_in_thread

    tmp = tmp_path_factory.mktemp("dashboard-browser")
    db = make_sqlite_database(tmp)
    acme = build_org(db, "acme")
    build_org(db, "globex")
    app = create_app(make_settings(tmp), db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                yield Site(base, acme, browser, tmp)
            finally:
                browser.close()
    finally:
        stop()
        db.dispose()


def _series_per_chart(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        "svg[data-chart]",
        "els => els.map(s => [...s.querySelectorAll('[data-series]')]"
        ".map(e => e.getAttribute('data-series')))",
    )


def _signed_in(site: Site, **context: Any) -> Any:
    ctx = site.browser.new_context(viewport={"width": 1280, "height": 900}, **context)
    page = ctx.new_page()
    page.goto(site.url(f"/?as_of={AS_OF}"))
    assert page.url.startswith(
        site.url("/login?next=")
    )  # signed out: the form, remembering the page
    page.fill("#token", site.acme.token)
    page.click("button[type=submit]")
    page.wait_for_url(site.url(f"/?as_of={AS_OF}"))
    return page


def test_sign_in_and_read_the_overview(site: Site) -> None:
    page = _signed_in(site)
    try:
        assert page.title().startswith("All projects · acme")
        assert page.locator("[data-series]").count() == 4
        assert _series_per_chart(page) == [["consumed", "complete"], ["scope", "done"]]
        assert page.locator("table.projects tbody tr").count() == 3
        assert "before planned end" in page.inner_text(
            f'tr[data-project-id="{site.acme.borealis}"]'
        )
        assert "taskhub_session" not in page.evaluate(
            "document.cookie"
        )  # HttpOnly: scripts cannot read it
        cookie = next(c for c in page.context.cookies() if c["name"] == "taskhub_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        box = page.locator("svg.chart").first.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 80  # laid out, not collapsed
        shot = site.shots / "overview.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
    finally:
        page.context.close()


def test_links_navigate_between_pages(site: Site) -> None:
    page = _signed_in(site)
    try:
        page.click("text=Apollo acme")
        page.wait_for_url(site.url(f"/projects/{site.acme.apollo}?as_of={AS_OF}"))
        assert page.locator("h1").inner_text().startswith("Apollo acme")
        assert _series_per_chart(page) == [
            ["scope", "done"],
            ["ac", "budget", "pv", "forecast"],
            ["baseline", "due", "forecast"],
        ]
        assert page.locator("[data-series]").count() == 9
        assert page.locator("tr.overdue").count() == 1
        shot = site.shots / "project.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000

        page.click("nav >> text=Milestones")
        page.wait_for_url(site.url(f"/milestones?as_of={AS_OF}"))
        assert page.locator("[data-series]").count() == 3
        assert "R1 acme" in page.inner_text("section:has(#overdue-h)")
        page.click("nav >> text=People")
        page.wait_for_url(site.url(f"/people?as_of={AS_OF}"))
        assert _series_per_chart(page) == [["open", "overdue"], ["hours"]]
        assert "trello: ann.t-acme" in page.inner_text("table.people")
        page.screenshot(path=str(site.shots / "people.png"), full_page=True)

        page.click("nav >> text=Overview")
        page.select_option("#portfolio", label="Core acme")
        page.click("form.selector button")
        page.wait_for_url(site.url(f"/?portfolio={site.acme.portfolio}&as_of={AS_OF}"))
        assert (
            page.locator("table.projects tbody tr").count() == 2
        )  # Nimbus is not in the portfolio

        page.click("text=Sign out")
        page.wait_for_url(site.url("/login"))
        page.goto(site.url("/people"))
        assert page.url.startswith(site.url("/login"))
    finally:
        page.context.close()


def test_pages_read_without_javascript(site: Site) -> None:
    page = _signed_in(site, java_script_enabled=False)  # the sign-in form itself needs no script
    try:
        page.goto(site.url(f"/projects/{site.acme.borealis}?as_of={AS_OF}"))
        assert page.locator("svg.chart").count() == 3
        assert page.locator("[data-series]").count() == 9
        assert page.locator('[data-marker="exhaustion"]').count() == 1
        page.screenshot(path=str(site.shots / "project-nojs.png"), full_page=True)
        keep = os.environ.get("TASKHUB_KEEP_SCREENSHOTS")
        if keep:  # copy the screenshots somewhere to look at them
            for shot in site.shots.glob("*.png"):
                shutil.copy(shot, Path(keep) / shot.name)
    finally:
        page.context.close()


def test_pages_break_no_rule_of_their_content_security_policy(site: Site) -> None:
    """Every page under its CSP (service.api.edge): no violation event, no console error."""
    ctx = site.browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    # Reported to the page by the browser itself, whatever the console says.
    ctx.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation', "
        "e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    try:
        page.goto(site.url("/login"))
        assert page.evaluate("window.__csp") == []
        page.fill("#token", site.acme.token)
        page.click("button[type=submit]")
        page.wait_for_url(site.url("/"))
        for path in ("/", f"/projects/{site.acme.borealis}", "/milestones", "/people", "/projects/999999"):
            response = page.goto(site.url(f"{path}?as_of={AS_OF}"))
            assert response is not None and "default-src 'none'" in response.headers["content-security-policy"]
            assert page.evaluate("window.__csp") == [], path
            if path != "/projects/999999":
                assert page.locator("svg.chart").count() >= 1, path
                box = page.locator("svg.chart").first.bounding_box()
                assert box and box["width"] > 300, path  # the stylesheet applied
        # The 404 page answers 404, which Chromium logs as a failed resource; nothing else.
        assert [m for m in console if "Content Security Policy" in m or "Refused" in m] == []
    finally:
        ctx.close()
