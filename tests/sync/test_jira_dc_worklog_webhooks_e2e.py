"""Data Center worklog webhooks end to end, on both stores: the sandbox in Data Center mode
fires ``jira:worklog_updated`` (VENDOR_FACTS A10) over HTTP to the taskhub app; the worker
drains the inbox, the Jira handler fetches the named worklogs (``POST /rest/api/2/worklog/list``)
and the store's worklog rows follow, with no poll in between."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sandbox.jira import JiraConfig, JiraState, generate, mutations, start
from sandbox.jira.api import register_webhook
from sandbox.server import run_in_thread
from service.app import create_app
from service.db import Database
from service.sync.runner import run_sync
from service.tables import Worklog
from service.worker import Worker
from tests.sync.conftest import FakeSleep, JiraSite, register_jira, sync_settings
from tests.sync.test_jira_webhooks_e2e import Hub

W = Worklog.__table__


@pytest.fixture
def dc_hub(db: Database, tmp_path: Path) -> Iterator[Hub]:
    state = JiraState(JiraConfig(deployment="DataCenter", worklog_feed_delay_ms=0))
    generate(state, projects=1, issues_per_project=10, seed=7)
    url, stop_jira = start(state)
    settings = sync_settings(tmp_path)
    org_id, source_id, secret = register_jira(db, settings, url, dc=True)
    site = JiraSite(url, state, settings, db, org_id, source_id, secret)
    app = create_app(settings, db, run_worker=False, migrate=False)
    app_url, stop_app = run_in_thread(app, probe_path="/healthz", lifespan="on")
    hub = Hub(app_url, site, Worker(db, settings, worker_id="test-worker", poll_sources=False))
    register_webhook(state, hub.hook_url, secret=secret)  # every event
    try:
        yield hub
    finally:
        hub.http.close()
        stop_app()
        stop_jira()
        state.close()


def _worklog(hub: Hub, ident: int) -> Any:
    with hub.site.db.read() as c:
        return c.execute(sa.select(W.c.seconds, W.c.task_external_id, W.c.deleted_at)
                         .where(W.c.external_id == str(ident))).one_or_none()


def test_logged_updated_and_deleted_worklogs_reach_the_store_without_a_poll(dc_hub: Hub):
    hub, state = dc_hub, dc_hub.site.state
    run_sync(hub.site.db, hub.site.settings, hub.site.source_id, mode="backfill", sleep=FakeSleep())
    issue = state.issue("APOLLO-3")
    assert issue is not None
    searches, lists = state.stats.count("/search"), state.stats.count("/rest/api/2/worklog/list")

    wl = mutations.log_work(state, issue.key, 5400, author="grace")
    hub.deliver_and_drain()
    assert _worklog(hub, wl.id) == (5400, str(issue.id), None)
    assert hub.task(issue.id).spent_seconds == issue.time_spent  # the issue came with the event

    mutations.update_worklog(state, wl.id, seconds=1800)
    hub.deliver_and_drain()
    assert _worklog(hub, wl.id)[:2] == (1800, str(issue.id))
    assert hub.task(issue.id).spent_seconds == issue.time_spent

    mutations.delete_worklog(state, wl.id)
    hub.deliver_and_drain()
    assert _worklog(hub, wl.id).deleted_at is not None
    assert hub.task(issue.id).spent_seconds == (issue.time_spent or None)  # Jira sends no 0

    rows = hub.inbox()
    assert [r.status for r in rows] == ["done", "done", "done"], rows
    assert state.stats.count("/search") == searches  # no poll: nothing was searched
    assert state.stats.count("/rest/api/2/worklog/list") == lists + 2  # one fetch per logged/edited


def test_a_late_event_for_a_worklog_jira_no_longer_has_tombstones_it(dc_hub: Hub, monkeypatch):
    """The deletion's own webhook was lost; a late edit event names the worklog, the fetch
    finds it gone (worklog/list leaves it out), so the stored row is tombstoned, not kept."""
    hub, state = dc_hub, dc_hub.site.state
    held: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(state, "publish", lambda event, build: held.append((event, build())))
    kept = mutations.log_work(state, "APOLLO-4", 600)
    gone = mutations.log_work(state, "APOLLO-4", 900)
    mutations.update_worklog(state, gone.id, seconds=1200)
    assert [(e, p["issue_event_type_name"]) for e, p in held] == [
        ("jira:worklog_updated", "issue_work_logged"), ("jira:worklog_updated", "issue_work_logged"),
        ("jira:worklog_updated", "issue_worklog_updated")]
    for n, (_, payload) in enumerate(held[:2]):  # both logged events, in one inbox batch
        assert hub.post(json.dumps(payload).encode(), f"dc-{n}").status_code == 202
    hub.drain()
    assert _worklog(hub, kept.id) == (600, str(kept.issue_id), None)
    assert _worklog(hub, gone.id) == (1200, str(gone.issue_id), None)  # fetched: its current state

    mutations.delete_worklog(state, gone.id)  # its jira:worklog_updated is never delivered
    assert hub.post(json.dumps(held[2][1]).encode(), "dc-late-edit").status_code == 202
    hub.drain()
    assert _worklog(hub, gone.id).deleted_at is not None
    assert _worklog(hub, kept.id).deleted_at is None
    assert {r.status for r in hub.inbox()} == {"done"}
