"""Bad input is a clear 4xx, never a 500: signature headers with any bytes, ids of any size."""

from __future__ import annotations

import hashlib
import hmac

import pytest
import sqlalchemy as sa

from service.tables import InboxEvent
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE

BODY = b'{"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"id": "1"}}'

# Raw header bytes as a client can send them: Latin-1, invalid UTF-8, UTF-8, control-free.
BAD_SIGNATURES = [b"sha256=\xe9", b"sha256=" + "é".encode() * 32, b"\xff\xfe", b"sha256=" + b"\x80" * 64]


def _count(db) -> int:
    with db.read() as c:
        return c.execute(sa.select(sa.func.count()).select_from(InboxEvent.__table__)).scalar()


@pytest.mark.parametrize("value", BAD_SIGNATURES)
def test_non_ascii_jira_signature_is_401_and_stores_nothing(client, acme, db, value):
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={"X-Hub-Signature": value})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "X-Hub-Signature does not match" in r.json()["detail"]
    assert _count(db) == 0


@pytest.mark.parametrize("value", BAD_SIGNATURES)
def test_non_ascii_trello_signature_is_401_and_stores_nothing(client, acme, db, value):
    sid = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    r = client.post(f"/webhooks/trello/{sid}", content=BODY, headers={"X-Trello-Webhook": value})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "X-Trello-Webhook does not match" in r.json()["detail"]
    assert _count(db) == 0


def test_a_signature_prefixed_by_non_ascii_bytes_does_not_verify(client, acme, db):
    """Comparing bytes must not strip or fold what was sent: a valid digest after a stray byte fails."""
    made = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()
    digest = hmac.new(made["webhook_secret"].encode(), BODY, hashlib.sha256).hexdigest().encode()
    r = client.post(f"/webhooks/jira/{made['id']}", content=BODY, headers={"X-Hub-Signature": b"sha256=\xe9" + digest})
    assert r.status_code == 401, r.text
    ok = client.post(f"/webhooks/jira/{made['id']}", content=BODY, headers={"X-Hub-Signature": b"sha256=" + digest})
    assert ok.status_code == 202, ok.text
    assert _count(db) == 1


@pytest.mark.parametrize("text", ["sha256=\u00e9", "sha256=\u20ac" * 20, "sha256=\ud800", "sha256=\udce9"])
def test_verifiers_reject_any_text_without_raising(text):
    """The header as any caller may pass it (not only Latin-1 from the server): False, never TypeError."""
    from connectors.jira.webhooks import verify_signature as jira_verify
    from connectors.trello.webhooks import verify_signature as trello_verify

    assert jira_verify("secret", BODY, text) is False
    assert trello_verify("secret", BODY, "http://testserver/webhooks/trello/1", text) is False
