"""Backfill then incremental against the Jira sandbox, through the real jira library."""

from __future__ import annotations

import sqlalchemy as sa

from service.sync.runner import run_sync
from service.tables import Milestone, Task, Worklog
from tests.sync.conftest import FakeSleep


def _count(db, table, *where):
    with db.read() as c:
        return c.execute(sa.select(sa.func.count()).select_from(table.__table__).where(*where)).scalar()


def test_backfill_stores_issues_worklogs_versions_then_noop_poll_is_two_requests(jira_site):
    site = jira_site
    run = run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    assert _count(site.db, Task) == 80
    assert _count(site.db, Worklog) > 0
    assert _count(site.db, Milestone) > 0
    assert run.items_seen == 80 and run.api_calls > 0
    again = run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert again.api_calls <= 2, again.api_calls
