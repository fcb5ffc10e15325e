"""A source's health (issue 21): ``failing`` from the first failed run with that run's host and
cause, ``degraded`` after three failed runs in a row, ``ok`` again after a success — the same
value in the API, the CLI and the dashboard."""

from __future__ import annotations

import json
import re
import warnings

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.errors import Transient
from sandbox.server import free_port
from service.app import create_app
from service.cli.main import app as cli_app
from service.db import reset_database_cache
from service.security.auth import create_token
from service.settings import get_settings
from service.sync.runner import run_sync
from service.tables import Source
from tests.dashboard.world import sign_in
from tests.sync.conftest import FakeSleep, JiraSite

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

S = Source.__table__


def _point_at(site: JiraSite, url: str) -> None:
    with site.db.write() as c:
        c.execute(sa.update(S).where(S.c.id == site.source_id).values(base_url=url))


def _health(site: JiraSite) -> tuple[str, str | None]:
    with site.db.read() as c:
        row = c.execute(sa.select(S.c.status, S.c.status_reason).where(S.c.id == site.source_id)).one()
    return row.status, row.status_reason


def _fail(site: JiraSite) -> None:
    with pytest.raises(Transient):
        run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())


def test_failing_names_the_first_runs_host_and_cause_then_degraded_then_ok(jira_site: JiraSite) -> None:
    site = jira_site
    first, second = free_port(), free_port()  # nothing listens: connection refused
    _point_at(site, f"http://127.0.0.1:{first}")
    _fail(site)
    status, reason = _health(site)
    assert status == "failing"
    assert reason is not None and reason.startswith(f"127.0.0.1:{first}: connection refused; ")

    _point_at(site, f"http://127.0.0.1:{second}")
    _fail(site)
    assert _health(site) == (status, reason)  # the first failure's host and cause are kept

    _fail(site)
    status, reason = _health(site)
    assert status == "degraded"
    assert reason is not None and reason.startswith(f"3 failed syncs in a row; last: 127.0.0.1:{second}: "
                                                    "connection refused")

    _point_at(site, site.url)
    run_sync(site.db, site.settings, site.source_id, mode="incremental", sleep=FakeSleep())
    assert _health(site) == ("ok", None)


def test_the_api_the_cli_and_the_dashboard_show_the_same_health(jira_site: JiraSite, monkeypatch) -> None:
    site = jira_site
    port = free_port()
    _point_at(site, f"http://127.0.0.1:{port}")
    _fail(site)
    with site.db.session() as s:
        token, _ = create_token(s, site.org_id, "read")
    app = create_app(site.settings, site.db, run_worker=False, migrate=False)
    with TestClient(app) as client:
        api = client.get(f"/api/v1/sources/{site.source_id}", headers={"Authorization": f"Bearer {token}"}).json()
        sign_in(client, token)
        html = client.get("/").text
    assert api["status"] == "failing" and api["status_reason"].startswith(f"127.0.0.1:{port}: connection refused")
    row = re.search(rf'<tr data-source-id="{site.source_id}"[^>]*>(.*?)</tr>', html, flags=re.S)
    assert row is not None and "badge-failing" in row.group(1)
    assert f"127.0.0.1:{port}: connection refused" in row.group(1)

    monkeypatch.setenv("TASKHUB_DATA_DIR", str(site.settings.data_dir))
    monkeypatch.setenv("TASKHUB_DATABASE_URL", site.db.url)
    assert site.settings.secret_key is not None
    monkeypatch.setenv("TASKHUB_SECRET_KEY", site.settings.secret_key.get_secret_value())
    get_settings.cache_clear()
    reset_database_cache()
    try:
        out = CliRunner().invoke(cli_app, ["source", "list"])
    finally:
        get_settings.cache_clear()
        reset_database_cache()
    assert out.exit_code == 0, out.output
    (listed,) = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert (listed["status"], listed["status_reason"]) == ("failing", api["status_reason"])


def test_a_sync_saving_what_it_learnt_of_the_site_leaves_the_health_alone(jira_site: JiraSite) -> None:
    """The syncs wrote the status they read at the start of the run back with ``site_info``,
    which could undo a health change made meanwhile (found by the events helper)."""
    from service.sync.state import save_site_info

    site = jira_site
    with site.db.write() as c:
        c.execute(sa.update(S).where(S.c.id == site.source_id).values(status="degraded", status_reason="x: timed out"))
    save_site_info(site.db, site.source_id, {"fields": {}})
    assert _health(site) == ("degraded", "x: timed out")
    with site.db.read() as c:
        assert c.execute(sa.select(S.c.site_info).where(S.c.id == site.source_id)).scalar() == {"fields": {}}
