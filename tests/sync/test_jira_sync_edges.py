"""Polling edge cases against the Jira sandbox, through the real ``jira`` library:
changes after a backfill, a killed sync resuming, a 429 storm, the JQL time zone trap.

References: JQL date literals are read in the API user's zone (VENDOR_FACTS A7);
429 + ``Retry-After`` in seconds (A9, https://developer.atlassian.com/cloud/jira/platform/rate-limiting/).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.jira.client import JiraAuth, JiraClient
from sandbox.jira import mutations
from service.sync.jira import OVERLAP, jql_datetime
from service.sync.runner import run_sync
from service.sync.state import PlannerStats, get_cursor, set_cursor
from service.tables import SyncRun, Task, Worklog
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN, FakeSleep, JiraSite

T = Task.__table__
W = Worklog.__table__


def _stored(site: JiraSite) -> dict[str, tuple[str, datetime]]:
    """``{external id: (title, remote updated)}`` of live tasks."""
    with site.db.read() as c:
        rows = c.execute(sa.select(T.c.external_id, T.c.title, T.c.remote_updated_at)
                         .where(T.c.deleted_at.is_(None))).all()
    return {r.external_id: (r.title, r.remote_updated_at) for r in rows}


def _ms(dt: datetime) -> int:
    return int((dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp() * 1000)


def _lower_bound(site: JiraSite) -> int:
    """Epoch ms of the next poll's JQL bound: the cursor - overlap, floored to the minute."""
    cursor = json.loads(get_cursor(site.db, site.source_id, "issues") or "{}")
    return _ms((datetime.fromisoformat(cursor["updated"]) - OVERLAP).replace(second=0, microsecond=0))


def test_backfill_then_edits_and_new_work_arrive_with_the_next_incremental_poll(jira_site: JiraSite, monkeypatch):
    site, state = jira_site, jira_site.state
    state.configure(search_page_max=20)
    monkeypatch.setattr(PlannerStats, "FIRST", 30)  # PostgreSQL: ANALYZE at 40 and 80 issues
    analyzed: list[int] = []
    original = PlannerStats.stored

    def counting(self, total):  # type: ignore[no-untyped-def]
        if total >= self.next:
            analyzed.append(total)
        original(self, total)

    monkeypatch.setattr(PlannerStats, "stored", counting)
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    assert set(_stored(site)) == {str(i) for i in state.issues}
    assert analyzed == [40, 80]
    bound = _lower_bound(site)
    # seen again, by design (an issue edited below is seen once, as one of the three)
    in_overlap = sum(1 for i in state.issues.values() if i.updated >= bound and i.key not in ("APOLLO-3", "BEACON-2"))
    edited = mutations.edit_issue(state, "APOLLO-3", {"summary": "Edited after the backfill", "priority": "Highest"})
    created = mutations.create_issue(state, "BEACON", "Created after the backfill", type="Bug")
    wl = mutations.log_work(state, "BEACON-2", 3600, author="alan")
    state.stats.reset()

    run = run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())

    stored = _stored(site)
    assert stored[str(edited.id)][0] == "Edited after the backfill"
    assert stored[str(created.id)][0] == "Created after the backfill"
    assert set(stored) == {str(i) for i in state.issues}
    assert run.items_seen == 3 + in_overlap  # only the changed issues came back (+ the overlap)
    with site.db.read() as c:
        assert c.execute(sa.select(W.c.seconds).where(W.c.external_id == str(wl.id))).scalar() == 3600
        prio = c.execute(sa.select(T.c.priority).where(T.c.external_id == str(edited.id))).scalar()
    assert prio == "Highest"
    assert state.stats.count("/search/jql") == 1  # one page: the cursor bounds the query
    assert analyzed == [40, 80]  # a small incremental run does not re-analyze
    assert state.stats.count("/serverInfo") == 1 and state.stats.count("/myself") == 0  # site info cached
    assert run.items_changed == 3 + 1  # three tasks and one worklog; the overlap re-read changes nothing


class Killed(BaseException):
    """Stands in for SIGKILL / a crash: not an error the runner could classify."""


def test_sync_killed_mid_run_resumes_from_its_last_stored_page_without_gap(jira_site: JiraSite, monkeypatch):
    site, state = jira_site, jira_site.state
    state.configure(search_page_max=10)  # 80 issues -> 8 pages
    original = JiraClient.search_page
    calls = {"n": 0}

    def dies_on_fourth_page(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JiraClient, "search_page", dies_on_fourth_page)
    with pytest.raises(Killed):
        run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    monkeypatch.setattr(JiraClient, "search_page", original)

    first = _stored(site)
    assert len(first) == 30  # three pages were stored, each with its cursor
    cursor = json.loads(get_cursor(site.db, site.source_id, "issues") or "{}")
    resume_from = datetime.fromisoformat(cursor["updated"])
    assert _ms(resume_from) == max(_ms(u) for _, u in first.values())
    with site.db.read() as c:
        failed = c.execute(sa.select(SyncRun.__table__.c.status)).scalars().all()
    assert failed == ["failed"]

    bound = _lower_bound(site)
    state.stats.reset()
    second = run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())

    assert set(_stored(site)) == {str(i) for i in state.issues}  # no gap
    # No repeat beyond the overlap window: the JQL lower bound is the cursor - overlap, to the minute.
    expected = sum(1 for i in state.issues.values() if i.updated >= bound)
    assert second.items_seen == expected
    assert expected < 80 - 30 + 5  # nowhere near a restart from the beginning
    assert state.stats.count("/search/jql") == -(-expected // 10)


def test_429_storm_finishes_and_every_wait_honours_retry_after(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    state.faults.storm(4, retry_after=3)  # whatever comes next: serverInfo, myself...
    state.faults.storm(2, retry_after=11, path="/search/jql")
    sleep = FakeSleep()

    run = run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=sleep)

    assert len(_stored(site)) == 80
    assert state.stats.by_status[429] == 6
    assert len(sleep.waits) == 6
    assert all(3 <= w < 3.5 for w in sleep.waits[:4]), sleep.waits
    assert all(11 <= w < 11.5 for w in sleep.waits[4:]), sleep.waits
    assert run.api_calls >= state.stats.total - 1  # every attempt counted (the sandbox skips none)


def test_issue_updated_minutes_ago_is_found_when_the_user_zone_is_utc_minus_8(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    state.configure(time_zone="Pacific/Pitcairn")  # UTC-8 all year (no DST)
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    now = datetime.now(UTC)
    with site.db.write() as c:  # the last poll ran ten minutes ago
        set_cursor(c, site.source_id, "issues", json.dumps({"updated": (now - timedelta(minutes=10)).isoformat()}))
    touched = mutations.edit_issue(state, "APOLLO-7", {"summary": "Touched four minutes ago"},
                                   at=_ms(now - timedelta(minutes=4)))

    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _stored(site)[str(touched.id)][0] == "Touched four minutes ago"

    # The sandbox really reads the literal in the user's zone: the same bound printed in UTC
    # lands eight hours in the future for Jira, and the change would have been missed.
    since = now - timedelta(minutes=10) - OVERLAP
    client = JiraClient(site.url, JiraAuth.cloud(JIRA_EMAIL, JIRA_TOKEN), deployment="cloud",
                        outbound=site.settings.outbound_policy)

    def ids(zone: str) -> set[str]:
        jql = f'project in ("APOLLO") AND updated >= "{jql_datetime(since, zone)}" ORDER BY updated ASC'
        return {i["id"] for page in client.iter_search(jql, fields=["id"]) for i in page.issues}

    assert str(touched.id) in ids("Pacific/Pitcairn")
    assert str(touched.id) not in ids("UTC")
