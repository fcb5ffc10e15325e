"""The webhook path end to end: the Jira sandbox delivers signed admin webhooks over HTTP
to the taskhub app on a loopback port; the worker drains the inbox into the store.

Jira reference: https://developer.atlassian.com/cloud/jira/platform/webhooks/
(``X-Hub-Signature: sha256=<hex>``, ``X-Atlassian-Webhook-Identifier`` kept across retries,
no ordering guarantee).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from connectors.jira.webhooks import IDENTIFIER_HEADER, SIGNATURE_HEADER, sign
from sandbox.jira import mutations
from sandbox.jira.api import register_webhook
from sandbox.server import run_in_thread
from service.app import create_app
from service.sync.runner import run_sync
from service.tables import Change, InboxEvent, Milestone, Task, Worklog
from service.worker import Worker
from tests.realdata import REALDATA
from tests.sync.conftest import FakeSleep, JiraSite

IE = InboxEvent.__table__
T = Task.__table__
W = Worklog.__table__
M = Milestone.__table__


@dataclass
class Hub:
    """The taskhub app on loopback, wired to the sandbox as its admin webhook target."""

    url: str
    site: JiraSite
    worker: Worker
    held: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def hook_url(self) -> str:
        return f"{self.url}/webhooks/jira/{self.site.source_id}"

    def deliver_and_drain(self) -> None:
        assert self.site.state.flush(10), "sandbox deliveries did not finish"
        self.drain()

    def drain(self) -> None:
        for _ in range(50):
            if not self.worker.run_once():
                return
        raise AssertionError("inbox did not drain")

    def post(self, body: bytes, identifier: str, *, signature: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "application/json", IDENTIFIER_HEADER: identifier,
                   SIGNATURE_HEADER: signature or sign(self.site.webhook_secret, body)}
        return self.http.post(self.hook_url, content=body, headers=headers)

    def task(self, external_id: str | int) -> Any:
        with self.site.db.read() as c:
            return c.execute(sa.select(T).where(T.c.external_id == str(external_id))).one_or_none()

    def inbox(self) -> list[Any]:
        with self.site.db.read() as c:
            return c.execute(sa.select(IE.c.id, IE.c.dedupe_key, IE.c.status, IE.c.reason, IE.c.error)
                             .order_by(IE.c.id)).all()


@pytest.fixture
def hub(jira_site: JiraSite) -> Iterator[Hub]:
    site = jira_site
    app = create_app(site.settings, site.db, run_worker=False, migrate=False)
    url, stop = run_in_thread(app, probe_path="/healthz", lifespan="on")
    h = Hub(url, site, Worker(site.db, site.settings, worker_id="test-worker", poll_sources=False))
    register_webhook(site.state, h.hook_url, secret=site.webhook_secret)
    try:
        yield h
    finally:
        h.http.close()
        stop()


def _hold_deliveries(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the sandbox's webhook bodies instead of sending them (to deliver them by hand)."""
    monkeypatch.setattr(hub.site.state, "publish", lambda event, build: hub.held.append((event, build())))


def test_issue_lifecycle_worklogs_and_versions_reach_the_store(hub: Hub):
    site = hub.site
    run_sync(site.db, site.settings, site.source_id, mode="backfill", sleep=FakeSleep())
    state = site.state

    issue = mutations.create_issue(state, "APOLLO", "Born in a webhook", type="Story", assignee="ada")
    hub.deliver_and_drain()
    row = hub.task(issue.id)
    assert row is not None and row.title == "Born in a webhook" and row.key == issue.key
    assert row.status_category == "todo" and row.url == f"{site.url}/browse/{issue.key}"

    mutations.edit_issue(state, issue.key, {"summary": "Renamed by a webhook", "duedate": "2031-03-04"})
    hub.deliver_and_drain()
    row = hub.task(issue.id)
    assert row.title == "Renamed by a webhook" and str(row.due_date) == "2031-03-04"

    mutations.transition_issue(state, issue.key, "In Progress")
    hub.deliver_and_drain()
    assert hub.task(issue.id).status_category == "in_progress"
    mutations.transition_issue(state, issue.key, "Done")
    hub.deliver_and_drain()
    row = hub.task(issue.id)
    assert (row.status, row.status_category) == ("Done", "done") and row.completed_at is not None
    with site.db.read() as c:
        moves = c.execute(sa.select(Change.__table__.c.to_value).where(
            Change.__table__.c.task_external_id == str(issue.id), Change.__table__.c.field == "status")).scalars().all()
    assert {"In Progress", "Done"} <= set(moves)

    wl = mutations.log_work(state, issue.key, 5400, author="grace")
    hub.deliver_and_drain()
    with site.db.read() as c:
        stored = c.execute(sa.select(W).where(W.c.external_id == str(wl.id))).one()
    assert (stored.seconds, stored.task_external_id, stored.deleted_at) == (5400, str(issue.id), None)
    assert hub.task(issue.id).spent_seconds == issue.time_spent

    mutations.delete_worklog(state, wl.id)
    hub.deliver_and_drain()
    with site.db.read() as c:
        assert c.execute(sa.select(W.c.deleted_at).where(W.c.external_id == str(wl.id))).scalar() is not None

    version = mutations.create_version(state, "APOLLO", "v9.9", release_date="2031-06-30")
    hub.deliver_and_drain()
    with site.db.read() as c:
        ms = c.execute(sa.select(M).where(M.c.external_id == str(version.id))).one()
    assert (ms.name, str(ms.due_date), ms.released) == ("v9.9", "2031-06-30", False)
    mutations.release_version(state, version.id)
    hub.deliver_and_drain()
    with site.db.read() as c:
        assert c.execute(sa.select(M.c.released).where(M.c.external_id == str(version.id))).scalar() is True

    mutations.delete_issue(state, issue.key)
    hub.deliver_and_drain()
    row = hub.task(issue.id)
    assert row.deleted_at is not None and row.deleted_reason == "deleted"

    statuses = {r.status for r in hub.inbox()}
    assert statuses <= {"done", "ignored"}, hub.inbox()
    assert len(hub.inbox()) >= 10  # every mutation arrived as its own delivery


def test_older_issue_updated_delivered_after_a_newer_one_never_regresses(hub: Hub, monkeypatch):
    site = hub.site
    state = site.state
    _hold_deliveries(hub, monkeypatch)
    issue = mutations.create_issue(state, "APOLLO", "Ordering matters")
    t0 = state.now_ms()
    mutations.transition_issue(state, issue.key, "In Progress", at=t0 + 60_000)
    mutations.edit_issue(state, issue.key, {"summary": "Final title"}, at=t0 + 120_000)
    mutations.transition_issue(state, issue.key, "Done", at=t0 + 180_000)
    (_, created), (_, older), (_, middle), (_, newest) = hub.held
    for n, payload in enumerate([created, newest, middle, older]):  # newest first, then the stale ones
        r = hub.post(json.dumps(payload).encode(), f"order-{n}")
        assert r.status_code == 202, r.text
    hub.drain()
    row = hub.task(issue.id)
    assert (row.status, row.status_category, row.title) == ("Done", "done", "Final title")
    assert row.remote_updated_at.replace(tzinfo=None) == _naive_utc(t0 + 180_000)
    assert {r.status for r in hub.inbox()} == {"done"}  # stale ones are applied as no-ops, not failures


def _naive_utc(ms: int) -> Any:
    from datetime import UTC, datetime

    return (datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)).replace(tzinfo=None)


def test_duplicate_delivery_is_stored_once_and_applied_once(hub: Hub, monkeypatch):
    state = hub.site.state
    _hold_deliveries(hub, monkeypatch)
    issue = mutations.create_issue(state, "APOLLO", "Twice delivered")
    wl = mutations.log_work(state, issue.key, 600)
    worklog_body = json.dumps(next(p for e, p in hub.held if e == "worklog_created")).encode()
    first = hub.post(json.dumps(hub.held[0][1]).encode(), "dup-issue")
    again = hub.post(json.dumps(hub.held[0][1]).encode(), "dup-issue")  # a retry: same identifier
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["duplicate"] is False and again.json() == {"id": first.json()["id"], "duplicate": True}
    w1 = hub.post(worklog_body, "dup-worklog")
    w2 = hub.post(worklog_body, "dup-worklog")
    assert w2.json() == {"id": w1.json()["id"], "duplicate": True}
    hub.drain()
    rows = hub.inbox()
    assert [r.dedupe_key for r in rows] == ["jira:dup-issue", "jira:dup-worklog"]
    assert all(r.status == "done" for r in rows)
    with hub.site.db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(W).where(W.c.external_id == str(wl.id))).scalar() == 1
        n = c.execute(sa.select(sa.func.count()).select_from(T).where(T.c.external_id == str(issue.id))).scalar()
        assert n == 1


def test_wrong_or_missing_signature_is_401_and_stores_nothing(hub: Hub, monkeypatch):
    _hold_deliveries(hub, monkeypatch)
    issue = mutations.create_issue(hub.site.state, "APOLLO", "Forged")
    body = json.dumps(hub.held[0][1]).encode()
    forged = hub.post(body, "forged-1", signature=sign("not-the-secret", body))
    tampered = hub.post(body.replace(b"Forged", b"Fooled"), "forged-2", signature=sign(hub.site.webhook_secret, body))
    unsigned = httpx.post(hub.hook_url, content=body, headers={IDENTIFIER_HEADER: "forged-3"}, timeout=10)
    for r in (forged, tampered, unsigned):
        assert r.status_code == 401, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    assert "X-Hub-Signature" in unsigned.json()["detail"]
    hub.drain()
    assert hub.inbox() == [] and hub.task(issue.id) is None


def _captured() -> list[Any]:
    return sorted((REALDATA / "jira-webhooks").rglob("*.json"))


def test_every_captured_payload_ends_done_or_ignored(hub: Hub):
    files = _captured()
    assert len(files) >= 80
    for n, path in enumerate(files):
        r = hub.post(path.read_bytes(), f"captured-{n}")
        assert r.status_code == 202, (path.name, r.text)
    hub.drain()
    rows = hub.inbox()
    assert len(rows) == len(files)
    bad = [(files[i].relative_to(REALDATA), r.status, r.error) for i, r in enumerate(rows)
           if r.status not in ("done", "ignored")]
    assert bad == []
    ignored = {r.reason for r in rows if r.status == "ignored"}
    assert all(reason for reason in ignored)  # an ignored event always says why
    with hub.site.db.read() as c:
        deleted = c.execute(sa.select(sa.func.count()).select_from(T).where(T.c.deleted_reason == "deleted")).scalar()
    assert deleted >= 1  # the captured jira:issue_deleted payloads tombstone their issue
