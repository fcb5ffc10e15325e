"""The sandbox holds the benchmark's 100,000 issues and pages through all of them.

How fast (generation, the last pages against the first, rendering a page) is measured by
``bench/sandbox_scale.py``, not asserted here: a timing assertion fails on a loaded machine."""

from __future__ import annotations

import pytest

from sandbox.jira import JiraState, generate
from sandbox.jira.fields import FieldSelection, render_issue
from sandbox.jira.jql import parse_jql
from sandbox.jira.search import keyset_page
from sandbox.jira.serialize import Ctx


@pytest.mark.slow
def test_a_100k_issue_site_is_generated_and_paged_by_updated():
    state = JiraState()
    summary = generate(state, projects=10, issues_per_project=10_000, seed=1)
    assert summary["issues"] == 100_000
    query = parse_jql(
        "project in (APOLLO, BEACON, CIRRUS, DELTA, EMBER, FJORD, GLACIER, HARBOR, P8, P9) "
        'AND updated >= "2000-01-01" ORDER BY updated ASC',
        state,
    )
    token, pages, seen, last = None, 0, set(), None
    while True:
        page, token = keyset_page(state, query, token, 100)
        pages += 1
        for issue in page:  # every issue once, in updated order
            assert issue.id not in seen and (last is None or (issue.updated, issue.id) >= last)
            seen.add(issue.id)
            last = (issue.updated, issue.id)
        if token is None:
            break
    assert pages == 1000 and len(seen) == 100_000
    ctx = Ctx(state, "3", "http://sandbox")
    rendered = [render_issue(ctx, issue, FieldSelection(["*all"]), expand={"changelog"}, changelog_cap=20)
                for issue in page]
    assert len(rendered) == 100 and all(r["fields"]["updated"] for r in rendered)
