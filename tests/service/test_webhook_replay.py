"""Issue 16 §5: replayed bodies are duplicates; a rotated webhook secret keeps working through
its overlap and no longer after it (the clock is the app's ``state.clock``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import sqlalchemy as sa

from service.tables import InboxEvent
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE

IE = InboxEvent.__table__
BODY = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 7, "issue": {"id": "42"}}).encode()


def _jira(client, acme):
    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()
    return r["id"], r["webhook_secret"]


def _sig(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _rows(db):
    with db.read() as c:
        return c.execute(sa.select(IE.c.id, IE.c.dedupe_key, IE.c.body_ts, IE.c.body_digest).order_by(IE.c.id)).all()


def test_a_replayed_jira_body_with_a_fresh_identifier_is_a_duplicate(client, acme, db):
    sid, secret = _jira(client, acme)
    sig = _sig(secret, BODY)
    first = client.post(f"/webhooks/jira/{sid}", content=BODY,
                        headers={"X-Hub-Signature": sig, "X-Atlassian-Webhook-Identifier": "orig-1"})
    replay = client.post(f"/webhooks/jira/{sid}", content=BODY,
                         headers={"X-Hub-Signature": sig, "X-Atlassian-Webhook-Identifier": "attacker-2"})
    assert first.status_code == 202 and first.json()["duplicate"] is False
    assert replay.status_code == 202 and replay.json() == {"id": first.json()["id"], "duplicate": True}
    # One byte more is another body: stored.
    other = BODY[:-1] + b" }"
    r = client.post(f"/webhooks/jira/{sid}", content=other,
                    headers={"X-Hub-Signature": _sig(secret, other), "X-Atlassian-Webhook-Identifier": "orig-3"})
    assert r.status_code == 202 and r.json()["duplicate"] is False
    rows = _rows(db)
    assert [r.dedupe_key for r in rows] == ["jira:orig-1", "jira:orig-3"]
    assert rows[0].body_digest == int.from_bytes(hashlib.sha256(BODY).digest()[:8], "big", signed=True)
    assert rows[0].body_ts == 7  # the body's own "timestamp" leads the guard's key


def test_replays_of_bodies_without_a_timestamp_or_identifier_are_duplicates_too(client, acme, db):
    sid, secret = _jira(client, acme)
    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": "9"}}).encode()  # no timestamp
    h = {"X-Hub-Signature": _sig(secret, body)}
    r1 = client.post(f"/webhooks/jira/{sid}", content=body, headers={**h, "X-Atlassian-Webhook-Identifier": "x1"})
    r2 = client.post(f"/webhooks/jira/{sid}", content=body, headers={**h, "X-Atlassian-Webhook-Identifier": "x2"})
    r3 = client.post(f"/webhooks/jira/{sid}", content=body, headers=h)  # identifier left out
    assert r1.json()["duplicate"] is False
    assert r2.json() == {"id": r1.json()["id"], "duplicate": True}
    assert r3.json() == {"id": r1.json()["id"], "duplicate": True}
    assert [(r.body_ts, r.body_digest is None) for r in _rows(db)] == [(0, False)]


def test_a_digest_collision_is_not_taken_for_a_replay(client, acme, db, monkeypatch):
    """Two different bodies under one 64-bit digest: both stored (the second without a digest,
    so only its identifier dedupes it: the odds of that are about n / 2^64 per event); the
    bytes, not the digest, decide what a replay is."""
    import service.ingest.receive

    monkeypatch.setattr(service.ingest.receive, "body_digest", lambda body: -(2**63))
    sid, secret = _jira(client, acme)
    other = BODY.replace(b'"42"', b'"43"')
    answers = [client.post(f"/webhooks/jira/{sid}", content=b,
                           headers={"X-Hub-Signature": _sig(secret, b), "X-Atlassian-Webhook-Identifier": ident})
               for b, ident in ((BODY, "a"), (other, "b"), (BODY, "c"), (other, "b"))]
    assert [r.status_code for r in answers] == [202] * 4
    assert [r.json()["duplicate"] for r in answers] == [False, False, True, True]
    assert answers[2].json()["id"] == answers[0].json()["id"]
    assert answers[3].json()["id"] == answers[1].json()["id"]
    assert [r.body_digest for r in _rows(db)] == [-(2**63), None]


def test_the_same_body_for_another_source_is_not_a_duplicate(client, acme, db):
    sid1, secret1 = _jira(client, acme)
    sid2 = client.post("/api/v1/sources", json={**JIRA_SOURCE, "name": "jira-2"}, headers=acme.h()).json()["id"]
    secret2 = client.patch(f"/api/v1/sources/{sid2}", json={"webhook_secret": secret1}, headers=acme.h())
    assert secret2.status_code == 200
    for sid in (sid1, sid2):
        r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={"X-Hub-Signature": _sig(secret1, BODY)})
        assert r.status_code == 202 and r.json()["duplicate"] is False
    assert len(_rows(db)) == 2


def test_a_replayed_trello_body_is_a_duplicate_even_without_an_action_id(client, acme, db):
    sid = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    url = f"http://testserver/webhooks/trello/{sid}"
    body = json.dumps({"model": {"id": "b"}, "note": "no action id: deduped by the body alone"}).encode()
    sig = base64.b64encode(hmac.new(b"trello-app-secret", body + url.encode(), hashlib.sha1).digest()).decode()
    r1 = client.post(f"/webhooks/trello/{sid}", content=body, headers={"X-Trello-Webhook": sig})
    r2 = client.post(f"/webhooks/trello/{sid}", content=body, headers={"X-Trello-Webhook": sig})
    assert r1.json()["duplicate"] is False and r2.json() == {"id": r1.json()["id"], "duplicate": True}
    assert [r.body_digest for r in _rows(db)] == [None]  # its dedupe key covers the body already


def test_rotated_secret_is_accepted_during_the_overlap_then_refused(client, acme, db):
    sid, old = _jira(client, acme)
    now = [1_800_000_000.0]
    client.app.state.clock = lambda: now[0]
    r = client.post(f"/api/v1/sources/{sid}/webhook-secret/rotate", params={"overlap_hours": 2},
                    headers=acme.h())
    assert r.status_code == 200, r.text
    new = r.json()["webhook_secret"]
    assert new != old and len(new) >= 32
    until = r.json()["previous_accepted_until"]
    assert until is not None

    def post(secret: str, n: int) -> int:
        body = BODY.replace(b'"42"', f'"{n}"'.encode())
        return client.post(f"/webhooks/jira/{sid}", content=body,
                           headers={"X-Hub-Signature": _sig(secret, body)}).status_code

    import datetime as dt

    now[0] = dt.datetime.fromisoformat(until).timestamp() - 1  # the last second of the overlap
    assert post(new, 1) == 202
    assert post(old, 2) == 202
    now[0] += 1  # the overlap is over
    assert post(old, 3) == 401
    assert post(new, 4) == 202
    assert post("never-issued", 5) == 401
    assert len(_rows(db)) == 3


def test_rotating_with_no_overlap_refuses_the_old_secret_at_once(client, acme):
    sid, old = _jira(client, acme)
    r = client.post(f"/api/v1/sources/{sid}/webhook-secret/rotate", params={"overlap_hours": 0},
                    headers=acme.h())
    assert r.status_code == 200 and r.json()["previous_accepted_until"] is None
    assert client.post(f"/webhooks/jira/{sid}", content=BODY,
                       headers={"X-Hub-Signature": _sig(old, BODY)}).status_code == 401


def test_rotate_refuses_trello_other_orgs_bad_overlap_and_non_admins(client, acme, globex):
    trello = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    jira, _ = _jira(client, acme)
    r = client.post(f"/api/v1/sources/{trello}/webhook-secret/rotate", headers=acme.h())
    assert r.status_code == 422 and "Trello" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"
    assert client.post(f"/api/v1/sources/{jira}/webhook-secret/rotate", headers=globex.h()).status_code == 404
    assert client.post(f"/api/v1/sources/{jira}/webhook-secret/rotate", headers=acme.h("write")).status_code == 403
    for bad in (-1, 24 * 31, "soon"):
        r = client.post(f"/api/v1/sources/{jira}/webhook-secret/rotate", params={"overlap_hours": bad},
                        headers=acme.h())
        assert r.status_code == 422, bad


def test_a_second_rotation_inside_the_overlap_is_a_409_unless_forced(client, acme, db):
    """One previous secret is kept: rotating again (a retried POST) would cut the first one off."""
    sid, first = _jira(client, acme)
    url = f"/api/v1/sources/{sid}/webhook-secret/rotate"
    second = client.post(url, headers=acme.h()).json()["webhook_secret"]
    r = client.post(url, headers=acme.h())
    assert r.status_code == 409 and "still accepted until" in r.json()["detail"], r.text
    assert r.headers["content-type"] == "application/problem+json"

    def post(secret: str, n: int) -> int:
        body = BODY.replace(b'"42"', f'"{n}"'.encode())
        return client.post(f"/webhooks/jira/{sid}", content=body,
                           headers={"X-Hub-Signature": _sig(secret, body)}).status_code

    assert post(first, 1) == 202  # the promise of the first rotation holds
    r = client.post(url, params={"force": "true"}, headers=acme.h())
    assert r.status_code == 200, r.text
    third = r.json()["webhook_secret"]
    assert post(first, 2) == 401  # forced: the first overlap ended
    assert post(second, 3) == 202 and post(third, 4) == 202
