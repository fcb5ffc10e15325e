"""The census runs by itself (issue 19): on each source's interval in the worker, and on request
through the API with a mode; what it found is on its sync run."""

from __future__ import annotations

import threading
import warnings
from datetime import timedelta

import sqlalchemy as sa

from sandbox.jira import mutations
from service.app import create_app
from service.security.auth import create_token
from service.sync.scheduler import poll_due_sources
from service.tables import Source, SyncRun, SyncState, Task, table, utcnow
from tests.sync.conftest import JiraSite

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

S, SR, SS, T = table(Source), table(SyncRun), table(SyncState), table(Task)


def _runs(site: JiraSite) -> list[tuple[str, str, dict | None]]:
    with site.db.read() as c:
        return [tuple(r) for r in c.execute(sa.select(SR.c.mode, SR.c.status, SR.c.findings).order_by(SR.c.id))]


def _poll(site: JiraSite) -> int:
    return poll_due_sources(site.db, site.settings, "w1", threading.Event())


def _deleted_reason(site: JiraSite, external_id: str) -> str | None:
    with site.db.read() as c:
        return c.execute(sa.select(T.c.deleted_reason).where(T.c.external_id == external_id)).scalar()


def _age(site: JiraSite, *, registered_days_ago: float) -> None:
    """As if the source was registered that long ago and its last poll is due now."""
    with site.db.write() as c:
        c.execute(sa.update(S).values(created_at=utcnow() - timedelta(days=registered_days_ago)))
        c.execute(sa.update(SS).where(SS.c.stream == "lease").values(last_run_at=None))


def test_a_deletion_no_webhook_announced_is_tombstoned_by_the_next_scheduled_census(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    assert _poll(site) == 1  # registered just now: a backfill, no census yet
    assert [r[0] for r in _runs(site)] == ["backfill"]
    victim = next(iter(state.issues.values()))
    mutations.delete_issue(state, victim.key)  # no webhook is registered: nobody hears of it
    _age(site, registered_days_ago=0.5)
    assert _poll(site) == 1 and _deleted_reason(site, str(victim.id)) is None  # half a day: not due
    _age(site, registered_days_ago=2.01)  # an interval plus the source's own offset (< an interval)
    assert _poll(site) == 2  # the poll, then the census: nobody asked
    assert _deleted_reason(site, str(victim.id)) == "deleted"
    mode, status, findings = _runs(site)[-1]
    assert (mode, status) == ("census", "ok")
    assert findings == {"tombstoned": {"deleted": 1}, "examples": {"deleted": [str(victim.id)]}}
    _age(site, registered_days_ago=30)  # the last census, not the registration, counts now
    assert _poll(site) == 1 and _runs(site)[-1][0] == "incremental"


def test_an_interval_of_zero_never_runs_the_census_by_itself(jira_site: JiraSite):
    site = jira_site
    with site.db.write() as c:
        c.execute(sa.update(S).values(census_interval_seconds=0))
    _poll(site)
    _age(site, registered_days_ago=400)
    assert _poll(site) == 1 and [r[0] for r in _runs(site)] == ["backfill", "incremental"]


def test_the_api_asks_for_a_census_or_a_full_run_and_refuses_bad_input(jira_site: JiraSite):
    site, state = jira_site, jira_site.state
    _poll(site)
    victim = next(iter(state.issues.values()))
    mutations.delete_issue(state, victim.key)
    with site.db.session() as s:
        admin = create_token(s, site.org_id, "admin")[0]
    app = create_app(site.settings, db=site.db, run_worker=False)
    with TestClient(app) as client:
        h = {"Authorization": f"Bearer {admin}"}
        url = f"/api/v1/sources/{site.source_id}/sync"
        r = client.post(url, json={"mode": "census"}, headers=h)
        assert r.status_code == 202 and r.json() == {"source_id": site.source_id, "requested": True, "mode": "census"}
        assert _poll(site) == 2 and _deleted_reason(site, str(victim.id)) == "deleted"
        assert [r[0] for r in _runs(site)] == ["backfill", "incremental", "census"]
        assert _poll(site) == 0  # served once
        assert client.post(url, json={"mode": "full"}, headers=h).json()["mode"] == "full"
        # A routine poll request does not cancel the stronger one pending: the answer says so.
        assert client.post(url, headers=h).json()["mode"] == "full"
        assert _poll(site) == 1 and _runs(site)[-1][0] == "full"
        assert client.post(url, headers=h).json()["mode"] == "incremental"
        assert client.post(url, json={"mode": "census"}, headers=h).json()["mode"] == "census"  # stronger
        for body in ({"mode": "everything"}, {"mode": "census", "extra": 1}):
            bad = client.post(url, json=body, headers=h)
            assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        run = client.get("/api/v1/sync-runs", params={"source_id": site.source_id}, headers=h).json()
        census = next(x for x in run if x["mode"] == "census")
        assert census["findings"]["tombstoned"] == {"deleted": 1}
        # The interval is the source's own, validated.
        src = f"/api/v1/sources/{site.source_id}"
        assert client.patch(src, json={"census_interval_seconds": 3600}, headers=h).json()[
            "census_interval_seconds"] == 3600
        bad = client.patch(src, json={"census_interval_seconds": 5}, headers=h)
        assert bad.status_code == 422 and "census_interval_seconds is 0 (never by itself) or 600" in bad.text
        assert client.get(src, headers=h).json()["census_interval_seconds"] == 3600


def test_a_request_waits_for_a_busy_source_and_runs_right_after(jira_site: JiraSite):
    """Another worker holds the source: the request stays, and the source is due again as soon as
    that run ends (not a poll interval later)."""
    from service.sync.state import acquire_lease, request_run

    site = jira_site
    _poll(site)
    with site.db.write() as c:
        request_run(c, site.source_id, "census")
    lease = acquire_lease(site.db, site.source_id, "other-worker")
    assert lease is not None
    assert _poll(site) == 0  # busy: nothing ran, the request is kept
    lease.release()  # the other worker's run ended (its last_run_at is now)
    assert _poll(site) == 2 and [r[0] for r in _runs(site)][-2:] == ["incremental", "census"]
    assert _poll(site) == 0


def test_a_failing_census_is_retried_an_hour_later_and_degrades_the_source_after_three(jira_site, monkeypatch):
    from connectors.errors import Transient
    from service.sync.jira import JiraSyncer

    site = jira_site
    _poll(site)

    def broken(self):  # noqa: ANN001, ANN202
        raise Transient("the census's search failed")

    monkeypatch.setattr(JiraSyncer, "_census", broken)
    for _ in range(3):
        _age(site, registered_days_ago=2)
        with site.db.write() as c:  # the last failed census was over an hour ago
            c.execute(sa.update(SS).where(SS.c.stream == "census").values(last_run_at=utcnow() - timedelta(days=2)))
        assert _poll(site) == 1  # the poll ran, the census failed
        with site.db.write() as c:
            c.execute(sa.update(SS).where(SS.c.stream == "lease").values(last_run_at=None))
        assert _poll(site) == 1  # within the hour: only the poll
    with site.db.read() as c:
        status, reason = c.execute(sa.select(S.c.status, S.c.status_reason)).one()
    assert status == "degraded" and reason.startswith("3 failed censuses in a row")
    assert [r[:2] for r in _runs(site)].count(("census", "failed")) == 3
