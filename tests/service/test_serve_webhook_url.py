"""The webhook URL names the port ``taskhub serve`` was given (issue 21), and a delivery to that
URL arrives: ``serve`` runs in a subprocess on a free port, a Jira source is registered through
its API, the simulated Jira is pointed at the answered ``webhook_url`` and changes an issue.
Where no ``PUBLIC_BASE_URL`` is set, the loopback base is warned of. On both stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from sandbox.jira import JiraState, mutations
from sandbox.jira.api import register_webhook
from sandbox.server import free_port
from service.db import Database
from service.settings import Settings
from service.tables import InboxEvent, table
from tests.conftest import simulated_jira
from tests.service.conftest import make_tenant
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN

TASKHUB = Path(sys.executable).with_name("taskhub")


def _wait_for(what: str, probe: Any, proc: subprocess.Popen[str], timeout: float = 30) -> Any:
    """``probe()``'s first truthy answer; the server's output when it died or never answered."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if found := probe():
                return found
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{what}: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)


def _serve(db: Database, tmp_path: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKHUB_")}
    env.update(TASKHUB_DATA_DIR=str(tmp_path / "data"), TASKHUB_DATABASE_URL=db.url, TASKHUB_POLL_SOURCES="false",
               TASKHUB_EMBEDDED_WORKER="false", TASKHUB_OUTBOUND_ALLOW="127.0.0.1", TASKHUB_GC_FREEZE="false",
               TASKHUB_SECRET_KEY=Fernet.generate_key().decode())
    return subprocess.Popen([str(TASKHUB), "serve", "--port", str(port), *extra], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def jira() -> Iterator[tuple[JiraState, str]]:
    with simulated_jira(1, 3) as (url, state):
        yield state, url


def test_a_webhook_arrives_at_the_port_serve_was_given(db: Database, tmp_path: Path,
                                                      jira: tuple[JiraState, str]) -> None:
    state, jira_url = jira
    tenant = make_tenant(db, "acme")
    port = free_port()
    proc = _serve(db, tmp_path, port)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for("serve did not start", lambda: urllib.request.urlopen(f"{base}/healthz", timeout=2), proc)  # noqa: S310
        body = json.dumps({"kind": "jira", "name": "Jira", "base_url": jira_url, "credentials": {
            "type": "jira_cloud", "email": JIRA_EMAIL, "api_token": JIRA_TOKEN}}).encode()
        request = urllib.request.Request(f"{base}/api/v1/sources?register_webhooks=false", data=body, method="POST",  # noqa: S310
                                         headers={**tenant.h(), "Content-Type": "application/json"})
        created = json.loads(urllib.request.urlopen(request, timeout=30).read())  # noqa: S310
        assert created["webhook_url"] == f"http://127.0.0.1:{port}/webhooks/jira/{created['id']}"
        assert "a loopback address Jira and Trello cannot reach" in created["webhook_url_warning"]

        register_webhook(state, created["webhook_url"], secret=created["webhook_secret"])
        mutations.edit_issue(state, next(iter(state.issues.values())).key, {"summary": "renamed"})
        IE = table(InboxEvent)

        def arrived() -> list[Any]:
            with db.read() as c:
                return list(c.execute(sa.select(IE.c.kind, IE.c.body).where(IE.c.source_id == created["id"])))

        [event] = _wait_for("no delivery arrived", arrived, proc)
        assert event.kind == "jira" and json.loads(event.body)["issue"]["fields"]["summary"] == "renamed"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    # The base is loopback (no PUBLIC_BASE_URL): said on stderr, naming the URL used.
    assert f"taskhub: webhook URLs use {base}, a loopback address Jira and Trello cannot reach" in err


@pytest.mark.parametrize("kw, base, warned", [
    ({"host": "127.0.0.1", "port": 18102}, "http://127.0.0.1:18102", "webhook URLs use http://127.0.0.1:18102"),
    ({"host": "0.0.0.0", "port": 9000}, "http://127.0.0.1:9000",  # noqa: S104 - the unspecified bind named
     "taskhub listens on every interface (0.0.0.0); webhook URLs use http://127.0.0.1:9000"),
    ({"host": "::", "port": 9000}, "http://[::1]:9000", "every interface (::); webhook URLs use http://[::1]:9000"),
    ({"host": "localhost", "port": 80}, "http://localhost:80", "webhook URLs use http://localhost:80"),
    ({"host": "10.1.2.3", "port": 8000}, "http://10.1.2.3:8000", None),
    ({"port": 9000, "public_base_url": "https://taskhub.example.com/"}, "https://taskhub.example.com", None),
    ({"public_base_url": "http://127.0.0.5:8080"}, "http://127.0.0.5:8080", "webhook URLs use http://127.0.0.5:8080"),
])
def test_webhook_base_url_and_its_warning(kw: dict[str, Any], base: str, warned: str | None) -> None:
    settings = Settings(_env_file=None, **kw)  # type: ignore[call-arg]
    assert settings.webhook_base_url == base
    warning = settings.webhook_base_warning
    if warned is None:
        assert warning is None
    else:
        assert warning is not None and warned in warning and "TASKHUB_PUBLIC_BASE_URL" in warning


@pytest.mark.parametrize("url", ["taskhub.example.com", "ftp://x.example.com", "https://"])
def test_a_public_base_url_that_is_no_http_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="must be an http"):
        Settings(_env_file=None, public_base_url=url)  # type: ignore[call-arg]


def test_serve_on_a_taken_port_is_one_line_and_exit_1(tmp_path: Path, sqlite_db: Database) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _serve(sqlite_db, tmp_path, port)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"taskhub: cannot listen on 127.0.0.1:{port}: Address already in use" in err
