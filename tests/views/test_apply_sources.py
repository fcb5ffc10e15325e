"""``taskhub apply``'s ``sources:`` section (issue 21), against the simulated Jira, on both stores:
secrets only from the environment, verified with the tool as the API does (``--no-verify``
skips it), created or updated by name, and a file applied again calls no tool."""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from sandbox.jira import JiraState
from service.cli.main import app
from service.db import Database, reset_database_cache
from service.security.auth import create_org
from service.security.crypto import get_vault
from service.settings import get_settings
from service.tables import Source, table
from tests.conftest import simulated_jira
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN

S = table(Source)


@pytest.fixture
def jira() -> Iterator[tuple[str, JiraState]]:
    with simulated_jira(2, 2) as (url, state):
        yield url, state


@pytest.fixture
def cli(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    with db.session() as s:
        create_org(s, "fileorg")
    for name, value in {"DATABASE_URL": db.url, "DATA_DIR": str(tmp_path / "data"),
                        "SECRET_KEY": Fernet.generate_key().decode(), "OUTBOUND_ALLOW": "127.0.0.1",
                        "PUBLIC_BASE_URL": "http://taskhub.test"}.items():
        monkeypatch.setenv(f"TASKHUB_{name}", value)
    monkeypatch.setenv("JIRA_TOKEN", JIRA_TOKEN)
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(text: str, *args: str) -> Any:
        path = tmp_path / "sources.yaml"
        path.write_text(textwrap.dedent(text))
        return runner.invoke(app, ["apply", str(path), "--org", "fileorg", *args])

    yield run
    get_settings.cache_clear()
    reset_database_cache()


def jira_file(url: str, *, projects: str = "[APOLLO]", token: str = "${JIRA_TOKEN}",  # noqa: S107 - a reference
              extra: str = "") -> str:
    return textwrap.dedent(f"""\
        sources:
          - kind: jira
            name: jira-main
            base_url: {url}
            scope: {{projects: {projects}}}
            credentials: {{type: jira_cloud, email: {JIRA_EMAIL}, api_token: "{token}"}}
            {extra}
        """)


def _stored(db: Database) -> dict[str, Any]:
    with db.read() as c:
        return {r.name: r for r in c.execute(sa.select(S))}


def _calls(state: JiraState) -> dict[str, int]:
    return dict(state.stats.snapshot()["by_route"])


def _out(result: Any) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def _one_line(result: Any, *words: str) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taskhub: "), result.output
    assert all(w in lines[0] for w in words), lines[0]
    return str(lines[0])


def test_a_source_is_created_verified_with_its_webhook_and_applying_again_calls_no_tool(cli, db, jira):
    url, state = jira
    [created] = _out(cli(jira_file(url)))["sources"]
    assert created["name"] == "jira-main" and created["action"] == "created"
    assert created["webhooks"] == "registered" and len(state.webhooks) == 1
    assert len(created["webhook_secret"]) >= 32  # Jira's, shown once: here
    row = _stored(db)["jira-main"]
    assert (row.base_url, row.scope, row.deployment) == (url, {"projects": ["APOLLO"]}, "cloud")
    creds = get_vault(get_settings()).decrypt(row.credentials_enc)
    assert creds == {"type": "jira_cloud", "email": JIRA_EMAIL, "api_token": JIRA_TOKEN}  # from the environment

    calls = _calls(state)
    again = _out(cli(jira_file(url)))["sources"]
    assert again == [{"name": "jira-main", "action": "unchanged", "id": row.id, "webhooks": "registered"}]
    assert _calls(state) == calls  # nothing verified, nothing registered again

    polled = _out(cli(jira_file(url, extra="poll_interval_seconds: 900")))["sources"][0]
    assert (polled["action"], polled["changed"]) == ("updated", ["poll_interval_seconds"])
    assert _calls(state) == calls and _stored(db)["jira-main"].poll_interval_seconds == 900

    wider = _out(cli(jira_file(url, projects="[APOLLO, BEACON]", extra="poll_interval_seconds: 900")))
    assert (wider["sources"][0]["action"], wider["sources"][0]["changed"]) == ("updated", ["scope"])
    assert _calls(state)["GET /rest/api/3/myself"] == calls.get("GET /rest/api/3/myself", 0) + 1  # verified
    assert _stored(db)["jira-main"].scope == {"projects": ["APOLLO", "BEACON"]}
    assert len(_stored(db)) == 1


@pytest.mark.parametrize(
    ("token", "says"),
    [
        ("s3cr3t-in-the-file", "sources[0].credentials.api_token: a secret is never written in the file"),
        ("${NOT_SET_ANYWHERE}",
         "sources[0].credentials.api_token: the environment variable NOT_SET_ANYWHERE is not set"),
    ],
)
def test_a_secret_comes_only_from_the_environment(cli, db, jira, token, says):
    url, state = jira
    line = _one_line(cli(jira_file(url, token=token)), says, "nothing was applied")
    assert "s3cr3t-in-the-file" not in line  # the value is not echoed
    assert _stored(db) == {} and _calls(state) == {}


def test_a_literal_secret_anywhere_in_the_file_applies_nothing(cli, db, jira):
    """The file's secrets are all resolved before any source is stored (a literal one in the second
    source left the first created and its webhook registered; found in review)."""
    url, state = jira
    second = (f"  - kind: jira\n    name: jira-two\n    base_url: {url}\n"
              '    credentials: {type: jira_cloud, email: a@b.c, api_token: "literal-secret"}\n')
    _one_line(cli(jira_file(url).rstrip() + "\n" + second),
              "sources[1].credentials.api_token: a secret is never written in the file", "nothing was applied")
    assert _stored(db) == {} and state.webhooks == {}


def test_without_a_public_base_url_the_loopback_webhook_url_is_warned_of(cli, db, jira, monkeypatch):
    """apply registers the webhooks from its own process, whose URL is not the port serve was given:
    a loopback base is said on stderr, as serve says it (silent before; found in review)."""
    url, state = jira
    monkeypatch.delenv("TASKHUB_PUBLIC_BASE_URL")
    get_settings.cache_clear()
    result = cli(jira_file(url))
    assert result.exit_code == 0, result.output
    [hook] = state.webhooks.values()
    assert hook.url.startswith("http://127.0.0.1:8000/webhooks/jira/")
    assert "webhook URLs use http://127.0.0.1:8000, a loopback address" in result.stderr
    assert "TASKHUB_PUBLIC_BASE_URL taskhub serve uses" in result.stderr
    assert json.loads(result.stdout)["sources"][0]["action"] == "created"


def test_the_cli_rotation_registers_the_jira_webhook_again_with_the_new_secret(cli, db, jira):
    """``taskhub source rotate-secret`` left Jira signing with the old secret (found in review)."""
    url, state = jira
    [created] = _out(cli(jira_file(url)))["sources"]
    [hook] = state.webhooks.values()
    assert hook.secret == created["webhook_secret"]
    result = CliRunner().invoke(app, ["source", "rotate-secret", str(created["id"]), "--overlap", "0"])
    assert result.exit_code == 0, result.output
    [hook] = state.webhooks.values()
    assert hook.secret == json.loads(result.stdout)["webhook_secret"]


def test_a_failed_verification_stores_nothing_and_no_verify_skips_it(cli, db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site = f"http://127.0.0.1:{port}"
    _one_line(cli(jira_file(site)), "sources[0]: could not verify the site and the credentials",
              f"127.0.0.1:{port}: connection refused", "nothing was applied")
    assert _stored(db) == {}
    [out] = _out(cli(jira_file(site), "--no-verify"))["sources"]
    assert out["action"] == "created" and out["webhooks"] == "failed"  # registering could not reach it either
    assert set(_stored(db)) == {"jira-main"}


def test_a_dry_run_verifies_and_stores_nothing(cli, db, jira):
    url, state = jira
    [out] = _out(cli(jira_file(url), "--dry-run"))["sources"]
    assert out == {"name": "jira-main", "action": "would create"}
    assert _stored(db) == {} and state.webhooks == {} and _calls(state)["GET /rest/api/3/myself"] == 1
    _one_line(cli(jira_file(url, projects="[ZZZ]"), "--dry-run"), "sources[0]: could not verify project ZZZ")


def test_a_kind_cannot_change_and_the_rest_of_the_file_is_not_applied_after_a_bad_source(cli, db, jira):
    url, _ = jira
    _out(cli(jira_file(url)))
    trello = """\
        sources:
          - kind: trello
            name: jira-main
            credentials: {type: trello, api_key: k, token: "${JIRA_TOKEN}", app_secret: "${JIRA_TOKEN}"}
        portfolios:
          - {name: Never}
        """
    _one_line(cli(trello), "sources[0].kind: the source 'jira-main' is a jira source", "nothing was applied")
    later = jira_file(url) + "projects:\n  - {source: jira-main, key: NOPE}\n"
    _one_line(cli(later), "projects[0]", "the sources were applied, nothing else was")
