"""``/api/v1/webhook-endpoints`` (issue 22): CRUD, the secret shown once, the outbound guard,
rotation's conflict rule, tenant isolation, the test event, the OpenAPI webhooks section."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from service.db import Database
from service.tables import EventDelivery, table
from tests.service.conftest import TestClient

URL = "https://hooks.example.com/taskhub"
BASE = "/api/v1/webhook-endpoints"


def _create(client: TestClient, tenant: Any, **kw: Any) -> dict[str, Any]:
    r = client.post(BASE, json={"url": URL, "event_types": ["task.*", "source.degraded"], **kw},
                    headers=tenant.h())
    assert r.status_code == 201, r.text
    return r.json()


def test_crud_and_the_secret_shown_once(client: TestClient, acme: Any) -> None:
    made = _create(client, acme, description="zap")
    assert made["secret"].startswith("whsec_") and len(made["secret"]) == 6 + 44  # base64 of 32 bytes
    assert made["health"] == "ok" and made["enabled"] is True
    got = client.get(f"{BASE}/{made['id']}", headers=acme.h("read")).json()
    assert "secret" not in got and got["event_types"] == ["task.*", "source.degraded"]
    assert [e["id"] for e in client.get(BASE, headers=acme.h("read")).json()] == [made["id"]]
    r = client.patch(f"{BASE}/{made['id']}", json={"enabled": False, "event_types": ["*"]}, headers=acme.h())
    assert r.status_code == 200 and r.json()["health"] == "disabled" and r.json()["event_types"] == ["*"]
    r = client.patch(f"{BASE}/{made['id']}", json={"enabled": True}, headers=acme.h())
    assert r.json()["health"] == "ok"
    assert client.delete(f"{BASE}/{made['id']}", headers=acme.h()).status_code == 204
    assert client.get(f"{BASE}/{made['id']}", headers=acme.h()).status_code == 404


def test_scopes(client: TestClient, acme: Any) -> None:
    body = {"url": URL, "event_types": ["*"]}
    assert client.post(BASE, json=body, headers=acme.h("write")).status_code == 403
    assert client.post(BASE, json=body, headers=acme.h("read")).status_code == 403


def test_bad_input_is_a_problem_naming_the_field(client: TestClient, acme: Any) -> None:
    for body, field in [
        ({"url": URL, "event_types": ["nope.*"]}, "event_types"),
        ({"url": URL, "event_types": ["task.exploded"]}, "event_types"),
        ({"url": URL, "event_types": []}, "event_types"),
        ({"url": "ftp://x.example.com", "event_types": ["*"]}, "url"),
        ({"url": URL, "event_types": ["*"], "extra": 1}, "extra"),
        # control characters (found in review: a NUL was stored on SQLite, a 500 on PostgreSQL)
        ({"url": URL + "\x00", "event_types": ["*"]}, "url"),
        ({"url": URL, "event_types": ["*"], "description": "a\x00b"}, "description"),
    ]:
        r = client.post(BASE, json=body, headers=acme.h())
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert field in r.text
    made = _create(client, acme)
    r = client.patch(f"{BASE}/{made['id']}", json={"description": "x\x00"}, headers=acme.h())
    assert r.status_code == 422 and "description" in r.text, r.text


def test_an_internal_url_is_refused_unless_the_operator_allowed_it(client: TestClient, acme: Any) -> None:
    for url, why in [("https://127.0.0.1:9000/hook", "loopback"), ("https://10.1.2.3/hook", "private"),
                     ("https://169.254.169.254/", "link-local"), ("https://hooks.internal/x", "internal host"),
                     ("http://hooks.example.com/x", "https")]:
        r = client.post(BASE, json={"url": url, "event_types": ["*"]}, headers=acme.h())
        assert r.status_code == 422 and why in r.json()["detail"], (url, r.text)
        assert r.json()["errors"][0]["field"] == "url"
    made = _create(client, acme)
    r = client.patch(f"{BASE}/{made['id']}", json={"url": "https://127.0.0.1/x"}, headers=acme.h())
    assert r.status_code == 422


def test_the_allow_list_admits_a_loopback_receiver(db: Database, tmp_path: Any, acme: Any) -> None:
    from service.app import create_app
    from tests.service.conftest import make_settings

    settings = make_settings(tmp_path, outbound_allow="127.0.0.1:18099")
    with TestClient(create_app(settings, db, run_worker=False, migrate=False)) as c:
        ok = c.post(BASE, json={"url": "http://127.0.0.1:18099/hook", "event_types": ["*"]}, headers=acme.h())
        assert ok.status_code == 201, ok.text
        other_port = c.post(BASE, json={"url": "http://127.0.0.1:18098/hook", "event_types": ["*"]},
                            headers=acme.h())
        assert other_port.status_code == 422


def test_rotation_shows_a_new_secret_and_a_second_one_needs_force(client: TestClient, acme: Any) -> None:
    made = _create(client, acme)
    r = client.post(f"{BASE}/{made['id']}/rotate-secret", headers=acme.h())
    assert r.status_code == 200 and r.json()["secret"] != made["secret"]
    assert r.json()["previous_secret_signs_until"] is not None
    assert client.post(f"{BASE}/{made['id']}/rotate-secret", headers=acme.h()).status_code == 409
    forced = client.post(f"{BASE}/{made['id']}/rotate-secret?force=true&overlap_hours=0", headers=acme.h())
    assert forced.status_code == 200 and forced.json()["previous_secret_signs_until"] is None


def test_tenant_isolation(client: TestClient, acme: Any, globex: Any) -> None:
    mine = _create(client, acme)
    theirs = _create(client, globex)
    assert [e["id"] for e in client.get(BASE, headers=globex.h()).json()] == [theirs["id"]]
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/rotate-secret"),
                         ("POST", "/test"), ("GET", "/deliveries"), ("POST", "/redeliver")]:
        kw: dict[str, Any] = {"json": {"enabled": False} if method == "PATCH" else {"event_id": 1}} \
            if method in ("PATCH", "POST") else {}
        r = client.request(method, f"{BASE}/{mine['id']}{path}", headers=globex.h(), **kw)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get(f"{BASE}/{mine['id']}", headers=acme.h()).json()["enabled"] is True


def test_test_event_is_queued_for_that_endpoint_alone(client: TestClient, acme: Any, db: Database) -> None:
    made = _create(client, acme)
    other = _create(client, acme, event_types=["*"])
    r = client.post(f"{BASE}/{made['id']}/test", headers=acme.h())
    assert r.status_code == 202
    log = client.get(f"{BASE}/{made['id']}/deliveries", headers=acme.h("read")).json()
    assert [(d["type"], d["status"], d["attempts"], d["requested"]) for d in log] == [
        ("webhook.test", "pending", 0, True)]  # asked for: before the endpoint's backlog
    assert log[0]["webhook_id"].startswith("evt_")
    assert client.get(f"{BASE}/{other['id']}/deliveries", headers=acme.h()).json() == []
    with db.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(table(EventDelivery))).scalar_one() == 1


def test_redeliver_needs_an_event_or_a_range(client: TestClient, acme: Any) -> None:
    made = _create(client, acme)
    r = client.post(f"{BASE}/{made['id']}/redeliver", json={}, headers=acme.h())
    assert r.status_code == 422
    r = client.post(f"{BASE}/{made['id']}/redeliver", json={"event_id": 999}, headers=acme.h())
    assert r.status_code == 404
    r = client.post(f"{BASE}/{made['id']}/redeliver",
                    json={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, headers=acme.h())
    assert r.status_code == 422


def test_openapi_documents_each_event_type(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    hooks = doc["webhooks"]
    assert {"task.created", "task.updated", "source.degraded", "webhook.test"} <= set(hooks)
    ref = hooks["task.updated"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(schema["required"]) >= {"type", "version", "timestamp", "data"}


def test_key_rotation_reencrypts_endpoint_secrets(db: Database, tmp_path: Any, acme: Any) -> None:
    from cryptography.fernet import Fernet
    from pydantic import SecretStr

    from service.events import endpoints as svc
    from service.security.rotation import rotate_stored_secrets
    from tests.service.conftest import make_settings

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = make_settings(tmp_path).model_copy(update={"secret_key": SecretStr(old)})
    with db.session() as s:
        ep, secret = svc.create_endpoint(s, before, acme.org_id, url=URL, event_types=["*"])
        svc.rotate_secret(s, before, acme.org_id, ep.id, overlap=svc.timedelta(hours=1))  # type: ignore[arg-type]
    both = before.model_copy(update={"secret_key": SecretStr(f"{new},{old}")})
    report = rotate_stored_secrets(db, both)
    assert (report.rotated["webhook_endpoint.secret_enc"], report.rotated["webhook_endpoint.secret_prev_enc"]) == (1, 1)
    assert rotate_stored_secrets(db, both).complete
    after = before.model_copy(update={"secret_key": SecretStr(new)})  # the old key dropped
    with db.session() as s:
        row = svc.get_endpoint(s, acme.org_id, ep.id)  # type: ignore[arg-type]
        signing = svc.signing_secrets(after, row.secret_enc, row.secret_prev_enc, row.secret_prev_until,
                                      svc.utcnow())
    assert signing[1] == secret and len(signing) == 2
