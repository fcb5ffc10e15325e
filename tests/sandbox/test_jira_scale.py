"""The sandbox holds the benchmark's 100,000 issues and pages through them quickly."""

from __future__ import annotations

import time

import pytest

from sandbox.jira import JiraState, generate
from sandbox.jira.fields import FieldSelection, render_issue
from sandbox.jira.jql import parse_jql
from sandbox.jira.search import keyset_page
from sandbox.jira.serialize import Ctx


@pytest.mark.slow
def test_a_100k_issue_site_is_generated_and_paged_by_updated_quickly():
    state = JiraState()
    began = time.monotonic()
    summary = generate(state, projects=10, issues_per_project=10_000, seed=1)
    generated = time.monotonic() - began
    assert summary["issues"] == 100_000 and generated < 30
    query = parse_jql(
        "project in (APOLLO, BEACON, CIRRUS, DELTA, EMBER, FJORD, GLACIER, HARBOR, P8, P9) "
        'AND updated >= "2000-01-01" ORDER BY updated ASC',
        state,
    )
    # The last pages of the scan cost no more than the first: binary search, not a re-scan.
    token, pages, timings = None, 0, []
    while True:
        began = time.monotonic()
        page, token = keyset_page(state, query, token, 100)
        timings.append(time.monotonic() - began)
        pages += 1
        if token is None:
            break
    assert pages == 1000
    assert max(timings[-50:]) < 0.05
    ctx = Ctx(state, "3", "http://sandbox")
    began = time.monotonic()
    for issue in page:
        render_issue(ctx, issue, FieldSelection(["*all"]), expand={"changelog"}, changelog_cap=20)
    assert time.monotonic() - began < 1.0
