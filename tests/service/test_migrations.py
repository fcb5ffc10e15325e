"""The migrations build exactly the schema the models declare, go down and up again, import no
application code, and install exactly the triggers and functions the store code installs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import service.tables  # noqa: F401 - registers the tables
from service.db import MIGRATIONS_DIR


def _diff(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(ctx, SQLModel.metadata)


def test_migrated_schema_matches_the_models(db):
    assert _diff(db) == []


def test_downgrade_two_steps_and_upgrade_again(db):
    head = db.head_revision()
    db.migrate()
    from alembic import command

    command.downgrade(db.alembic_config(), "-2")  # 0008, then 0007
    try:
        assert db.current_revision() != head
        assert _diff(db) != []  # the previous schema really differs
    finally:
        db.migrate()  # the store is shared by the session's other tests
    assert db.current_revision() == head
    assert _diff(db) == []


# --- frozen migrations: no application code, the same schema as the store code installs ---------

APPLICATION_PACKAGES = {"service", "connectors", "mappings"}
VERSIONS = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))


def _application_imports(path: Path) -> list[str]:
    """The imports of application code anywhere in a migration file (module level or inside a
    function), relative imports, and dynamic imports by name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in APPLICATION_PACKAGES]
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] in APPLICATION_PACKAGES:
                found.append("." * node.level + (node.module or ""))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name in ("import_module", "__import__"):
                found.append(f"{name}(...) at line {node.lineno}")
    return found


def test_the_version_files_are_found():
    assert len(VERSIONS) >= 13 and VERSIONS[0].name.startswith("0001")


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: p.stem)
def test_no_migration_imports_application_code(path):
    assert _application_imports(path) == []


def test_the_import_check_sees_imports_anywhere(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom alembic import op\ndef upgrade():\n    from service.store import rollup\n"
                     "    import connectors.jira\n    from . import x\n    importlib.import_module('mappings')\n")
    assert len(_application_imports(probe)) == 4


def test_every_frozen_file_a_migration_reads_exists():
    """Each frozen migration names its files by its own stem; a rename would lose them."""
    sql = MIGRATIONS_DIR / "versions" / "sql"
    frozen = {p for p in VERSIONS if "_run_frozen(" in p.read_text()}
    assert {p.stem[:4] for p in frozen} == {"0003", "0004", "0007", "0008", "0009", "0010", "0011"}
    for p in frozen:
        for direction in re.findall(r"_run_frozen\('(\w+)'\)", p.read_text()):
            for dialect in ("sqlite", "postgresql"):
                assert (sql / f"{p.stem}.{dialect}.{direction}.sql").is_file(), (p.stem, dialect, direction)


def _norm(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def _schema_objects(conn) -> set[tuple[str, str, str]]:
    """(type, name, normalized SQL) of every schema object: sqlite_master, or on PostgreSQL the
    tables' columns, indexes, triggers (pg_get_triggerdef) and functions (pg_get_functiondef)."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master").all()
    else:
        rows = conn.exec_driver_sql(
            "SELECT 'trigger', tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT tgisinternal "
            "UNION ALL SELECT 'function', proname, pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
            "UNION ALL SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "UNION ALL SELECT 'column', table_name || '.' || column_name, data_type || ' ' || is_nullable "
            "FROM information_schema.columns WHERE table_schema = 'public'"
        ).all()
    return {(t, n, _norm(s)) for t, n, s in rows}


def _triggers_and_functions(objects: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    return {o for o in objects if o[0] in ("trigger", "function")}


def test_the_frozen_migrations_install_what_the_store_code_installs(db):
    """A database migrated to head by the frozen migrations has exactly the triggers and
    functions that today's ``service.store`` install functions create (they are still what
    ``taskhub rollups rebuild`` and the trigger code use): drop them all with the store's
    ``uninstall``s — then none is left — and install them with its ``install``s: every schema
    object is as it was (in a transaction rolled back)."""
    from service.store import rollup, workload_rollup, worklog_day, worklog_rollup, worklog_task

    modules = (rollup, worklog_task, worklog_day, worklog_rollup, workload_rollup)
    db.migrate()

    class _Undo(Exception):
        pass

    with pytest.raises(_Undo), db.write() as conn:
        migrated = _schema_objects(conn)
        assert len(_triggers_and_functions(migrated)) == (27 if conn.dialect.name == "sqlite" else 27 + 25)
        for module in modules:
            module.uninstall(conn)
        bare = _schema_objects(conn)
        assert _triggers_and_functions(bare) == set()
        for module in modules:
            module.install(conn)
        installed = _schema_objects(conn)
        raise _Undo
    assert installed == migrated
    assert migrated - bare == _triggers_and_functions(migrated)


@pytest.fixture
def taskhub_cli(db, tmp_path, monkeypatch):
    """``taskhub`` run against the ``db`` fixture's database."""
    from typer.testing import CliRunner

    from service.cli import app
    from service.db import reset_database_cache
    from service.settings import get_settings

    monkeypatch.setenv("TASKHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TASKHUB_DATABASE_URL", db.url)
    get_settings.cache_clear()
    reset_database_cache()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()
    reset_database_cache()


def test_a_populated_database_upgraded_from_0002_passes_rollups_check(db, taskhub_cli):
    """Tasks, milestones, assignees, worklogs and rates stored; the database goes down to 0002
    (before every rollup and worklog copy) and up again through the frozen migrations, which
    fill them from the rows: ``taskhub rollups check`` finds them equal to a rebuild by today's
    store code, and they hold what they held before."""
    from alembic import command

    from service.cli import _kept
    from tests.views.portfolio_data import build

    w = build(db, "frozen", timezone="Pacific/Auckland")
    with db.read() as c:
        want = _kept(c, w.org_id)
    assert all(want.values()), {k: len(v) for k, v in want.items()}
    command.downgrade(db.alembic_config(), "0002")
    try:
        with db.read() as c:
            tables = set(sa.inspect(c).get_table_names())
            assert "task_rollup" not in tables and "workload_rollup" not in tables
            assert "task_id" not in {col["name"] for col in sa.inspect(c).get_columns("worklog")}
    finally:
        db.migrate()  # the store is shared by the session's other tests
    assert db.current_revision() == db.head_revision()
    r = taskhub_cli("rollups", "check")
    assert r.exit_code == 0, r.output
    line = json.loads(r.stdout)
    assert line["org_id"] == w.org_id and line["consistent"] is True
    with db.read() as c:
        assert _kept(c, w.org_id) == want
