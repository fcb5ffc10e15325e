"""The demo looks like a real portfolio (issues 20 and 21): milestone cards with their cards,
people in both tools (some linked, some left to the suggestions), worklogs by those people
over recent weeks, and histories that give cycle time in both tools.

The generators are checked on their own (fast, no database), then one small demo per store
is started and read through its API, as a user would.
"""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sandbox.jira import JiraConfig, JiraState
from sandbox.jira import generate as jira_generate
from sandbox.trello import TrelloState
from sandbox.trello import generate as trello_generate
from service.db import Database
from service.demo import LINKED_PEOPLE, Demo, DemoOptions

NOW = 1_796_601_600.0  # 2026-12-07T00:00:00Z
DAY = 86_400.0


# --- the generators ------------------------------------------------------------------------------


def _trello(cards: int = 190) -> TrelloState:
    state = TrelloState(seed=42, clock=lambda: NOW)
    trello_generate(state, boards=4, cards_per_board=cards, seed=42, now=NOW)
    return state


def _milestone_cards(state: TrelloState) -> list[Any]:
    marker = {lb.id for lb in state.labels.values() if lb.name == "Milestone"}
    return [c for c in state.cards.values() if marker & set(c.id_labels)]


def test_trello_milestone_cards_have_their_cards_linked_by_a_label_of_their_name() -> None:
    state = _trello()
    milestones = _milestone_cards(state)
    assert len(milestones) == 4 * 7  # 190 // 25 a board
    linked: Counter[str] = Counter()
    for card in state.cards.values():
        for label in card.id_labels:
            linked[f"{card.id_board}:{state.labels[label].name}"] += 1
    planned = {m.id: linked[f"{m.id_board}:{m.name}"] for m in milestones}
    past = [m for m in milestones if m.due and datetime.fromisoformat(m.due).timestamp() < NOW]
    assert past and all(planned[m.id] > 0 for m in past), "a past milestone with no card planned for it"
    # names are unique on a board, so a label names one milestone
    assert all(n == 1 for n in Counter((m.id_board, m.name) for m in milestones).values())
    others = len(state.cards) - len(milestones)
    assert 0.5 < sum(planned.values()) / others < 0.9  # 80 % are planned, but for the newest cards


def test_trello_members_are_the_jira_people_under_the_same_or_a_near_name() -> None:
    trello = {(m.full_name, m.username) for m in _trello(cards=25).members.values()}
    jira = JiraState(JiraConfig())
    jira_generate(jira, projects=1, issues_per_project=5, seed=42)
    jira_people = {(u.display_name, u.name) for u in jira.users.values() if u.account_id != jira.myself_id}
    same_name = {n for n, _ in trello} & {n for n, _ in jira_people}
    assert same_name == {"Ada Lovelace", "Grace Hopper", "Alan Turing", "Barbara Liskov", "Donald Knuth",
                         "Margaret Hamilton"}
    same_username = {u for _, u in trello} & {u for _, u in jira_people}  # Jira DC's user names
    assert same_username == {"grace", "edsger", "margaret", "katherine"}
    assert ("Edsger W. Dijkstra", "edsger") in trello and ("Kathy Johnson", "katherine") in trello


def test_jira_open_work_is_planned_for_unreleased_versions_and_logged_in_recent_weeks() -> None:
    from sandbox.jira.records import STATUSES

    state = JiraState(JiraConfig())
    jira_generate(state, projects=3, issues_per_project=420, seed=42, anchor_ms=int(NOW * 1000))
    open_in_released = sum(
        1 for i in state.issues.values() for v in i.fix_version_ids or ()
        if state.versions[v].released and STATUSES[i.status_id].category != "done")
    in_released = sum(1 for i in state.issues.values() for v in i.fix_version_ids or () if state.versions[v].released)
    assert in_released > 60 and open_in_released <= in_released * 0.1  # a few stragglers, not a third
    week = [w for w in state.worklogs.values() if w.started >= (NOW - 7 * DAY) * 1000]
    authors = Counter(state.users[w.author].display_name for w in week)
    assert len(authors) == 8 and "Integration Bot" not in authors, authors


# --- a small demo, read through its API ------------------------------------------------------


@pytest.fixture(scope="module")
def demo(shared_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo on each store: 3 projects x 60 issues, 4 boards x 60 cards, no trickle. Started
    once per module and store (~5 s each): the first test only reads taskhub's API, the second
    changes only the simulated tools (after the first has read)."""
    said: list[str] = []
    d = Demo(DemoOptions(port=0, data_dir=tmp_path_factory.mktemp("demo"), jira_issues_per_project=60,
                         trello_cards_per_board=60, trickle_seconds=0, database_url=shared_db.url), say=said.append)
    try:
        d.start()
        yield d
    finally:
        d.stop()


def _get(d: Demo, path: str) -> Any:
    req = urllib.request.Request(d.base_url + path, headers={"Authorization": f"Bearer {d.token}"})  # noqa: S310
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - loopback
        return json.loads(r.read())


def _last_full_week_end(today: date) -> date:
    """as_of for "hours this week" with most of a week behind it: today from Thursday on,
    else the Sunday before (early in a week, hardly anyone has logged hours yet)."""
    return today if today.weekday() >= 3 else today - timedelta(days=today.weekday() + 1)


def test_the_demo_reads_as_a_real_portfolio(demo: Demo) -> None:
    # People: those the PM linked show once, with both identities; the near names are separate.
    people = _get(demo, "/api/v1/people")
    by_name: dict[str, list[dict[str, Any]]] = {}
    for p in people:
        by_name.setdefault(p["display_name"], []).append(p)
    for name in LINKED_PEOPLE:
        assert len(by_name[name]) == 1, by_name[name]
        assert sorted(i["tool"] for i in by_name[name][0]["identities"]) == ["jira", "trello"]
    assert len(by_name["Barbara Liskov"]) == 2  # same name in both tools: left to the suggestions
    assert "Edsger W. Dijkstra" in by_name and "Kathy Johnson" in by_name  # near names, unlinked
    assert "Integration Bot" not in by_name
    # Jira Cloud shows the emails of the few whose profile lets it (the sandbox's EMAIL_VISIBLE);
    # Trello shows nobody's: the other pairs rest on names.
    jira_emails = {i["display_name"]: i["email"] for p in people for i in p["identities"] if i["tool"] == "jira"}
    assert {n for n, e in jira_emails.items() if e} == {"Katherine Johnson", "Donald Knuth"}, jira_emails
    suggested = {(tuple(sorted(p["display_name"] for p in sg["persons"])), sg["strength"], sg["confidence"])
                 for sg in _get(demo, "/api/v1/people/suggestions")["suggestions"]}
    assert suggested == {(("Barbara Liskov", "Barbara Liskov"), "name", "medium"),
                         (("Edsger Dijkstra", "Edsger W. Dijkstra"), "near_name", "low"),  # email hidden
                         (("Katherine Johnson", "Kathy Johnson"), "username", "medium")}  # katherine@ / katherine

    # Milestones: the Trello milestone cards have tasks; none overdue is empty.
    milestones = _get(demo, "/api/v1/views/milestones")["milestones"]
    trello = [m for m in milestones if m["source_id"] == demo.trello_source]
    assert len(trello) == 6  # 60 // 25 = 2 a board; seed 42 archives Website Relaunch's M1, Data Platform's M2
    assert sum(1 for m in trello if m["tasks"] > 0) >= 5
    assert all(m["tasks"] > 0 for m in milestones if m["overdue"]), [
        (m["name"], m["reasons"]) for m in milestones if m["overdue"] and not m["tasks"]]

    # Progress by time: a figure below 100 % on the boards that estimate every card, else none.
    groups = _get(demo, "/api/v1/views/progress?group_by=project")["groups"]
    boards = {g["group"]["name"]: g for g in groups}
    for name in ("Website Relaunch", "Data Platform"):  # _ESTIMATED: every other board
        assert boards[name]["open_without_remaining"] == 0
        assert 0 < boards[name]["percent_complete_time"] < 1
    for name in ("Mobile App", "Customer Portal"):
        assert boards[name]["percent_complete_time"] is None and boards[name]["open_without_remaining"] > 0

    # Hours of the week: spread over the people, none of it by the integration's account.
    as_of = _last_full_week_end(datetime.now(ZoneInfo("Europe/Berlin")).date())
    rows = _get(demo, f"/api/v1/views/workload?as_of={as_of.isoformat()}")["people"]
    hours = {r["person"]["name"]: r["hours_this_week"] for r in rows if r["hours_this_week"] > 0}
    total = sum(hours.values())
    assert len(hours) >= 5 and max(hours.values()) < 0.5 * total, hours

    # Webhooks: registered by taskhub as for any user's source, so the Sources page shows them.
    for source, count in ((demo.jira_source, 1), (demo.trello_source, 4)):
        hooks = _get(demo, f"/api/v1/sources/{source}/webhooks")
        assert hooks["state"] == "registered" and len(hooks["registrations"]) == count, hooks

    # Cycle time from both tools' histories.
    flow = {g["group"]["id"]: g for g in _get(demo, "/api/v1/views/flow?group_by=source")["groups"]}
    for source in (demo.jira_source, demo.trello_source):
        assert flow[source]["cycle_time_days"]["count"] > 10 and flow[source]["cycle_time_days"]["p50"] > 1


def test_live_changes_are_made_by_people_not_by_the_integration(demo: Demo) -> None:
    def histories() -> dict[int, Any]:
        return {h.id: h for i in demo.jira.issues.values() for h in i.histories or ()}

    worklogs, changes = set(demo.jira.worklogs), set(histories())
    actions = {a.id for b in demo.trello.boards.values() for a in b.actions}
    rng = random.Random(7)
    for _ in range(40):
        demo._live_change(rng)
    new_worklogs = [w for k, w in demo.jira.worklogs.items() if k not in worklogs]
    new_changes = [h for k, h in histories().items() if k not in changes]
    new_actions = [a for b in demo.trello.boards.values() for a in b.actions if a.id not in actions]
    assert new_worklogs and new_changes and new_actions
    people = set(demo.jira.users) - {demo.jira.myself_id}
    assert {w.author for w in new_worklogs} <= people and {h.author for h in new_changes} <= people
    assert all(a.id_member_creator != demo.trello.me_id for a in new_actions)
