"""The Sources page in a real headless Chromium (issue 21): a PM signed in with an admin token adds
a Jira source against the simulated Jira — first with a wrong token, which the page refuses
beside the form keeping what was typed but the token, then the right one — and sees its
health, its registered webhook and the secret shown once; the page, forms open, fits 390 and
1366 px. Same recipe as ``test_dashboard_browser`` (Debian's chromium, the playwright package;
skipped with the reason when missing, unless ``TASKHUB_REQUIRE_TOOLS=1``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.security.auth import create_token
from tests.conftest import make_sqlite_database
from tests.dashboard.test_dashboard_browser import FIT_PROBLEMS
from tests.dashboard.world import build_org, make_settings
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@dataclass
class SourcesSite:
    base: str
    token: str
    browser: Any
    shots: Path
    jira_url: str
    jira: Any


@pytest.fixture(scope="module")
def sources_site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[SourcesSite]:
    from sandbox.jira import JiraConfig, JiraState, generate, start
    from sandbox.server import free_port, run_in_thread

    tmp = tmp_path_factory.mktemp("sources-browser")
    db = make_sqlite_database(tmp)
    o = build_org(db, "acme")
    with db.session() as s:
        token = create_token(s, o.org_id, "admin")[0]
    state = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    generate(state, projects=2, issues_per_project=2, seed=5)
    jira_url, stop_jira = start(state)
    port = free_port()
    settings = make_settings(tmp, outbound_allow="127.0.0.1", public_base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, port=port, probe_path="/healthz", lifespan="on")
    try:
        yield SourcesSite(base, token, chromium, tmp, jira_url, state)
    finally:
        stop()
        stop_jira()
        state.close()
        db.dispose()


def _sign_in(site: SourcesSite, width: int = 1280) -> Any:
    page = site.browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{site.base}/sources")
    page.fill("#token", site.token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.base}/sources")
    return page


def _fill_jira(page: Any, site: SourcesSite, token: str) -> None:
    page.fill("#new-jira-name", "jira sandbox")
    page.fill("#new-jira-base", site.jira_url)
    page.fill("#new-jira-email", JIRA_EMAIL)
    page.fill("#new-jira-token", token)
    page.fill("#new-jira-projects", "APOLLO, BEACON")
    page.get_by_role("button", name="Add Jira source").click()


def test_add_a_jira_source_and_see_its_health_and_webhook(sources_site: SourcesSite) -> None:
    site = sources_site
    page = _sign_in(site)
    try:
        assert page.locator("table.sources-admin tbody tr").count() == 2  # acme's jira and trello
        page.get_by_text("Add a Jira source").click()
        _fill_jira(page, site, "not-the-token")
        error = page.locator("[data-add-error]")
        assert "HTTP 401" in error.inner_text() and "GET myself" in error.inner_text()
        assert page.input_value("#new-jira-name") == "jira sandbox"  # kept, the token not
        assert page.input_value("#new-jira-email") == JIRA_EMAIL and page.input_value("#new-jira-token") == ""
        page.screenshot(path=str(site.shots / "sources-refused.png"), full_page=True)

        page.fill("#new-jira-token", JIRA_TOKEN)
        page.get_by_role("button", name="Add Jira source").click()
        created = page.locator("section.created")
        assert "Added jira sandbox" in created.inner_text()
        assert len(page.inner_text("[data-secret]")) >= 32
        assert page.inner_text("[data-webhooks-state]") == "registered" and len(site.jira.webhooks) == 1
        row = page.locator("table.sources-admin tbody tr", has_text="jira sandbox")
        assert "ok" in row.locator("[data-health]").inner_text()
        assert "1 of 1 registered" in row.locator("[data-webhooks]").inner_text()
        page.screenshot(path=str(site.shots / "sources-added.png"), full_page=True)

        page.goto(f"{site.base}/sources")  # the secret was shown once
        assert page.locator("[data-secret]").count() == 0
        section = page.locator("section.source", has_text="jira sandbox")
        section.get_by_role("button", name="Sync jira sandbox now").click()
        assert "Sync requested" in page.inner_text("p.notice")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [390, 1366])
def test_the_sources_page_with_its_forms_open_fits_the_window(sources_site: SourcesSite, width: int) -> None:
    page = _sign_in(sources_site, width)
    try:
        page.eval_on_selector_all("details", "els => els.forEach(d => d.open = true)")
        assert page.evaluate(FIT_PROBLEMS) == []
        page.screenshot(path=str(sources_site.shots / f"sources-{width}.png"), full_page=True)
        page.locator("details.edit").first.scroll_into_view_if_needed()
        page.screenshot(path=str(sources_site.shots / f"sources-{width}-edit.png"))
    finally:
        page.context.close()
