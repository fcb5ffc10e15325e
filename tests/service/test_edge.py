"""The HTTP edge (issue 16 §5): header limits answer 431 problem+json naming the limit, before
the webhook fast path and the app; every response carries the security headers, dashboard
pages their CSP. Checked through the TestClient and through a real uvicorn with httptools,
the parser production runs (it bounds neither header size nor count by itself)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from sandbox.server import run_in_thread
from service.api.edge import DASHBOARD_CSP
from service.app import create_app
from service.db import Database
from service.settings import Settings
from service.tables import InboxEvent
from tests.service.conftest import JIRA_SOURCE, Tenant, make_settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BODY = json.dumps({"webhookEvent": "jira:issue_updated", "timestamp": 1, "issue": {"id": "1"}}).encode()
ONE_MB = "a" * (1024 * 1024)
MANY = {f"X-Filler-{i}": "b" * 1024 for i in range(200)}


def _delivery(secret: str, ident: str) -> dict[str, str]:
    """The headers Jira Cloud sends with a webhook, as a proxy in front of us passes them on."""
    return {
        "Content-Type": "application/json; charset=UTF-8",
        "Accept": "*/*",
        "Accept-Encoding": "gzip, x-gzip, deflate",
        "User-Agent": "Atlassian Webhook HTTP Client",
        "X-Atlassian-Webhook-Identifier": ident,
        "X-Atlassian-Webhook-Flow": "Primary",
        "X-Atlassian-Webhook-Retry": "0",
        "X-Hub-Signature": "sha256=" + hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest(),
        "traceparent": "00-" + "a1" * 16 + "-" + "b2" * 8 + "-01",
        "X-B3-TraceId": "c3" * 16,
        "X-B3-SpanId": "d4" * 8,
        "X-B3-Sampled": "1",
        "X-Forwarded-For": "13.52.5.96, 10.0.0.1",
        "X-Forwarded-Proto": "https",
        "Via": "1.1 proxy.acme.io",
    }


def _browser(token: str) -> dict[str, str]:
    """A browser's request with a sign-on proxy's cookies (6 KiB) beside ours."""
    return {
        "Authorization": f"Bearer {token}",
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/156.0.0.0 Safari/537.36",
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Language": "en-GB,en;q=0.9,de;q=0.8",
        "Cookie": "; ".join(f"_oauth2_proxy_{i}={'e' * 1500}" for i in range(4)),
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "navigate",
        "Sec-Ch-Ua": '"Chromium";v="156", "Not-A.Brand";v="24"',
    }


def _stored(db: Database) -> int:
    with db.read() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(InboxEvent.__table__)).scalar_one())


def _assert_431(r: httpx.Response, limit: str) -> None:
    assert r.status_code == 431, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["connection"] == "close"
    problem = r.json()
    assert problem["status"] == 431 and problem["title"] == "Request Header Fields Too Large"
    assert f"({limit})" in problem["detail"]


def _jira(http: httpx.Client | TestClient, acme: Tenant) -> tuple[int, str]:
    # Unverified: acme.atlassian.net does not exist (verification: test_source_verification.py).
    r = http.post("/api/v1/sources", params={"verify": "false"}, json=JIRA_SOURCE, headers=acme.h())
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["webhook_secret"]


# --- through the TestClient ------------------------------------------------------------------


def test_a_one_megabyte_header_is_431_naming_the_per_header_limit(client, acme, db):
    sid, secret = _jira(client, acme)
    _assert_431(client.get("/api/v1/sources", headers={**acme.h(), "X-Big": ONE_MB}),
                "max_header_field_bytes")
    r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={**_delivery(secret, "e-1"), "X-Big": ONE_MB})
    _assert_431(r, "max_header_field_bytes")
    assert "'x-big' is 1048581 bytes" in r.json()["detail"]
    assert _stored(db) == 0  # refused before the fast path stored anything


def test_two_hundred_headers_are_431_naming_the_count_limit(client, acme, db):
    sid, secret = _jira(client, acme)
    r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers={**_delivery(secret, "e-1"), **MANY})
    _assert_431(r, "max_headers")
    assert _stored(db) == 0
    _assert_431(client.get("/", headers=MANY), "max_headers")


def test_many_mid_sized_headers_are_431_naming_the_total_limit(client, acme):
    five = {f"X-Mid-{i}": "c" * 5000 for i in range(8)}  # each under 8 KiB, 40 KB together
    _assert_431(client.get("/api/v1/sources", headers={**acme.h(), **five}), "max_header_bytes")


def test_real_deliveries_and_browsers_fit_within_the_limits(client, acme, db):
    sid, secret = _jira(client, acme)
    r = client.post(f"/webhooks/jira/{sid}", content=BODY, headers=_delivery(secret, "e-1"))
    assert r.status_code == 202, r.text
    assert client.get("/api/v1/sources", headers=_browser(acme.admin)).status_code == 200
    assert _stored(db) == 1


def test_the_limits_come_from_the_settings(db, tmp_path, acme):
    settings = make_settings(tmp_path, max_headers=20, max_header_field_bytes=2048, max_header_bytes=4096)
    with TestClient(create_app(settings, db, run_worker=False, migrate=False)) as http:
        few = {f"X-N-{i}": "n" for i in range(25)}
        _assert_431(http.get("/api/v1/sources", headers={**acme.h(), **few}), "max_headers")
        _assert_431(http.get("/api/v1/sources", headers={**acme.h(), "X-A": "a" * 3000}),
                    "max_header_field_bytes")
        assert http.get("/api/v1/sources", headers={**acme.h(), "X-A": "a" * 1500}).status_code == 200


def test_api_responses_carry_nosniff_and_referrer_policy(client, acme):
    for r in (
        client.get("/api/v1/sources", headers=acme.h()),
        client.get("/api/v1/sources"),  # a 401 problem too
        client.get("/api/v1/sources", headers={**acme.h(), "X-Big": ONE_MB}),  # and the 431
        client.post("/webhooks/jira/999999", content=BODY),  # the webhook fast path's answers
    ):
        assert r.headers["x-content-type-options"] == "nosniff", r.status_code
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers.get_list("x-content-type-options") == ["nosniff"]  # stamped once


def test_api_answers_are_never_cached_secrets_included(client, acme):
    created = client.post("/api/v1/tokens", json={"name": "ci", "scope": "read"}, headers=acme.h())
    assert created.status_code in (200, 201), created.text
    for r in (created, client.get("/api/v1/sources", headers=acme.h()), client.get("/api/v1/sources")):
        assert r.headers.get_list("cache-control") == ["no-store"], r.status_code


def test_dashboard_pages_carry_the_csp_and_refuse_framing(client, acme):
    login = client.get("/login")
    client.post("/login", data={"token": acme.read, "next": "/"}, follow_redirects=False)
    for r in (login, client.get("/"), client.get("/people"), client.get("/projects/999999")):
        assert r.headers["content-type"].startswith("text/html"), r.status_code
        assert r.headers["content-security-policy"] == DASHBOARD_CSP
        assert "script-src" not in DASHBOARD_CSP and "unsafe-inline" not in DASHBOARD_CSP
        assert "frame-ancestors 'none'" in DASHBOARD_CSP
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert " style=" not in r.text and "<script" not in r.text  # what the CSP would block


# --- through a real server: uvicorn with httptools --------------------------------------------


@pytest.fixture
def server(db: Database, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    settings = make_settings(tmp_path)
    app = create_app(settings, db, run_worker=False, migrate=False)
    base, stop = run_in_thread(app, probe_path="/healthz", lifespan="on", http="httptools")
    try:
        yield base, settings
    finally:
        stop()


def _raw(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send one raw request; read the answer up to the server's close."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def test_real_server_refuses_a_one_megabyte_header_and_two_hundred_headers(server, acme, db):
    base, _ = server
    with httpx.Client(base_url=base, timeout=10) as http:
        sid, secret = _jira(http, acme)
        _assert_431(http.get("/api/v1/sources", headers={**acme.h(), "X-Big": ONE_MB}), "max_header_field_bytes")
        _assert_431(http.post(f"/webhooks/jira/{sid}", content=BODY,
                              headers={**_delivery(secret, "e-1"), **MANY}), "max_headers")
        # The same server still takes a real delivery and a browser's request.
        assert http.post(f"/webhooks/jira/{sid}", content=BODY,
                         headers=_delivery(secret, "e-2")).status_code == 202
        assert http.get("/api/v1/sources", headers=_browser(acme.admin)).status_code == 200
    assert _stored(db) == 1
    # On the wire, without a client library's help: the 431 arrives and the connection closes.
    path = f"/webhooks/jira/{sid}".encode()
    request = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"X-Big: " + ONE_MB.encode() + b"\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
    status, headers, body = _raw(base, request)
    assert status == 431 and headers["content-type"] == "application/problem+json"
    assert "(max_header_field_bytes)" in json.loads(body)["detail"]
    assert _stored(db) == 1
