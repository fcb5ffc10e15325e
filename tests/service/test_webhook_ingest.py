"""The webhook endpoint: verify, dedupe, store, 202 — and clear errors for everything else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import sqlalchemy as sa

from service.tables import InboxEvent
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE

BODY = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"id": "1"}}).encode()


def _jira(client, acme):
    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()
    return r["id"], r["webhook_secret"]


def _sig(secret, body):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _count(db):
    with db.read() as c:
        return c.execute(sa.select(sa.func.count()).select_from(InboxEvent.__table__)).scalar()


def test_signed_jira_event_is_stored_and_deduped(client, acme, db):
    sid, secret = _jira(client, acme)
    headers = {"X-Hub-Signature": _sig(secret, BODY), "X-Atlassian-Webhook-Identifier": "abc-1",
               "content-type": "application/json"}
    r1 = client.post(f"/webhooks/jira/{sid}", content=BODY, headers=headers)
    r2 = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={**headers, "X-Atlassian-Webhook-Retry": "1"})
    assert r1.status_code == 202 and r1.json()["duplicate"] is False
    assert r2.status_code == 202 and r2.json() == {"id": r1.json()["id"], "duplicate": True}
    with db.read() as c:
        row = c.execute(sa.select(InboxEvent.__table__)).one()
    assert row.status == "pending" and row.dedupe_key == "jira:abc-1" and bytes(row.body) == BODY


def test_missing_or_wrong_signature_is_401_and_stores_nothing(client, acme, db):
    sid, secret = _jira(client, acme)
    r = client.post(f"/webhooks/jira/{sid}", content=BODY)
    assert r.status_code == 401 and "X-Hub-Signature" in r.json()["detail"]
    r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={"X-Hub-Signature": _sig("wrong", BODY)})
    assert r.status_code == 401 and "does not match" in r.json()["detail"]
    tampered = BODY.replace(b'"1"', b'"2"')
    r = client.post(f"/webhooks/jira/{sid}", content=tampered, headers={"X-Hub-Signature": _sig(secret, BODY)})
    assert r.status_code == 401
    assert _count(db) == 0


def test_oversized_body_is_413(client, acme, db, settings):
    sid, secret = _jira(client, acme)
    big = b'{"x": "' + b"a" * (settings.webhook_max_body + 10) + b'"}'
    r = client.post(f"/webhooks/jira/{sid}", content=big, headers={"X-Hub-Signature": _sig(secret, big)})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"

    def stream():
        yield big[:1000]
        yield big[1000:]

    r = client.post(f"/webhooks/jira/{sid}", content=stream(), headers={"X-Hub-Signature": _sig(secret, big)})
    assert r.status_code == 413
    assert _count(db) == 0


def test_unparseable_json_is_400(client, acme, db):
    sid, secret = _jira(client, acme)
    for body in (b"{nope", b"[1,2]", b""):
        r = client.post(f"/webhooks/jira/{sid}", content=body, headers={"X-Hub-Signature": _sig(secret, body)})
        assert r.status_code == 400, (body, r.text)
    assert _count(db) == 0


def test_unknown_source_or_kind_is_404(client, acme):
    sid, _ = _jira(client, acme)
    assert client.post("/webhooks/jira/99999", content=BODY).status_code == 404
    assert client.post(f"/webhooks/trello/{sid}", content=BODY).status_code == 404
    assert client.post(f"/webhooks/asana/{sid}", content=BODY).status_code == 404
    assert client.head("/webhooks/trello/99999").status_code == 404


def test_trello_head_handshake_and_signature_over_body_plus_callback(client, acme, db):
    sid = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    assert client.head(f"/webhooks/trello/{sid}").status_code == 200
    body = json.dumps({"action": {"id": "a1", "type": "updateCard"}, "model": {"id": "b"}}).encode()
    url = f"http://testserver/webhooks/trello/{sid}"
    good = base64.b64encode(hmac.new(b"trello-app-secret", body + url.encode(), hashlib.sha1).digest()).decode()
    r = client.post(f"/webhooks/trello/{sid}", content=body, headers={"X-Trello-Webhook": good})
    assert r.status_code == 202, r.text
    again = client.post(f"/webhooks/trello/{sid}", content=body, headers={"X-Trello-Webhook": good})
    assert again.json()["duplicate"] is True
    other = base64.b64encode(hmac.new(b"trello-app-secret", body + b"http://elsewhere/x", hashlib.sha1).digest())
    r = client.post(f"/webhooks/trello/{sid}", content=body, headers={"X-Trello-Webhook": other.decode()})
    assert r.status_code == 401
    assert _count(db) == 1


def test_disabled_source_refuses_deliveries(client, acme):
    sid, secret = _jira(client, acme)
    client.patch(f"/api/v1/sources/{sid}", json={"enabled": False}, headers=acme.h())
    r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={"X-Hub-Signature": _sig(secret, BODY)})
    assert r.status_code == 403
