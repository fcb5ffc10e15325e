"""The dashboard in a real headless Chromium: sign in, pages load, charts carry the right
number of series, links navigate, pages read without JavaScript, screenshots are taken, and
every page fits a phone (390 px) and a laptop (1366 px) with readable chart labels.

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
import sqlalchemy as sa

from service.app import create_app
from service.dashboard.data import table
from service.db import Database
from service.tables import EventDelivery, Milestone, Person, PersonIdentity, Project
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
    wordy: Org  # acme's world under long names that differ only at their ends


    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, chromium: Any) -> Iterator[Site]:
    from sandbox.server import run_in_thread

    tmp = tmp_path_factory.mktemp("dashboard-browser")
    db = make_sqlite_database(tmp)
    acme = build_org(db, "acme")
    build_org(db, "globex")
    wordy = _long_names(db, build_org(db, "wordy"))
    settings = make_settings(tmp)
    _a_failing_endpoint(db, settings, wordy)
    app = create_app(settings, db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    try:
        yield Site(base, acme, chromium, tmp, wordy)
    finally:
        stop()
        db.dispose()


LONG_PROJECT = "Mobile App Relaunch for the Northern Region wordy"
LONG_MILESTONE = "Milestone: Onboarding Tour ready for the first customers, phase {}"
LONG_PERSON = "Alexandra Konstantinopoulou-Richardson"
LONG_URL = "https://automation.example.com/hooks/catch/1234567890/abcdefghijklmnopqrstuvwxyz0123456789/"
LONG_ERROR = "timed out after 30 s waiting for automation.example.com:443 (" + "x" * 80 + ")"


def _long_names(db: Database, o: Org) -> Org:
    """Apollo, its two milestones (one overdue, one at risk: both on the milestones page's
    timeline) and two people (Bob in Jira, Cy in Trello, then suggested as one) renamed to
    names too long for any chart's label column, each pair differing only at its end: the
    labels that once read "Mobile App · Milestone:…" twice."""
    P, M, PE, PI = table(Project), table(Milestone), table(Person), table(PersonIdentity)  # noqa: N806
    with db.write() as c:
        c.execute(sa.update(P).where(P.c.id == o.apollo).values(name=LONG_PROJECT))
        for n, ext in enumerate(("v1", "v2"), start=1):
            c.execute(sa.update(M).where(M.c.id == o.milestones[ext]).values(
                name=LONG_MILESTONE.format(n)))
        bob_and_cy = (PI.c.org_id == o.org_id) & PI.c.external_id.in_(
            [f"acc-bob-{o.tag}", f"m-cy-{o.tag}"])
        people = sa.select(PI.c.person_id).where(bob_and_cy)
        c.execute(sa.update(PE).where(PE.c.id.in_(people)).values(display_name=LONG_PERSON))
        c.execute(sa.update(PI).where(bob_and_cy).values(display_name=LONG_PERSON))
    return o


def _a_failing_endpoint(db: Database, settings: Any, o: Org) -> None:
    """An endpoint with a long URL and a failed delivery with a long error: the Endpoints page's
    widest rows."""
    from service.events import endpoints

    with db.session() as s:
        ep, _ = endpoints.create_endpoint(s, settings, o.org_id, url=LONG_URL, event_types=["*"])
        endpoints.send_test(s, o.org_id, int(ep.id or 0))
    with db.write() as c:
        c.execute(sa.update(table(EventDelivery)).where(table(EventDelivery).c.endpoint_id == ep.id).values(
            status="failed", attempts=8, response_code=503, latency_ms=30012, error=LONG_ERROR))


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
        for path in ("/", f"/projects/{site.acme.borealis}", "/milestones", "/people", "/risk", "/projects/999999"):
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


# What a page breaks of "fits": the page wider than the window; a chart label (its text without
# its tooltip) outside its chart, drawn under 8 px, or shown twice in one chart. Values on bars
# and the timeline's notes ("at risk") may repeat; they must still be inside and readable.
FIT_PROBLEMS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > innerWidth) problems.push(`page ${doc.scrollWidth} px wide in ${innerWidth}`);
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect(), kind = svg.dataset.chart;
    const scale = box.width / svg.viewBox.baseVal.width;
    const seen = new Set();
    for (const t of svg.querySelectorAll('text')) {
      const label = [...t.childNodes].filter(n => n.nodeName !== 'title')
        .map(n => n.textContent).join(' ');
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5
          || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5)
        problems.push(`${kind}: "${label}" outside the chart`);
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < 8) problems.push(`${kind}: "${label}" drawn at ${px.toFixed(1)} px`);
      if (t.matches('.value, .note')) continue;
      if (seen.has(label)) problems.push(`${kind}: "${label}" twice`);
      seen.add(label);
    }
  }
  return problems;
}"""


def _fit_problems(page: Any, where: str) -> list[str]:
    return [f"{where}: {p}" for p in page.evaluate(FIT_PROBLEMS)]


@pytest.mark.parametrize("width", [390, 1366])
def test_every_page_fits_the_window_with_readable_unique_chart_labels(site: Site, width: int) -> None:
    """Overview, projects, milestones, people, sources, endpoints, risk, the error page and the sign-in form, with long
    names, at a phone's and a laptop's width: nothing overflows the page, chart labels are
    inside their chart, readable and told apart, and no request of a page (the favicon
    included) fails."""
    problems: list[str] = []
    failed: list[str] = []
    ctx = site.browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        page.goto(site.url("/login"))
        problems += _fit_problems(page, "/login")
        icon = page.get_attribute('link[rel="icon"]', "href")
        answer = page.request.get(site.url(icon or "/favicon.ico"))
        assert answer.status == 200 and answer.headers["content-type"] == "image/svg+xml"
        org = site.wordy  # acme's world (every kind of row and chart) with long names
        page.fill("#token", org.token)
        page.click("button[type=submit]")
        page.wait_for_url(site.url("/"))
        for path in ("/", f"/projects/{org.apollo}", f"/projects/{org.borealis}",
                     "/milestones", "/people", "/sources", "/endpoints", "/risk", "/projects/999999"):
            page.goto(site.url(f"{path}?as_of={AS_OF}"))
            problems += _fit_problems(page, path)
        assert problems == []
        _the_long_labels_read_apart(page, site.base, width)
        # The one failure: the error page, a 404 by design.
        assert failed == [f"404 {site.url(f'/projects/999999?as_of={AS_OF}')}"]
    finally:
        ctx.close()


def _the_long_labels_read_apart(page: Any, base: str, width: int) -> None:
    """The wordy organization's long names on the people and milestones pages: cut to fit,
    told apart, with the full name as each label's tooltip."""
    page.goto(f"{base}/people?as_of={AS_OF}")
    names = page.eval_on_selector_all(
        "svg.chart-bar .axis.y text",
        "els => els.map(t => [t.querySelector('title').textContent, t.firstChild.textContent])")
    people = [(full, shown) for full, shown in names if full.startswith(LONG_PERSON)]
    # Bob (Jira) and Cy (Trello): two people of one name, told apart by their tool (two charts).
    assert sorted(full for full, _ in people) == [f"{LONG_PERSON} (jira)"] * 2 + [
        f"{LONG_PERSON} (trello)"] * 2
    for full, shown in people:  # longer than 30 % of the chart: cut in the middle, tool kept
        assert "…" in shown and shown.endswith(full[full.index(" ("):]), (full, shown)
    # Same name, two tools: suggested as one person, so the suggestions table was measured too.
    assert page.locator("table.suggestions tbody tr").count() == 1
    page.goto(f"{base}/milestones?as_of={AS_OF}")
    rows = page.eval_on_selector_all(
        "svg.chart-timeline text[data-status]",
        "els => els.map(t => [[...t.querySelectorAll('tspan')].map(s => s.textContent).join(' '), "
        "t.querySelector('title').textContent])")
    full = [f"{LONG_PROJECT} · {LONG_MILESTONE.format(n)}" for n in (1, 2)]
    assert sorted(title for _, title in rows if title.startswith(LONG_PROJECT)) == full
    shown = [text for text, title in rows if title.startswith(LONG_PROJECT)]
    assert len(set(shown)) == 2 and all(s.endswith(("phase 1", "phase 2")) for s in shown), shown
    if width == 390:  # the timeline keeps its size and scrolls inside its box; the page does not
        assert page.eval_on_selector(
            "svg.chart-timeline", "s => s.parentElement.scrollWidth > s.parentElement.clientWidth")
