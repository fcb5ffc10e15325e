"""Two rotations of one secret at once: the second waits for the first and then sees its overlap
(409), instead of reading the row before the first commits and replacing a secret a receiver was
just given (a third secret would leave a receiver with two to forget). Each case holds the first
rotation's transaction open in a thread while the API's rotation starts; without the row lock the
API's read passed beside it and answered 200."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from service.events.endpoints import get_endpoint, rotate_secret
from service.security.rotation import apply_automation_rotation
from service.sources import get_source
from tests.service.conftest import JIRA_SOURCE, TestClient


def _hold_then_commit(db: Any, lock: Any, change: Any) -> tuple[threading.Thread, list[BaseException]]:
    """In a thread: ``lock(session)`` (the row, as the first rotation reads it), ``ready``, 0.5 s,
    then ``change(session)`` and commit — while the caller starts the concurrent rotation."""
    ready, failed = threading.Event(), []

    def run() -> None:
        try:
            with db.session() as s:
                lock(s)
                ready.set()
                time.sleep(0.5)
                change(s)
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            failed.append(exc)
            ready.set()

    thread = threading.Thread(target=run)
    thread.start()
    assert ready.wait(10)
    return thread, failed


def test_a_concurrent_automation_secret_rotation_sees_the_first_ones_overlap(
        client: TestClient, acme: Any, db: Any, settings: Any) -> None:
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    url = f"/api/v1/sources/{sid}/automation-secret"
    assert client.post(url, params={"overlap_hours": 0}, headers=acme.h()).status_code == 200

    def change(s: Any) -> None:
        src = get_source(s, acme.org_id, sid, for_update=True)
        apply_automation_rotation(src, settings, overlap=timedelta(hours=2), force=False)
        s.add(src)

    thread, failed = _hold_then_commit(db, lambda s: get_source(s, acme.org_id, sid, for_update=True), change)
    r = client.post(url, params={"overlap_hours": 2}, headers=acme.h())
    thread.join()
    assert not failed, failed
    assert r.status_code == 409, r.text
    assert "overlap" in r.json()["detail"] or "force" in r.json()["detail"]


def test_a_concurrent_endpoint_secret_rotation_sees_the_first_ones_overlap(
        client: TestClient, acme: Any, db: Any, settings: Any) -> None:
    made = client.post("/api/v1/webhook-endpoints", json={"url": "https://hooks.example.com/x",
                                                          "event_types": ["*"]}, headers=acme.h())
    assert made.status_code == 201, made.text
    ep = made.json()["id"]

    thread, failed = _hold_then_commit(  # rotate_secret commits itself
        db, lambda s: get_endpoint(s, acme.org_id, ep, for_update=True),
        lambda s: rotate_secret(s, settings, acme.org_id, ep, overlap=timedelta(hours=2)))
    r = client.post(f"/api/v1/webhook-endpoints/{ep}/rotate-secret", params={"overlap_hours": 2}, headers=acme.h())
    thread.join()
    assert not failed, failed
    assert r.status_code == 409, r.text


def test_a_concurrent_webhook_secret_rotation_sees_the_first_ones_overlap(
        client: TestClient, acme: Any, db: Any, settings: Any) -> None:
    """POST …/webhook-secret/rotate (and taskhub source rotate-secret): found in review, its read
    took no lock and answered 200 beside a rotation in flight."""
    from service.security.rotation import apply_webhook_rotation

    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]

    def change(s: Any) -> None:
        src = get_source(s, acme.org_id, sid, for_update=True)
        apply_webhook_rotation(src, settings, overlap=timedelta(hours=2), force=False)
        s.add(src)

    thread, failed = _hold_then_commit(db, lambda s: get_source(s, acme.org_id, sid, for_update=True), change)
    r = client.post(f"/api/v1/sources/{sid}/webhook-secret/rotate", params={"overlap_hours": 2}, headers=acme.h())
    thread.join()
    assert not failed, failed
    assert r.status_code == 409, r.text
