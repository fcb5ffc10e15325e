"""The simulated tools at benchmark scale: how fast they generate, page and render.

    .venv/bin/python bench/sandbox_scale.py

Jira: a 100,000-issue site generated; every page of an ``updated >= … ORDER BY updated`` scan
(the last 50 pages against the first 50: a binary search per page, not a re-scan, keeps them
equal); one page of 100 issues rendered with every field and its changelog. Trello: 50 boards of
1,000 cards generated; one board's cards rendered with their custom fields. Prints figures;
asserts nothing (the tests check what is generated, not how fast).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.jira import JiraState, generate  # noqa: E402
from sandbox.jira.fields import FieldSelection, render_issue  # noqa: E402
from sandbox.jira.jql import parse_jql  # noqa: E402
from sandbox.jira.search import keyset_page  # noqa: E402
from sandbox.jira.serialize import Ctx  # noqa: E402
from sandbox.trello import TrelloState  # noqa: E402
from sandbox.trello import generate as generate_trello  # noqa: E402
from sandbox.trello.serialize import card_json  # noqa: E402


def jira() -> None:
    state = JiraState()
    began = time.perf_counter()
    generate(state, projects=10, issues_per_project=10_000, seed=1)
    print(f"jira: 100,000 issues generated in {time.perf_counter() - began:.1f} s")
    query = parse_jql("project in (APOLLO, BEACON, CIRRUS, DELTA, EMBER, FJORD, GLACIER, HARBOR, P8, P9) "
                      'AND updated >= "2000-01-01" ORDER BY updated ASC', state)
    token, timings, page = None, [], []
    while True:
        began = time.perf_counter()
        page, token = keyset_page(state, query, token, 100)
        timings.append(time.perf_counter() - began)
        if token is None:
            break
    first, last = statistics.median(timings[:50]) * 1000, statistics.median(timings[-50:]) * 1000
    print(f"jira: {len(timings)} pages of 100; median first 50 {first:.2f} ms, last 50 {last:.2f} ms "
          f"(ratio {last / first:.2f})")
    ctx = Ctx(state, "3", "http://sandbox")
    began = time.perf_counter()
    for issue in page:
        render_issue(ctx, issue, FieldSelection(["*all"]), expand={"changelog"}, changelog_cap=20)
    print(f"jira: one page of 100 issues rendered (*all, changelog) in {(time.perf_counter() - began) * 1000:.0f} ms")


def trello() -> None:
    began = time.perf_counter()
    state = TrelloState(seed=5)
    generate_trello(state, boards=50, cards_per_board=1000, seed=5)
    print(f"trello: 50 boards x 1,000 cards generated in {time.perf_counter() - began:.1f} s")
    board = next(iter(state.boards.values()))
    began = time.perf_counter()
    for card in board.cards.values():
        card_json(state, card, custom_field_items=True)
    print(f"trello: one board's 1,000 cards rendered in {(time.perf_counter() - began) * 1000:.0f} ms")


if __name__ == "__main__":
    jira()
    trello()
