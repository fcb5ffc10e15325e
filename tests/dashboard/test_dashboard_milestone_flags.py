"""Issue 20 on the dashboard, both stores: a released milestone with open tasks is flagged in
the milestone table and on the timeline; a milestone with no linked tasks shows no forecast
(it says "no linked tasks") and is still overdue; the overview's Complete column labels both
of its percentages."""

from __future__ import annotations

import re
from datetime import date

from service import store
from service.db import Database
from tests.dashboard.world import AS_OF, Org, TestClient, at
from tests.views.portfolio_data import _version

Q = {"as_of": AS_OF}


def _row(html: str, attr: str, ident: int) -> str:
    m = re.search(rf'<tr {attr}="{ident}"[^>]*>(.*?)</tr>', html, flags=re.S)
    assert m, f"no row {attr}={ident}"
    return m.group(1)


def test_released_with_open_tasks_and_empty_milestones_on_the_dashboard(
    as_acme: TestClient, acme: Org, db: Database
) -> None:
    with db.write() as c:
        o = acme
        store.upsert_milestones(c, o.org_id, o.jira, [
            # R1 (J1 done, J3 open) released on 03-10: done, with 1 open task.
            _version("v1", "R1 acme", date(2026, 3, 9), at(3, 10), released=True),
            # No task links to it; due 03-01, not released: overdue by 11 days as of 03-12.
            _version("v9", "Empty acme", date(2026, 3, 1), at(3, 1)),
        ])
    html = as_acme.get("/milestones", params=Q).text
    r1 = _row(html, "data-milestone-id", acme.milestones["v1"])
    assert 'data-flag="completed-with-open-tasks"' in r1 and "released with 1 open" in r1
    assert "marked released/completed while 1 linked task is still open" in r1
    project = as_acme.get(f"/projects/{acme.apollo}", params=Q).text  # its timeline shows every milestone
    assert "done with 1 open task" in project and 'data-flag="completed-with-open-tasks"' in project
    empty = re.search(r'<tr data-milestone-id="\d+" class="overdue">\s*<th scope="row">Empty acme</th>(.*?)</tr>',
                      html, flags=re.S)
    assert empty, "the empty milestone is overdue"
    assert "— no linked tasks" in empty.group(1) and '<td class="num">11</td>' in empty.group(1)
    assert "Empty acme" in html and "11 d overdue, no linked tasks" in html  # the timeline's note


def test_overview_complete_column_labels_both_percentages(as_acme: TestClient, acme: Org) -> None:
    html = as_acme.get("/", params=Q).text
    apollo = _row(html, "data-project-id", acme.apollo)
    # Was an unlabelled "33% ... 2/5 tasks · 40%": 4 / 12 points by estimate, 2 of 5 tasks by count.
    assert re.search(r'33%.*?<span class="muted">by estimate</span>', apollo, flags=re.S)
    assert "2/5 tasks · 40% by count" in apollo
