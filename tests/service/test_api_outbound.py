"""The outbound guard through the API (issue 16 §1): 422 at registration, no bodies in status.

Registration only gives an early, clear error (the connect-time check protects); the
status a read token sees names the status, the classification and the host, never
what the far end wrote in its body.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import ConnectorError
from service.app import create_app
from service.db import Database
from service.sync.runner import run_sync
from tests.service.conftest import JIRA_SOURCE, TRELLO_SOURCE, TestClient, make_settings, make_tenant

SECRET_BODY = "INTERNAL-ONLY pg_hba.conf contents " + "x" * 300


REFUSED_AT_REGISTRATION = [
    ("http://127.0.0.1:5432", "must use https"),
    ("https://127.0.0.1:5432", "127.0.0.1 is a loopback address"),
    ("https://2130706433/", "127.0.0.1 is a loopback address"),
    ("https://0x7f000001/", "127.0.0.1 is a loopback address"),
    ("https://[::1]:8080", "::1 is a loopback address"),
    ("https://[::ffff:10.0.0.1]", "a private address"),
    ("https://169.254.169.254/latest", "169.254.169.254 is a link-local address"),
    ("https://10.2.3.4", "a private address"),
    ("https://100.64.0.9", "CGNAT"),
    ("https://localhost:8443", "localhost is an internal host name"),
    ("https://jira.internal", "jira.internal is an internal host name"),
    ("https://jira", "jira is an internal host name"),
    ("http://acme.atlassian.net", "must use https"),
]


def test_registration_refuses_what_the_guard_would_with_a_422_naming_the_rule(client: TestClient, acme: Any) -> None:
    sid = client.post("/api/v1/sources", json=JIRA_SOURCE, headers=acme.h()).json()["id"]
    for base_url, rule in REFUSED_AT_REGISTRATION:
        for body in ({**JIRA_SOURCE, "base_url": base_url}, {**TRELLO_SOURCE, "base_url": base_url}):
            r = client.post("/api/v1/sources", json=body, headers=acme.h())
            assert r.status_code == 422, (base_url, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert rule in r.json()["detail"] and "TASKHUB_OUTBOUND_ALLOW" in r.json()["detail"], base_url
            assert r.json()["errors"][0]["field"] == "base_url"
        r = client.patch(f"/api/v1/sources/{sid}", json={"base_url": base_url}, headers=acme.h())
        assert r.status_code == 422 and rule in r.json()["detail"], base_url
    assert client.get(f"/api/v1/sources/{sid}", headers=acme.h()).json()["base_url"] == JIRA_SOURCE["base_url"]
    assert len(client.get("/api/v1/sources", headers=acme.h()).json()) == 1


def test_the_operator_allow_list_admits_an_internal_jira_data_center(db: Database, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, outbound_allow="10.0.0.0/8, jira.internal")
    acme = make_tenant(db, "acme")
    with TestClient(create_app(settings, db, run_worker=False, migrate=False)) as c:
        for i, url in enumerate(["http://jira.internal:8080", "http://10.1.2.3", "https://10.9.9.9/jira"]):
            r = c.post("/api/v1/sources", params={"verify": "false"},  # nothing listens: the guard is the test
                       json={**JIRA_SOURCE, "name": f"dc{i}", "base_url": url}, headers=acme.h())
            assert r.status_code == 201, r.text
        r = c.post("/api/v1/sources", json={**JIRA_SOURCE, "name": "x", "base_url": "https://192.168.0.1"},
                   headers=acme.h())
        assert r.status_code == 422  # only what the operator listed


# --- status shows no response body ------------------------------------------------------------


@pytest.fixture
def answering_400() -> Iterator[str]:
    """A 'Jira' on 127.0.0.2 answering every request 400 with an internal-looking body."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = SECRET_BODY.encode()
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.2:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _status_texts(c: TestClient, sid: int, headers: dict[str, str]) -> tuple[str, str]:
    status = c.get(f"/api/v1/sources/{sid}/status", headers=headers)
    runs = c.get(f"/api/v1/sync-runs?source_id={sid}", headers=headers)
    assert status.status_code == 200 and runs.status_code == 200
    return status.json()["last_run"]["error"], runs.text


def test_the_status_names_status_and_class_never_the_body(db: Database, tmp_path: Path, answering_400: str) -> None:
    allowing = make_settings(tmp_path, outbound_allow="127.0.0.2")
    acme = make_tenant(db, "acme")
    with TestClient(create_app(allowing, db, run_worker=False, migrate=False)) as c:
        r = c.post("/api/v1/sources", params={"verify": "false"}, json={**JIRA_SOURCE, "base_url": answering_400},
                   headers=acme.h())
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        with pytest.raises(ConnectorError):
            run_sync(db, allowing, sid, mode="backfill", sleep=lambda s: None)
        error, runs = _status_texts(c, sid, acme.h("read"))
    assert "400" in error and "Fatal" in error and "127.0.0.2" in error
    assert "INTERNAL-ONLY" not in error and "INTERNAL-ONLY" not in runs


def test_a_refusal_at_connect_time_shows_as_such(db: Database, tmp_path: Path, answering_400: str) -> None:
    """Registered while allowed; the operator then empties the allow list: the sync is refused."""
    allowing = make_settings(tmp_path, outbound_allow="127.0.0.2")
    strict = allowing.model_copy(update={"outbound_allow": ""})
    acme = make_tenant(db, "acme")
    with TestClient(create_app(strict, db, run_worker=False, migrate=False)) as c:
        from service.schemas import SourceCreate
        from service.sources import create_source

        with db.session() as s:
            sid = create_source(s, allowing, acme.org_id,
                                SourceCreate.model_validate({**JIRA_SOURCE, "base_url": answering_400})).id
        with pytest.raises(ConnectorError):
            run_sync(db, strict, sid, mode="backfill", sleep=lambda s: None)  # type: ignore[arg-type]
        error, _ = _status_texts(c, sid, acme.h("read"))
    assert "OutboundRefused: refused: 127.0.0.2 is a loopback address (not in TASKHUB_OUTBOUND_ALLOW)" == error
