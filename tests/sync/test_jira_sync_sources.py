"""Source-level sync behaviour against the Jira sandbox: the census tombstones what
vanished, a Data Center site syncs through v2 search with ``startAt``, one lease per
source, and rejected credentials mark the source failing with the host and the reason.

References: deletions have no REST feed, so a census diffs ids (VENDOR_FACTS A8);
Data Center: ``/rest/api/2/search`` with ``startAt``/``total`` and a bearer PAT (A1, A11).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from connectors.errors import Unauthorized
from sandbox.jira import JiraConfig, JiraState, generate, mutations, start
from service.app import create_app
from service.security.auth import create_token
from service.sync.runner import SyncBusy, run_sync
from service.tables import Source, SyncRun, Task, Worklog
from tests.sync.conftest import FakeSleep, JiraSite, register_jira, sync_settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T = Task.__table__


def _tasks(db) -> dict[str, tuple[str | None, str | None]]:  # type: ignore[no-untyped-def]
    """``{external id: (deleted_reason, title)}`` of every stored task."""
    with db.read() as c:
        rows = c.execute(sa.select(T.c.external_id, T.c.deleted_reason, T.c.title)).all()
    return {r.external_id: (r.deleted_reason, r.title) for r in rows}


def test_census_tombstones_deleted_issues_and_those_that_left_the_scope(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    with site.db.write() as c:  # open work in APOLLO only
        c.execute(sa.update(Source.__table__).values(scope={"jql": 'project = APOLLO AND statusCategory != Done'}))
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    before = _tasks(site.db)
    open_apollo = [i for i in state.issues.values() if i.key.startswith("APOLLO-") and i.status_id != "10002"]
    assert set(before) == {str(i.id) for i in open_apollo} and len(before) >= 10
    gone, finished, moved = open_apollo[0], open_apollo[1], open_apollo[2]
    mutations.delete_issue(state, gone.key)
    mutations.transition_issue(state, finished.key, "Done")
    elsewhere = next(p.key for p in state.projects.values() if p.key != "APOLLO")
    move_ms = state.now_ms()
    mutations.move_issue(state, moved.key, elsewhere, at=move_ms)
    state.stats.reset()
    census_started = datetime.now(UTC)

    run = run_sync(site.db, site.settings, site.source_id, mode="census", sleep=FakeSleep())

    after = _tasks(site.db)
    assert after[str(gone.id)][0] == "deleted"  # GET /issue answers 404
    assert after[str(finished.id)][0] == "out_of_scope"  # still exists, no longer matches the scope
    assert after[str(moved.id)][0] == "out_of_scope"  # moved to a project outside the scope
    with site.db.read() as c:
        left = dict(c.execute(sa.select(T.c.external_id, T.c.deleted_at)
                              .where(T.c.external_id.in_([str(finished.id), str(moved.id)]))).all())
    stamp = {k: v if v.tzinfo else v.replace(tzinfo=UTC) for k, v in left.items()}
    # Moved since it was last seen: out of scope as of the move (its changelog's time); finished:
    # as of this census (nothing tells when a status took it out of a JQL scope).
    assert stamp[str(moved.id)] == datetime.fromtimestamp(move_ms / 1000, UTC)
    assert stamp[str(finished.id)] >= census_started.replace(microsecond=0) - timedelta(seconds=1)
    assert all(after[k][0] is None for k in before if k not in (str(gone.id), str(finished.id), str(moved.id)))
    assert run.items_changed == 3
    # one ids-only search page, then one lookup per missing issue (its changelog embedded)
    assert state.stats.count("/search/jql") == 1 and state.stats.count("/issue/") == 3


def test_census_keeps_its_time_for_an_issue_moved_out_and_back_that_left_by_its_status(jira_site: JiraSite):
    # Moved out and back since it was last seen, then done: the changelog's last project item is
    # the move back in, not when it left the scope (a status did, at a time nothing tells).
    site, state = jira_site, jira_site.state
    with site.db.write() as c:
        c.execute(sa.update(Source.__table__).values(scope={"jql": 'project = APOLLO AND statusCategory != Done'}))
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    issue = next(i for i in state.issues.values() if i.key.startswith("APOLLO-") and i.status_id != "10002")
    elsewhere = next(p.key for p in state.projects.values() if p.key != "APOLLO")
    now = state.now_ms()
    with site.db.write() as c:  # last seen an hour ago
        c.execute(sa.update(T).where(T.c.external_id == str(issue.id))
                  .values(remote_updated_at=datetime.fromtimestamp(now / 1000 - 3600, UTC)))
    mutations.move_issue(state, issue.key, elsewhere, at=now - 1_800_000)
    mutations.move_issue(state, issue.key, "APOLLO", at=now - 1_200_000)
    mutations.transition_issue(state, issue.key, "Done", at=now - 600_000)
    census_started = datetime.now(UTC)

    run_sync(site.db, site.settings, site.source_id, mode="census", sleep=FakeSleep())

    with site.db.read() as c:
        row = c.execute(sa.select(T.c.deleted_reason, T.c.deleted_at).where(T.c.external_id == str(issue.id))).one()
    assert row.deleted_reason == "out_of_scope"
    stamped = row.deleted_at if row.deleted_at.tzinfo else row.deleted_at.replace(tzinfo=UTC)
    assert stamped >= census_started.replace(microsecond=0) - timedelta(seconds=1)


@pytest.fixture
def dc_site(db, tmp_path) -> Iterator[JiraSite]:  # type: ignore[no-untyped-def]
    state = JiraState(JiraConfig(deployment="DataCenter", dc_search_page_max=25, worklog_feed_delay_ms=0,
                                 time_zone="Europe/Berlin"))
    generate(state, projects=2, issues_per_project=40, seed=11)
    url, stop = start(state)
    settings = sync_settings(tmp_path)
    org_id, source_id, secret = register_jira(db, settings, url, dc=True)
    yield JiraSite(url, state, settings, db, org_id, source_id, secret)
    stop()


def test_data_center_source_syncs_through_v2_search_with_start_at_and_a_pat(dc_site: JiraSite):
    site, state = dc_site, dc_site.state
    run = run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    stored = _tasks(site.db)
    assert set(stored) == {str(i) for i in state.issues} and run.items_seen == 80
    assert state.stats.count("/rest/api/2/search") == 4  # 80 issues, 25 per page, startAt paging
    assert state.stats.count("/search/jql") == 0 and state.stats.count("/rest/api/3/") == 0
    assert state.stats.by_status.get(401, 0) == 0  # the bearer PAT was accepted
    with site.db.read() as c:
        assignees = [a for a in c.execute(sa.select(T.c.assignees)).scalars() if a]
        worklogs = c.execute(sa.select(sa.func.count()).select_from(Worklog.__table__)).scalar()
        site_info = c.execute(sa.select(Source.__table__.c.site_info)).scalar()
    assert assignees and {a[0]["external_id"] for a in assignees} <= {"ada", "grace", "alan", "katherine", "edsger",
                                                                       "barbara", "donald", "margaret"}  # DC names
    assert worklogs == len(state.worklogs) > 0
    assert site_info["deployment"] == "datacenter" and site_info["timezone"] == "Europe/Berlin"

    edited = mutations.edit_issue(state, "BEACON-4", {"summary": "Edited on Data Center"})
    again = run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _tasks(site.db)[str(edited.id)][1] == "Edited on Data Center"
    assert again.items_seen < 80


def test_two_syncs_of_one_source_at_once_the_second_is_refused(jira_site: JiraSite):
    site = jira_site
    inside, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def slow_progress(phase: str, done: int, total: int | None) -> None:
        inside.set()
        release.wait(10)

    def first() -> None:
        try:
            outcome["run"] = run_sync(site.db, site.settings, site.source_id, mode="backfill", owner="worker-a",
                                      progress=slow_progress, sleep=FakeSleep())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(10), "the first sync never got going"
        with pytest.raises(SyncBusy):
            run_sync(site.db, site.settings, site.source_id, mode="incremental", owner="worker-b", sleep=FakeSleep())
    finally:
        release.set()
        thread.join(20)
    assert "error" not in outcome, outcome
    assert outcome["run"].items_seen == 80  # type: ignore[attr-defined]
    # once the first released its lease, the next run is welcome
    run_sync(site.db, site.settings, site.source_id, mode="incremental", owner="worker-b", sleep=FakeSleep())


def test_rejected_credentials_mark_the_source_failing_with_the_host_and_reason(jira_site: JiraSite):
    site = jira_site
    site.state.configure(api_token="rotated-by-an-admin")  # our stored token is no longer valid
    with pytest.raises(Unauthorized):
        run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    with site.db.read() as c:
        run = c.execute(sa.select(SyncRun.__table__)).one()
    assert run.status == "failed" and "unauthorized" in run.error and run.errors == 1

    with site.db.session() as s:
        token, _ = create_token(s, site.org_id, "read")
    app = create_app(site.settings, site.db, run_worker=False, migrate=False)
    with TestClient(app) as client:
        body = client.get(f"/api/v1/sources/{site.source_id}", headers={"Authorization": f"Bearer {token}"}).json()
    assert body["status"] == "failing"  # from the first failed run (issue 21); degraded after three
    host = site.url.split("//", 1)[1].rstrip("/")
    assert body["status_reason"].startswith(f"{host}: HTTP 401 credentials rejected; ")
    assert "/myself" in body["status_reason"]
    assert "rotated-by-an-admin" not in body["status_reason"] and "sandbox-api-token" not in body["status_reason"]
