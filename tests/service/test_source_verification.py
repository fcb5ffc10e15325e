"""Sources are verified on registration (issue 21): the site answers, the credentials are
accepted, and every project or board in the scope is readable — else a 422 naming what
failed (the host tried and the cause) and nothing is stored. ``?verify=false`` skips that,
never the outbound guard. Against the simulated Jira and Trello, and a refused port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sandbox.jira import JiraConfig, JiraState
from sandbox.jira import generate as jira_generate
from sandbox.jira import start as jira_start
from sandbox.server import free_port
from sandbox.trello import TrelloState
from sandbox.trello import generate as trello_generate
from sandbox.trello import start as trello_start
from service.app import create_app
from service.db import Database
from tests.service.conftest import Tenant, TestClient, make_settings, make_tenant
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN

SOURCES = "/api/v1/sources"


@dataclass
class Tools:
    jira_url: str
    jira_projects: list[str]
    trello_api: str
    trello: TrelloState
    boards: list[str]


@pytest.fixture
def tools() -> Iterator[Tools]:
    from connectors.trello import set_default_limiter

    jira = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    jira_generate(jira, projects=2, issues_per_project=3, seed=5)
    jira_url, stop_jira = jira_start(jira)
    trello = TrelloState(seed=3)
    boards = trello_generate(trello, boards=2, cards_per_board=3, seed=3)
    trello_url, stop_trello = trello_start(trello)
    yield Tools(jira_url, [p.key for p in jira.projects.values()], trello_url + "/1", trello, boards)
    stop_jira()
    stop_trello()
    jira.close()
    trello.close()
    set_default_limiter(None)


@pytest.fixture
def api(db: Database, tmp_path: Path) -> Iterator[TestClient]:
    """The API with the loopback sandboxes allowed out (as an operator's allow list would)."""
    app = create_app(make_settings(tmp_path, outbound_allow="127.0.0.1"), db, run_worker=False, migrate=False)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def acme(db: Database) -> Tenant:
    return make_tenant(db, "acme")


def jira_body(url: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "jira", "name": "jira", "base_url": url,
            "credentials": {"type": "jira_cloud", "email": JIRA_EMAIL, "api_token": JIRA_TOKEN}, **extra}


def trello_body(tools: Tools, **extra: Any) -> dict[str, Any]:
    creds = {"type": "trello", "api_key": tools.trello.api_key, "token": "sandbox-token",
             "app_secret": tools.trello.app_secret}
    return {"kind": "trello", "name": "trello", "base_url": tools.trello_api, "credentials": creds, **extra}


def refused(r: Any, *words: str, field: str) -> None:
    """A 422 problem+json of the verification rule whose detail has every one of ``words``."""
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert all(w in problem["detail"] for w in words), problem["detail"]
    (error,) = problem["errors"]
    assert (error["field"], error["type"]) == (field, "source_verification")


def stored(api: TestClient, acme: Tenant) -> list[str]:
    return [s["name"] for s in api.get(SOURCES, headers=acme.h()).json()]


def test_a_working_jira_and_trello_are_registered(api: TestClient, acme: Tenant, tools: Tools) -> None:
    r = api.post(SOURCES, json=jira_body(tools.jira_url, scope={"projects": tools.jira_projects}), headers=acme.h())
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "ok"
    r = api.post(SOURCES, json=trello_body(tools, scope={"boards": tools.boards}), headers=acme.h())
    assert r.status_code == 201, r.text
    assert stored(api, acme) == ["jira", "trello"]


def test_an_unreachable_site_is_refused_naming_the_host_and_nothing_is_stored(api: TestClient, acme: Tenant) -> None:
    port = free_port()
    r = api.post(SOURCES, json=jira_body(f"http://127.0.0.1:{port}"), headers=acme.h())
    refused(r, f"127.0.0.1:{port}: connection refused", "the site and the credentials", field="credentials")
    assert stored(api, acme) == []


def test_a_site_that_never_answers_is_refused_as_timed_out(api: TestClient, acme: Tenant,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from service import source_check

    monkeypatch.setattr(source_check, "_ONE_TRY", {"timeout": 0.5, "max_attempts": 1})
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        r = api.post(SOURCES, json=jira_body(f"http://127.0.0.1:{port}"), headers=acme.h())
    refused(r, f"127.0.0.1:{port}: timed out", field="credentials")


def test_wrong_credentials_are_refused(api: TestClient, acme: Tenant, tools: Tools) -> None:
    body = jira_body(tools.jira_url)
    body["credentials"]["api_token"] = "not-the-token"
    host = tools.jira_url.split("//")[1].rstrip("/")
    refused(api.post(SOURCES, json=body, headers=acme.h()), f"{host}: HTTP 401 credentials rejected",
            field="credentials")
    body = trello_body(tools)
    body["credentials"]["token"] = "not-a-token"
    host = tools.trello_api.split("//")[1].split("/")[0]
    refused(api.post(SOURCES, json=body, headers=acme.h()), "API key and token", f"{host}: HTTP 401",
            field="credentials")
    assert "not-the-token" not in api.post(SOURCES, json=jira_body(tools.jira_url, credentials={
        "type": "jira_cloud", "email": JIRA_EMAIL, "api_token": "not-the-token"}), headers=acme.h()).text
    assert stored(api, acme) == []


def test_a_scope_the_user_cannot_read_is_refused_naming_the_project_or_board(
        api: TestClient, acme: Tenant, tools: Tools) -> None:
    scope = {"projects": [tools.jira_projects[0], "NOPE"]}
    refused(api.post(SOURCES, json=jira_body(tools.jira_url, scope=scope), headers=acme.h()),
            "project NOPE", "HTTP 404 not found", field="scope")
    missing = "0123456789abcdef01234567"
    refused(api.post(SOURCES, json=trello_body(tools, scope={"boards": [tools.boards[0], missing]}), headers=acme.h()),
            f"board {missing}", "HTTP 404", field="scope")
    assert stored(api, acme) == []


def test_verify_false_skips_the_checks_but_never_the_outbound_guard(
        api: TestClient, acme: Tenant, db: Database, tmp_path: Path) -> None:
    port = free_port()
    r = api.post(SOURCES, params={"verify": "false"}, json=jira_body(f"http://127.0.0.1:{port}"), headers=acme.h())
    assert r.status_code == 201, r.text
    app = create_app(make_settings(tmp_path / "strict"), db, run_worker=False, migrate=False)
    with TestClient(app) as strict:  # no allow list: loopback is refused, verified or not
        r = strict.post(SOURCES, params={"verify": "false"}, json=jira_body(f"http://127.0.0.1:{port}", name="j2"),
                        headers=acme.h())
    assert r.status_code == 422 and "outbound_guard" in r.text, r.text


def test_patch_verifies_a_new_scope_site_or_credentials_and_nothing_else(
        api: TestClient, acme: Tenant, tools: Tools) -> None:
    sid = api.post(SOURCES, json=jira_body(tools.jira_url), headers=acme.h()).json()["id"]
    refused(api.patch(f"{SOURCES}/{sid}", json={"scope": {"projects": ["NOPE"]}}, headers=acme.h()),
            "project NOPE", field="scope")
    port = free_port()
    refused(api.patch(f"{SOURCES}/{sid}", json={"base_url": f"http://127.0.0.1:{port}"}, headers=acme.h()),
            f"127.0.0.1:{port}: connection refused", field="credentials")
    after = api.get(f"{SOURCES}/{sid}", headers=acme.h()).json()
    assert after["scope"] is None and after["base_url"] == tools.jira_url.rstrip("/")  # nothing stored

    ok = api.patch(f"{SOURCES}/{sid}", json={"scope": {"projects": tools.jira_projects[:1]}}, headers=acme.h())
    assert ok.status_code == 200 and ok.json()["scope"] == {"projects": tools.jira_projects[:1]}
    skipped = api.patch(f"{SOURCES}/{sid}", params={"verify": "false"},
                        json={"base_url": f"http://127.0.0.1:{port}"}, headers=acme.h())
    assert skipped.status_code == 200, skipped.text
    renamed = api.patch(f"{SOURCES}/{sid}", json={"name": "renamed"}, headers=acme.h())  # site down: not checked
    assert renamed.status_code == 200 and renamed.json()["name"] == "renamed"


def test_a_source_without_stored_credentials_is_a_422_not_a_crash(api: TestClient, acme: Tenant, db: Database) -> None:
    from service.tables import Source

    with db.session() as s:  # a row made outside the API: no credentials at all
        src = Source(org_id=acme.org_id, kind="jira", name="bare", base_url="https://jira.example.test")
        s.add(src)
        s.commit()
        sid = src.id
    r = api.patch(f"{SOURCES}/{sid}", json={"scope": {"projects": ["PRJ"]}}, headers=acme.h())
    refused(r, "no stored credentials", field="credentials")
