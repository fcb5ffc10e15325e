"""Which database a command uses, said when it is new or empty (issue 21): run from another
folder, the CLI made a new SQLite file there, ``taskhub source list`` printed nothing and exited
0. Now one stderr line names the database; a populated one stays silent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from service.cli.main import app
from service.db import Database, reset_database_cache
from service.settings import get_settings
from tests.service.conftest import make_tenant

Run = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Run]:
    """The CLI run in a folder of its own (``tmp_path/elsewhere``) with no TASKHUB_ settings."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for name in ("TASKHUB_DATA_DIR", "TASKHUB_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    reset_database_cache()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()
    reset_database_cache()


def test_a_database_made_in_another_folder_is_named_new_then_empty(cli: Run, tmp_path: Path) -> None:
    file = tmp_path / "elsewhere" / ".taskhub" / "taskhub.db"
    r = cli("source", "list")
    assert (r.exit_code, r.stdout) == (0, "")
    assert r.stderr == f"taskhub: using sqlite:///{file}: new database\n"
    assert file.exists()
    r = cli("source", "list")
    assert r.stderr == f"taskhub: using sqlite:///{file}: empty database\n"
    assert cli("org", "create", "acme").exit_code == 0
    r = cli("source", "list")
    assert (r.exit_code, r.stderr) == (0, "")  # a database with an organization: nothing said


def test_migrate_names_a_new_database(cli: Run, tmp_path: Path) -> None:
    r = cli("migrate")
    assert r.exit_code == 0, r.output
    assert r.stderr == f"taskhub: using sqlite:///{tmp_path / 'elsewhere' / '.taskhub' / 'taskhub.db'}: new database\n"


def test_an_empty_database_is_named_on_each_store(cli: Run, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKHUB_DATABASE_URL", db.url)
    r = cli("org", "list")
    assert (r.exit_code, r.stdout) == (0, "")
    assert r.stderr == f"taskhub: using {db.url}: empty database\n"  # absolute file; no password in the tests' URL
    tenant = make_tenant(db, "acme")
    r = cli("org", "list")
    assert r.stderr == "" and json.loads(r.stdout)["id"] == tenant.org_id


def test_an_unreachable_database_is_one_line_without_its_password(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKHUB_DATABASE_URL", "postgresql://taskhub:s3cret@127.0.0.1:1/taskhub")
    r = cli("source", "list")
    assert r.exit_code == 1
    shown = "postgresql+psycopg://taskhub:***@127.0.0.1:1/taskhub"
    assert r.stderr.startswith(f"taskhub: cannot open the database {shown}: ")
    assert r.stderr.count("\n") == 1 and "s3cret" not in r.stderr


def test_serve_on_postgresql_without_a_secret_key_stops_at_start(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It used to start, then answer a bare 500 on the first source created: replicas must share
    one key, so none can be made up; the server refuses to start and says why (exit 1)."""
    monkeypatch.setenv("TASKHUB_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.delenv("TASKHUB_SECRET_KEY", raising=False)
    for name in ("TASKHUB_HOST", "TASKHUB_PORT"):  # serve sets them for its workers: undone after
        monkeypatch.setenv(name, "0")
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("the server started"))
    r = cli("serve", "--port", "0")
    assert r.exit_code == 1
    assert "TASKHUB_SECRET_KEY must be set" in r.stderr
