"""Trello deliveries are verified with the application's secret (issue 21, VENDOR_FACTS B8).

Trello signs every delivery with the app secret shown beside the API key; a user cannot
choose it. So a Trello source takes it as ``credentials.app_secret`` (encrypted, never
returned), taskhub never generates a webhook secret for Trello, and a Trello source
registered before the field existed keeps its stored secret until credentials with an
app secret replace it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import sqlalchemy as sa

from service.security.crypto import get_vault
from service.tables import Source
from tests.service.conftest import TRELLO_SOURCE

BODY = json.dumps({"action": {"id": "a1", "type": "updateCard"}, "model": {"id": "b"}}).encode()


def _trello_sig(secret: str, sid: int, body: bytes = BODY) -> str:
    """Written out from B8: base64(HMAC-SHA1(app secret, body + callback URL))."""
    url = f"http://testserver/webhooks/trello/{sid}".encode()
    return base64.b64encode(hmac.new(secret.encode(), body + url, hashlib.sha1).digest()).decode()


def _deliver(client, sid: int, secret: str, action_id: str = "a1") -> int:
    body = BODY.replace(b'"a1"', f'"{action_id}"'.encode())
    headers = {"X-Trello-Webhook": _trello_sig(secret, sid, body)}
    return client.post(f"/webhooks/trello/{sid}", content=body, headers=headers).status_code


def test_a_trello_source_gets_no_generated_secret_and_never_returns_the_app_secret(client, acme, db):
    r = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h())
    assert r.status_code == 201, r.text
    assert r.json()["webhook_secret"] is None
    got = client.get(f"/api/v1/sources/{r.json()['id']}", headers=acme.h())
    assert "trello-app-secret" not in got.text and "trello-app-secret" not in r.text
    with db.read() as c:
        row = c.execute(sa.select(Source.__table__.c.credentials_enc, Source.__table__.c.webhook_secret_enc)).one()
    assert row.webhook_secret_enc is None and "trello-app-secret" not in row.credentials_enc


def test_deliveries_are_verified_with_the_app_secret(client, acme):
    sid = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    assert _deliver(client, sid, "trello-app-secret") == 202
    assert _deliver(client, sid, "some-other-secret", "a2") == 401


def test_app_secret_is_required_and_a_webhook_secret_is_refused_with_the_reason(client, acme):
    creds = {k: v for k, v in TRELLO_SOURCE["credentials"].items() if k != "app_secret"}
    r = client.post("/api/v1/sources", json={**TRELLO_SOURCE, "credentials": creds}, headers=acme.h())
    assert r.status_code == 422 and "app_secret" in r.text
    r = client.post("/api/v1/sources", json={**TRELLO_SOURCE, "webhook_secret": "mine"}, headers=acme.h())
    assert r.status_code == 422 and "credentials.app_secret" in r.text


def test_a_trello_webhook_secret_cannot_be_set_or_rotated(client, acme):
    sid = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    r = client.patch(f"/api/v1/sources/{sid}", json={"webhook_secret": "mine"}, headers=acme.h())
    assert r.status_code == 422 and "application's secret" in r.json()["detail"]
    r = client.patch(f"/api/v1/sources/{sid}", json={"rotate_webhook_secret": True}, headers=acme.h())
    assert r.status_code == 422
    r = client.post(f"/api/v1/sources/{sid}/webhook-secret/rotate", headers=acme.h())
    assert r.status_code == 422 and "credentials.app_secret" in r.json()["detail"]


def test_a_source_from_before_the_app_secret_keeps_its_stored_secret_until_one_is_given(client, acme, db, settings):
    sid = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h()).json()["id"]
    vault = get_vault(settings)
    old_creds = {k: v for k, v in TRELLO_SOURCE["credentials"].items() if k != "app_secret"}
    S = Source.__table__
    with db.write() as c:  # what an older taskhub stored: credentials without it, a generated secret
        c.execute(sa.update(S).where(S.c.id == sid).values(
            credentials_enc=vault.encrypt(old_creds), webhook_secret_enc=vault.encrypt("legacy-secret")))
    client.app.state.source_cache.evict(sid)
    assert _deliver(client, sid, "legacy-secret") == 202

    creds = {**TRELLO_SOURCE["credentials"], "app_secret": "new-app-secret"}
    r = client.patch(f"/api/v1/sources/{sid}", json={"credentials": creds}, headers=acme.h())
    assert r.status_code == 200, r.text
    assert _deliver(client, sid, "legacy-secret", "a2") == 401
    assert _deliver(client, sid, "new-app-secret", "a3") == 202
    with db.read() as c:
        assert c.execute(sa.select(S.c.webhook_secret_enc).where(S.c.id == sid)).scalar() is None
