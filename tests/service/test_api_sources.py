"""Sources API: registration, secrets shown once and encrypted, bad input named, tenancy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from service.tables import Source
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE


def test_create_source_returns_generated_secret_once_and_never_credentials(client, acme, db):
    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h())
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["webhook_secret"]) >= 32
    assert body["credentials_type"] == "jira_cloud" and body["deployment"] == "cloud"
    assert body["webhook_url"] == f"http://testserver/webhooks/jira/{body['id']}"
    assert "s3cr3t-token" not in r.text
    got = client.get(f"/api/v1/sources/{body['id']}", headers=acme.h("read"))
    assert got.status_code == 200 and "webhook_secret" not in got.json()
    assert "s3cr3t-token" not in got.text
    with db.read() as c:
        enc = c.execute(sa.select(Source.__table__.c.credentials_enc)).scalar()
    assert "s3cr3t-token" not in enc and enc.startswith("gAAAA")  # Fernet token


def test_supplied_webhook_secret_is_not_echoed(client, acme):
    r = client.post("/api/v1/sources", json=TRELLO_SOURCE, headers=acme.h())
    assert r.status_code == 201, r.text
    assert r.json()["webhook_secret"] is None


def test_rotate_webhook_secret_shows_the_new_one(client, acme):
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    r = client.patch(f"/api/v1/sources/{sid}", json={"rotate_webhook_secret": True}, headers=acme.h())
    assert r.status_code == 200 and len(r.json()["webhook_secret"]) >= 32


def test_patch_and_delete_source(client, acme):
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    r = client.patch(f"/api/v1/sources/{sid}", json={"poll_interval_seconds": 60, "enabled": False},
                     headers=acme.h())
    assert r.json()["poll_interval_seconds"] == 60 and r.json()["enabled"] is False
    assert client.delete(f"/api/v1/sources/{sid}", headers=acme.h()).status_code == 204
    assert client.get(f"/api/v1/sources/{sid}", headers=acme.h()).status_code == 404


def test_duplicate_name_is_a_409(client, acme):
    client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h())
    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h())
    assert r.status_code == 409 and "already exists" in r.json()["detail"]


def test_bad_input_gets_problem_json_naming_the_field(client, acme, db):
    cases = [
        ({**JIRA_SOURCE, "kind": "asana"}, "kind"),
        ({**JIRA_SOURCE, "bogus": 1}, "bogus"),
        ({**JIRA_SOURCE, "poll_interval_seconds": "often"}, "poll_interval_seconds"),
        ({k: v for k, v in JIRA_SOURCE.items() if k != "base_url"}, "base_url"),
        ({**JIRA_SOURCE, "credentials": TRELLO_SOURCE["credentials"]}, "credentials"),
        ({**JIRA_SOURCE, "scope": {"projects": ["not a key"]}}, "scope"),
        ({**JIRA_SOURCE, "mapping_profile": {"timezone": "Mars/Olympus"}}, "time zone"),
    ]
    for payload, needle in cases:
        r = client.post("/api/v1/sources", json=payload, headers=acme.h())
        assert r.status_code == 422, (payload, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert needle in r.text, (needle, r.json())
        assert r.json()["request_id"]
    r = client.post("/api/v1/sources", content=b"{not json", headers={**acme.h(), "content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    with db.read() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(Source.__table__)).scalar() == 0


def test_auth_failures_are_401_and_scopes_are_enforced(client, acme):
    assert client.get("/api/v1/sources").status_code == 401
    assert client.get("/api/v1/sources", headers={"Authorization": "Basic abc"}).status_code == 401
    r = client.get("/api/v1/sources", headers={"Authorization": "Bearer th_nope"})
    assert r.status_code == 401 and r.json()["detail"] == "invalid or revoked API token"
    r = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h("write"))
    assert r.status_code == 403 and "needs 'admin'" in r.json()["detail"]
    assert client.get("/api/v1/sources", headers=acme.h("read")).status_code == 200


def test_another_organizations_source_answers_404_everywhere(client, acme, globex):
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    assert client.get(f"/api/v1/sources/{sid}", headers=globex.h()).status_code == 404
    assert client.patch(f"/api/v1/sources/{sid}", json={"enabled": False}, headers=globex.h()).status_code == 404
    assert client.delete(f"/api/v1/sources/{sid}", headers=globex.h()).status_code == 404
    assert client.get("/api/v1/sources", headers=globex.h()).json() == []
    assert client.get(f"/api/v1/sources/{sid}", headers=acme.h()).json()["enabled"] is True


@pytest.mark.parametrize("url", ["https://bot:hunter2@acme.atlassian.net", "https://bot@acme.atlassian.net"])
def test_a_base_url_with_a_user_or_password_is_refused_not_stored_and_shown(client, acme, url):
    """A password in the base URL would be stored in plain text and shown to every read token
    (found in review: accepted with ?verify=false)."""
    body = {"kind": "jira", "name": "userinfo", "base_url": url,
            "credentials": {"type": "jira_cloud", "email": "a@b.c", "api_token": "t"}}
    r = client.post("/api/v1/sources", json=body, headers=acme.h())
    assert r.status_code == 422 and "user name or password" in r.json()["detail"], r.text
    assert "hunter2" not in r.text
    sid = client.post("/api/v1/sources", json={**body, "base_url": "https://acme.atlassian.net"},
                      headers=acme.h()).json()["id"]
    r = client.patch(f"/api/v1/sources/{sid}", json={"base_url": url}, headers=acme.h())
    assert r.status_code == 422 and "hunter2" not in client.get("/api/v1/sources", headers=acme.h()).text
