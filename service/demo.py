"""``taskhub demo``: a whole organization over simulated Jira and Trello, live.

Starts the simulated Jira Cloud and Trello on loopback ports, generates three
Jira projects and four Trello boards (worklogs, versions, milestone cards with their
cards, some overdue; people who work in both tools; issue links, flagged issues and
Blocked cards, bugs on both tools, some reopened or escaped into a release), registers both as sources with
their webhooks, runs the initial sync with a progress bar, links the people a PM
would already have linked (the others are left to the link suggestions), sets budgets
and planned dates (one project over budget, one behind schedule), keeps a trickle of
live changes by those people flowing through real webhooks, and serves the dashboard
and API until Ctrl-C.

The simulated tools (``sandbox``) are imported inside the methods that use them, never at the
top: production code does not load them (tests/test_architecture.py checks it).
"""

from __future__ import annotations

import logging
import random
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from service import webhook_registration
from service.app import create_app
from service.db import Database
from service.portfolio.people import link_identity
from service.portfolio.schemas import IdentityLink
from service.schemas import SourceCreate
from service.security.auth import create_org, create_token
from service.settings import Settings
from service.sources import create_source
from service.store.rollups import people_changing
from service.sync import runner
from service.tables import (
    Person,
    PersonIdentity,
    PersonRate,
    Portfolio,
    PortfolioProject,
    Project,
    Task,
    stored_id,
    table,
)
from service.views import ViewParams, compute_view

log = logging.getLogger("taskhub.demo")

__all__ = ["DemoOptions", "Demo", "LINKED_PEOPLE"]

# People in both tools under the same name whom the demo's PM has already linked (one link
# call each, as on the People page). The generators give others a same or near name in both
# tools (sandbox/trello/generator.py); those are left to the people-link suggestions.
LINKED_PEOPLE = ("Ada Lovelace", "Grace Hopper", "Alan Turing")


@dataclass
class DemoOptions:
    port: int = 8000
    host: str = "127.0.0.1"
    data_dir: Path = Path(".taskhub-demo")
    jira_issues_per_project: int = 420
    trello_cards_per_board: int = 190
    trickle_seconds: float = 2.0
    seed: int = 42
    database_url: str | None = None
    jira_port: int = 0  # the simulated tools' ports (0: any free port)
    trello_port: int = 0


@dataclass
class Demo:
    options: DemoOptions
    say: Callable[[str], None] = print
    progress: Callable[[str, int, int | None], None] | None = None
    stops: list[Callable[[], None]] = field(default_factory=list)
    token: str = ""
    base_url: str = ""
    stop_event: threading.Event = field(default_factory=threading.Event)

    # --- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        opts = self.options
        if opts.database_url is None:  # a fresh embedded database per demo run
            shutil.rmtree(opts.data_dir, ignore_errors=True)
        opts.data_dir.mkdir(parents=True, exist_ok=True)
        from sandbox.server import free_port

        port = opts.port or free_port(opts.host)
        self.base_url = f"http://{opts.host}:{port}"
        self.settings = Settings(
            data_dir=opts.data_dir, database_url=opts.database_url, host=opts.host, port=port,
            public_base_url=self.base_url, poll_sources=True, embedded_worker=True, worker_poll_interval=0.1,
            secret_key=SecretStr(Fernet.generate_key().decode()) if opts.database_url else None,
            _env_file=None,
        )
        self.db = Database(self.settings.effective_database_url)
        self.db.migrate()
        self.say("taskhub demo: starting the simulated Jira Cloud and Trello …")
        self._start_sandboxes()
        self._allow_sandboxes()
        self._org_and_token()
        from sandbox.server import run_in_thread

        app = create_app(self.settings, self.db, run_worker=True, migrate=False)
        url, stop_app = run_in_thread(app, port, host=opts.host, lifespan="on", probe_path="/healthz",
                                      startup_timeout=30)
        self.stops.insert(0, stop_app)
        self._register_sources()
        self._initial_sync()
        self._link_people()
        self._plan_portfolio()
        if opts.trickle_seconds > 0:
            t = threading.Thread(target=self._trickle, name="demo-trickle", daemon=True)
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for stop in self.stops:
            try:
                stop()
            except Exception:  # noqa: BLE001 - best effort on the way out
                log.debug("demo.stop_failed", exc_info=True)
        self.stops.clear()

    # --- the simulated tools ------------------------------------------------------------
    def _start_sandboxes(self) -> None:
        from sandbox.jira import JiraConfig, JiraState
        from sandbox.jira import generate as jira_generate
        from sandbox.jira import start as jira_start
        from sandbox.trello import TrelloState
        from sandbox.trello import generate as trello_generate
        from sandbox.trello import start as trello_start

        o = self.options
        self.jira = JiraState(JiraConfig(worklog_feed_delay_ms=0, webhook_concurrency=4))
        summary = jira_generate(self.jira, projects=3, issues_per_project=o.jira_issues_per_project, seed=o.seed)
        self.jira_url, stop = jira_start(self.jira, port=o.jira_port)
        self.stops.append(stop)
        self.stops.append(self.jira.close)
        self.trello = TrelloState(seed=o.seed)
        self.boards = trello_generate(self.trello, boards=4, cards_per_board=o.trello_cards_per_board, seed=o.seed)
        trello_url, stop = trello_start(self.trello, port=o.trello_port)
        self.trello_api = trello_url + "/1"
        self.stops.append(stop)
        self.stops.append(self.trello.close)
        self._risk_and_quality_data()
        self.say(f"  Jira  : {self.jira_url}  ({summary['issues']} issues, {summary['worklogs']} worklogs, "
                 f"{len(self.jira.links)} issue links)")
        self.say(f"  Trello: {trello_url}  ({len(self.boards)} boards × {o.trello_cards_per_board} cards)")

    def _risk_and_quality_data(self) -> None:
        """Make sure the risk and quality views have their story whatever the generators drew
        (issue 23): an issue blocked by one of another project, two more flagged issues, a
        Trello card labelled Blocked, and Trello bugs reopened (Done back to Doing). The
        generators already add links, flagged issues, escaped bugs (a released version in
        ``versions``), reopened Jira issues and Blocked cards; these come on top, before the
        first sync, each with the history the tool would keep."""
        from sandbox.jira import mutations as jm
        from sandbox.jira.records import STATUSES
        from sandbox.trello import mutations as tm

        rng = random.Random(self.options.seed + 23)
        day = 86_400_000
        now = self.jira.now_ms()
        working = sorted((i for i in self.jira.issues.values() if STATUSES[i.status_id].category == "indeterminate"),
                         key=lambda i: i.id)
        by_project: dict[int, list[int]] = {}
        for issue in working:
            by_project.setdefault(issue.project_id, []).append(issue.id)
        projects = sorted(by_project)
        if len(projects) >= 2:
            blocked, blocker = by_project[projects[0]][0], by_project[projects[1]][0]
            latest = max(self.jira.issues[blocked].updated, self.jira.issues[blocker].updated)
            jm.link_issues(self.jira, blocker, blocked, at=min(now, max(latest + 1000, now - 6 * day)))
        for issue in rng.sample(working, min(2, len(working))):
            at = min(now, max(issue.updated + 1000, now - rng.randint(2, 9) * day))  # never before its last change
            jm.edit_issue(self.jira, issue.id, {"flagged": True}, at=at, actor=issue.assignee)
        for board_id in self.boards[:2]:
            board = self.trello.boards[board_id]
            labels = {lb.name: lb.id for lb in board.labels.values()}
            lists = {lst.name: lst.id for lst in board.lists.values()}
            cards = sorted((c for c in board.cards.values() if not c.closed), key=lambda c: c.id)
            team = [m for m in board.member_ids if m != self.trello.me_id] or board.member_ids
            blocked_label = labels.get("Blocked") or tm.create_label(self.trello, board_id, "Blocked", "red").id
            doing = [c for c in cards if c.id_list == lists.get("Doing") and blocked_label not in c.id_labels]
            if doing:
                tm.add_card_label(self.trello, doing[0].id, blocked_label, by=rng.choice(team),
                                  ts=self._after(doing[0].last_activity, 3))
            done_bugs = [c for c in cards if c.id_list == lists.get("Done") and labels.get("Bug") in c.id_labels]
            for card in done_bugs[:2]:  # reopened: the fix did not hold
                tm.move_card(self.trello, card.id, lists["Doing"], by=rng.choice(team),
                             ts=self._after(card.last_activity, rng.randint(1, 5)))

    def _after(self, last_activity: float, days_ago: int) -> float:
        """``days_ago`` days before now, but after the card's last activity (Trello seconds)."""
        now = self.trello.now()
        return min(now - 1, max(last_activity + 60, now - days_ago * 86_400))

    def _allow_sandboxes(self) -> None:
        """Let the outbound guard reach the two loopback sandboxes, and nothing else internal.

        Only this demo's settings carry the allowance, and only for the sandboxes' own host and
        port (not the API itself, nor a database on the same address), so no switch exists that
        a production deployment could inherit.
        """
        entries = sorted({urlsplit(u).netloc for u in (self.jira_url, self.trello_api)})
        self.settings = self.settings.model_copy(update={"outbound_allow": ",".join(entries)})

    def _org_and_token(self) -> None:
        with self.db.session() as s:
            org = create_org(s, "Demo Org", timezone="Europe/Berlin", currency="EUR")
            self.org_id = stored_id(org)
            self.token, _ = create_token(s, self.org_id, "admin", "demo")

    def _register_sources(self) -> None:
        with self.db.session() as s:
            jira = create_source(s, self.settings, self.org_id, SourceCreate.model_validate({
                "kind": "jira", "name": "Jira Cloud", "base_url": self.jira_url, "poll_interval_seconds": 60,
                "credentials": {"type": "jira_cloud", "email": "integration@example.com",
                                "api_token": "sandbox-api-token"}}))
            trello = create_source(s, self.settings, self.org_id, SourceCreate.model_validate({
                "kind": "trello", "name": "Trello", "base_url": self.trello_api, "poll_interval_seconds": 60,
                "scope": {"boards": self.boards},
                "credentials": {"type": "trello", "api_key": self.trello.api_key, "token": "sandbox-token",
                                "app_secret": self.trello.app_secret}}))
        self.jira_source, self.trello_source = jira.id, trello.id
        # As for any user's source: taskhub registers the webhooks and records their state (the
        # Sources page shows it); the demo does nothing by hand.
        for sid in (jira.id, trello.id):
            webhook_registration.reconcile(self.db, self.settings, sid)
        self.say("  sources registered, webhooks pointed at taskhub")

    def _initial_sync(self) -> None:
        T = table(Task)
        for sid, name in ((self.jira_source, "Jira"), (self.trello_source, "Trello")):
            t0 = time.monotonic()
            while True:
                try:
                    run = runner.run_sync(self.db, self.settings, sid, mode="backfill", owner="demo",
                                          progress=self.progress)
                    break
                except runner.SyncBusy:
                    # The app's worker polls due sources every few seconds and a new source is due
                    # at once: when it got there first, wait for its run, then backfill after it.
                    if time.monotonic() - t0 > 300:
                        raise
                    time.sleep(0.2)
            with self.db.read() as conn:
                stored = conn.execute(sa.select(sa.func.count()).where(T.c.source_id == sid)).scalar_one()
            self.say(f"  {name}: {stored} tasks stored in {time.monotonic() - t0:.1f}s "
                     f"({run.items_seen} items read, {run.api_calls} API calls by the demo's run)")

    # --- the PM side: people, budgets, plans, rates, portfolios ------------------------------
    def _link_people(self) -> None:
        """Link each of ``LINKED_PEOPLE``'s Trello identity to their Jira person, as a PM does
        with the link call: their tasks, worklogs and hours then show under one person."""
        ident = table(PersonIdentity)
        linked: list[str] = []
        with self.db.session() as s:
            rows = s.execute(sa.select(ident.c.id, ident.c.person_id, ident.c.tool, ident.c.display_name).where(
                ident.c.org_id == self.org_id, ident.c.display_name.in_(LINKED_PEOPLE))).all()
            found = {(r.tool, r.display_name): r for r in rows}
            for name in LINKED_PEOPLE:
                jira, trello = found.get(("jira", name)), found.get(("trello", name))
                if jira is not None and trello is not None:
                    link_identity(s, self.org_id, jira.person_id, IdentityLink(identity_id=trello.id))
                    linked.append(name)
            s.commit()
        self.say(f"  people: {', '.join(linked) or 'nobody'} linked across Jira and Trello; "
                 "others with a same or near name are left to the People page's suggestions")

    def _plan_portfolio(self) -> None:
        P = table(Project)
        rng = random.Random(self.options.seed)
        today = date.today()
        with self.db.write() as conn:
            people = conn.execute(sa.select(table(Person).c.id).where(
                table(Person).c.org_id == self.org_id)).scalars().all()
            with people_changing(conn, self.org_id, people):  # their worklogs are priced at the new rates
                for pid in people:
                    rate = Decimal(rng.choice([70, 85, 95, 110, 125]))
                    conn.execute(sa.insert(table(PersonRate)).values(
                        org_id=self.org_id, person_id=pid, effective_from=today - timedelta(days=400),
                        hourly_rate=rate))
                    conn.execute(sa.insert(table(PersonRate)).values(  # a raise mid-project
                        org_id=self.org_id, person_id=pid, effective_from=today - timedelta(days=60),
                        hourly_rate=rate + 10))
            projects = conn.execute(sa.select(P.c.id, P.c.name, P.c.key).where(P.c.org_id == self.org_id)
                                    .order_by(P.c.id)).all()
        # Budgets from what the views compute as actual cost, so the story is the same
        # whatever the generator produced: project 0 over budget, project 1 behind schedule.
        figures = {g["group"]["id"]: g for g in compute_view(
            self.db, self.org_id, "budget", ViewParams(group_by="project"))["groups"]}
        with self.db.write() as conn:
            for i, p in enumerate(projects):
                f = figures.get(p.id, {})
                ac = float(f.get("ac") or 0.0) or 20000.0
                done = float(f.get("percent_complete") or 0.3) or 0.3
                if i == 0:
                    budget, start, end = ac * 0.9, today - timedelta(days=150), today + timedelta(days=120)
                elif i == 1:
                    budget, start, end = ac / done * 1.2, today - timedelta(days=150), today + timedelta(days=21)
                else:
                    budget, start, end = ac / done * 1.15, today - timedelta(days=150), today + timedelta(
                        days=int(150 * (1 - done) / done) + 30 * i)
                conn.execute(sa.update(P).where(P.c.id == p.id).values(
                    budget_amount=Decimal(round(budget, -2)), budget_currency="EUR", planned_start=start,
                    planned_end=end, hourly_rate=Decimal(90)))
            for name, members in (("All work", [p.id for p in projects]),
                                  ("Product launch", [p.id for p in projects[:2]] + [p.id for p in projects[3:5]])):
                pf = conn.execute(sa.insert(table(Portfolio)).values(org_id=self.org_id, name=name)
                                  .returning(table(Portfolio).c.id)).scalar_one()
                conn.execute(sa.insert(table(PortfolioProject)),
                             [{"portfolio_id": pf, "project_id": m} for m in members])
        self.say(f"  budgets and plans set for {len(projects)} projects; 2 portfolios")

    # --- live changes ------------------------------------------------------------------------
    def _trickle(self) -> None:
        rng = random.Random(self.options.seed + 1)
        while not self.stop_event.wait(self.options.trickle_seconds):
            try:
                self._live_change(rng)
            except Exception:  # noqa: BLE001 - the trickle must keep going
                log.debug("demo.trickle_failed", exc_info=True)

    def _live_change(self, rng: random.Random) -> None:
        """One change in a simulated tool, made by a person working there (the issue's
        assignee, a card's member), never by the integration's own account: a status moved
        on, hours logged on a Jira issue, or a Trello card moved to its next list."""
        from sandbox.jira import mutations as jm
        from sandbox.jira.generator import PEOPLE
        from sandbox.jira.records import STATUSES
        from sandbox.jira.worklogs import log_work
        from sandbox.trello import mutations as tm

        flow = ["To Do", "In Progress", "In Review", "Done"]
        if rng.random() < 0.6:
            with self.jira.lock:
                open_issues = [i for i in self.jira.issues.values() if STATUSES[i.status_id].name != "Done"]
            if not open_issues:
                return
            issue = rng.choice(open_issues)
            person = issue.assignee or rng.choice([name for _, name in PEOPLE])
            status = STATUSES[issue.status_id].name
            if rng.random() < 0.5 and status in flow:
                nxt = flow[min(flow.index(status) + 1, len(flow) - 1)]
                jm.transition_issue(self.jira, issue.key, nxt, actor=person)
            else:
                log_work(self.jira, issue.key, rng.choice([1800, 3600, 5400, 7200]), author=person)
        else:
            board = self.trello.boards[rng.choice(self.boards)]
            lists = sorted(board.lists.values(), key=lambda lst: lst.pos)
            cards = [c for c in board.cards.values() if not c.closed]
            if not cards:
                return
            card = rng.choice(cards)
            team = [m for m in board.member_ids if m != self.trello.me_id]
            by = rng.choice(list(card.id_members) or team or board.member_ids)
            idx = next((i for i, lst in enumerate(lists) if lst.id == card.id_list), 0)
            tm.move_card(self.trello, card.id, lists[min(idx + 1, len(lists) - 1)].id, by=by)

    def wait(self) -> None:
        while not self.stop_event.wait(0.5):
            pass


def print_banner(demo: Demo, say: Callable[[str], None]) -> None:
    say("")
    say(f"Dashboard: {demo.base_url}/   (sign in with the token below)")
    say(f"API docs:  {demo.base_url}/docs")
    say(f"Token:     {demo.token}")
    say(f"Try:       curl -H 'Authorization: Bearer {demo.token}' {demo.base_url}/api/v1/views/budget")
    say("Live changes are flowing from the simulated tools through webhooks. "
        "Ctrl-C (or `make stop` from another shell) stops the demo.")


