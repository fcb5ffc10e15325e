"""Tasks, milestones, sync runs and source status for automations."""

from __future__ import annotations

from datetime import date

from mappings.model import Milestone, MilestoneRef, MilestoneUpsert, StatusCategory, TaskDelete
from service import store
from tests.service.conftest import JIRA_SOURCE
from tests.service.factories import task


def _seed(client, db, tenant, n=5):
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=tenant.h()).json()["id"]
    with db.write() as c:
        store.upsert_milestones(c, tenant.org_id, sid, [MilestoneUpsert(milestone=Milestone(
            external_id="v1", name="1.0", due_date=date(2026, 3, 1)))])
        store.upsert_tasks(c, tenant.org_id, sid, [
            task(str(i), minutes=i, assignee="ann" if i % 2 else None,
                 category=StatusCategory.done if i == 0 else StatusCategory.todo,
                 due_date=date(2020, 1, 1) if i == 1 else None,
                 milestones=[MilestoneRef(external_id="v1")] if i < 2 else []) for i in range(n)])
        store.apply_task_deletes(c, tenant.org_id, sid, [TaskDelete(external_id=str(n - 1))])
    return sid


def test_tasks_pagination_follows_every_task_once(client, db, acme):
    _seed(client, db, acme, n=7)
    seen, cursor = [], None
    while True:
        r = client.get("/api/v1/tasks", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                       headers=acme.h("read"))
        assert r.status_code == 200, r.text
        seen += [t["external_id"] for t in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [str(i) for i in range(6)]  # the deleted one is left out
    assert "raw" not in r.json()["items"][0]


def test_task_filters(client, db, acme):
    _seed(client, db, acme)
    def get(**p):
        return [t["external_id"] for t in client.get("/api/v1/tasks", params=p, headers=acme.h("read")).json()["items"]]
    assert get(status_category="done") == ["0"]
    assert get(overdue=True) == ["1"]
    assert sorted(get(include_deleted=True)) == [str(i) for i in range(5)]
    ms = client.get("/api/v1/milestones", headers=acme.h("read")).json()
    assert ms[0]["name"] == "1.0" and ms[0]["baseline_due_date"] == "2026-03-01"
    assert sorted(get(milestone_id=ms[0]["id"])) == ["0", "1"]
    one = client.get("/api/v1/tasks", params={"include": "raw", "limit": 1}, headers=acme.h("read")).json()["items"][0]
    assert one["raw"]["id"] == one["external_id"]


def test_bad_task_params_are_named(client, acme):
    r = client.get("/api/v1/tasks", params={"cursor": "garbage"}, headers=acme.h("read"))
    assert r.status_code == 400 and "cursor" in r.json()["detail"]
    r = client.get("/api/v1/tasks", params={"status_category": "finished"}, headers=acme.h("read"))
    assert r.status_code == 422 and "status_category" in r.json()["detail"]
    r = client.get("/api/v1/tasks", params={"updated_since": "2026-01-01T00:00:00"}, headers=acme.h("read"))
    assert r.status_code == 422 and "time zone" in r.json()["detail"]


def test_other_organizations_never_see_tasks_or_sources_status(client, db, acme, globex):
    sid = _seed(client, db, acme)
    tid = client.get("/api/v1/tasks", headers=acme.h("read")).json()["items"][0]["id"]
    assert client.get("/api/v1/tasks", headers=globex.h("read")).json()["items"] == []
    assert client.get(f"/api/v1/tasks/{tid}", headers=globex.h("read")).status_code == 404
    assert client.get("/api/v1/milestones", headers=globex.h("read")).json() == []
    assert client.get(f"/api/v1/sources/{sid}/status", headers=globex.h("read")).status_code == 404
    assert client.post(f"/api/v1/sources/{sid}/sync", headers=globex.h("write")).status_code == 404
    st = client.get(f"/api/v1/sources/{sid}/status", headers=acme.h("read")).json()
    assert st["status"] == "ok" and st["last_run"] is None
    assert client.post(f"/api/v1/sources/{sid}/sync", headers=acme.h("write")).status_code == 202
