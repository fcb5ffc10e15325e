"""The People page's suggested links in a real headless Chromium (issue 20): a PM signed in
with a write token accepts one suggestion and rejects the other, and the page shows the merge
and no suggestion left. Same recipe as ``test_dashboard_browser`` (Debian's chromium, the
playwright package; skipped with the reason when missing, unless ``TASKHUB_REQUIRE_TOOLS=1``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mappings.model import PersonRef
from service import store
from service.app import create_app
from service.security.auth import create_token
from tests.conftest import make_sqlite_database
from tests.dashboard.world import AS_OF, build_org, make_settings

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@dataclass
class PeopleSite:
    base: str
    token: str
    browser: Any
    shots: Path


@pytest.fixture(scope="module")
def people_site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[PeopleSite]:
    from sandbox.server import run_in_thread

    tmp = tmp_path_factory.mktemp("people-browser")
    db = make_sqlite_database(tmp)
    o = build_org(db, "acme")
    with db.write() as c:  # Bob-acme's and Cy-acme's names seen in the other tool
        store.resolve_people(c, o.org_id, [
            PersonRef(tool="trello", external_id="m-bob", display_name="bob.acme"),
            PersonRef(tool="jira", external_id="acc-cy", display_name="Çy acme"),
        ])
    with db.session() as s:
        token = create_token(s, o.org_id, "write")[0]
    app = create_app(make_settings(tmp), db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    try:
        yield PeopleSite(base, token, chromium, tmp)
    finally:
        stop()
        db.dispose()


def test_accept_one_suggestion_and_reject_the_other(people_site: PeopleSite) -> None:
    ctx = people_site.browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    people = f"{people_site.base}/people?as_of={AS_OF}"
    try:
        page.goto(people)
        page.fill("#token", people_site.token)
        page.click("button[type=submit]")
        page.wait_for_url(people)
        rows = page.locator("table.suggestions tbody tr")
        assert rows.count() == 2
        assert "Same name" in rows.nth(0).inner_text() and "bob.acme" in rows.nth(0).inner_text()
        page.screenshot(path=str(people_site.shots / "people-suggestions.png"), full_page=True)

        rows.nth(0).get_by_role("button", name="Accept").click()
        page.wait_for_url(people)
        assert page.locator("table.suggestions tbody tr").count() == 1
        assert "trello: bob.acme" in page.inner_text("table.people")  # Bob-acme's row has both tools

        page.locator("table.suggestions tbody tr").first.get_by_role("button", name="Reject").click()
        page.wait_for_url(people)
        assert page.locator("table.suggestions").count() == 0
        assert "No suggested links" in page.inner_text("#suggestions")
        page.reload()  # remembered: still none
        assert page.locator("table.suggestions").count() == 0
        page.screenshot(path=str(people_site.shots / "people-decided.png"), full_page=True)
    finally:
        ctx.close()
