"""``taskhub sync SOURCE``: plain progress lines off a terminal, a JSON summary on stdout,
exit 2 for an unknown source; and ``taskhub sandbox jira`` serving a seeded site."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from sandbox.jira import JiraConfig, JiraState, generate, start
from sandbox.server import free_port
from service.cli.main import app
from service.db import get_database, reset_database_cache
from service.settings import get_settings
from tests.sync.conftest import JIRA_EMAIL, JIRA_TOKEN, register_jira

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TASKHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TASKHUB_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("TASKHUB_OUTBOUND_ALLOW", "127.0.0.1")  # the sandbox, as an operator would
    monkeypatch.delenv("TASKHUB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    reset_database_cache()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level  # the command installs its own log handler
    yield
    root.handlers[:], root.level = handlers, level
    get_settings.cache_clear()
    reset_database_cache()


def test_sync_command_prints_progress_lines_and_a_json_summary(cli_env: None):
    state = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    generate(state, projects=2, issues_per_project=30, seed=3)
    url, stop = start(state)
    try:
        settings = get_settings()
        db = get_database(settings)
        db.migrate()
        _, source_id, _ = register_jira(db, settings, url)
        runner = CliRunner()

        first = runner.invoke(app, ["sync", str(source_id)])
        assert first.exit_code == 0, first.output
        summary = json.loads(first.stdout)  # stdout holds only the summary
        assert summary["source"] == source_id and summary["mode"] == "backfill"
        assert summary["items_seen"] == 60 and summary["api_calls"] > 0
        assert "sync issues: 60" in first.stderr  # plain lines: CliRunner's stderr is no TTY
        assert "\x1b[" not in first.stderr  # and no terminal control codes

        again = runner.invoke(app, ["sync", str(source_id)])
        assert again.exit_code == 0, again.output
        assert json.loads(again.stdout)["mode"] == "incremental"

        census = runner.invoke(app, ["sync", str(source_id), "--census"])
        assert census.exit_code == 0 and json.loads(census.stdout)["mode"] == "census"
        # A sync run by hand, with no worker running, leaves the rollups current.
        check = runner.invoke(app, ["rollups", "check"])
        assert check.exit_code == 0 and json.loads(check.stdout.splitlines()[0])["consistent"], check.output
    finally:
        stop()


def test_sync_command_unknown_source_exits_2(cli_env: None):
    r = CliRunner().invoke(app, ["sync", "4242"])
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1].startswith("taskhub: no source 4242") and r.stdout == ""


def test_sandbox_jira_command_serves_a_seeded_site(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-c", "from service.cli.main import app; app()", "sandbox", "jira", "--port", str(port),
         "--seed-issues", "40",
         "--projects", "2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        assert ready["url"] == f"http://127.0.0.1:{port}" and ready["issues"] == 40
        auth = (ready["email"], ready["api_token"])
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(f"{ready['url']}/rest/api/3/search/jql",
                              params={"jql": "project = APOLLO", "maxResults": 100}, auth=auth)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.status_code == 200 and len(r.json()["issues"]) == 20
        assert (ready["email"], ready["api_token"]) == (JIRA_EMAIL, JIRA_TOKEN)
    finally:
        proc.terminate()
        proc.wait(10)
