"""The migrations build exactly the schema the models declare, go down and up again and import no
application code; a populated database of the trigger era (revision 0011) upgrades to head with
its rows and rollups and without a trigger, and going back below 0014 gives the triggers back."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import service.tables  # noqa: F401 - registers the tables
from service.db import MIGRATIONS_DIR, Database
from tests.conftest import PG_URL, REQUIRE_PG


def _diff(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return compare_metadata(ctx, SQLModel.metadata)


def test_migrated_schema_matches_the_models(db):
    assert _diff(db) == []


def test_downgrade_two_steps_and_upgrade_again(db):
    head = db.head_revision()
    db.migrate()
    command.downgrade(db.alembic_config(), "-2")  # 0014, then 0013
    try:
        assert db.current_revision() != head
        assert _diff(db) != []  # the previous schema really differs
    finally:
        db.migrate()  # the store is shared by the session's other tests
    assert db.current_revision() == head
    assert _diff(db) == []


# --- frozen migrations: no application code --------------------------------------------------------

APPLICATION_PACKAGES = {"service", "connectors", "mappings"}
VERSIONS = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
SQL = MIGRATIONS_DIR / "versions" / "sql"


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
    assert len(VERSIONS) >= 14 and VERSIONS[0].name.startswith("0001")


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
    frozen = {p for p in VERSIONS if "_run_frozen(" in p.read_text()}
    assert {p.stem[:4] for p in frozen} == {"0003", "0004", "0007", "0008", "0009", "0010", "0011", "0014"}
    for p in frozen:
        for direction in re.findall(r"_run_frozen\('(\w+)'\)", p.read_text()):
            for dialect in ("sqlite", "postgresql"):
                assert (SQL / f"{p.stem}.{dialect}.{direction}.sql").is_file(), (p.stem, dialect, direction)


def _migration(stem: str) -> ModuleType:
    """A migration module loaded from its file (alembic loads them the same way, by path)."""
    spec = importlib.util.spec_from_file_location(f"migration_{stem}", MIGRATIONS_DIR / "versions" / f"{stem}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M0008 = _migration("0008_worklog_day_rate")
M0014 = _migration("0014_drop_rollup_triggers")


def _frozen_creates(dialect: str) -> list[str]:
    """The CREATE statements of 0014's downgrade file: revision 0013's functions and triggers."""
    text = (SQL / f"0014_drop_rollup_triggers.{dialect}.downgrade.sql").read_text()
    statements = [s.strip().removesuffix(";") for s in re.split(r"^-- statement \d+ .*\n", text, flags=re.M)[1:]]
    return [s for s in statements if s.startswith("CREATE ")]


def _kinds_and_names(pattern: str, statements: list[str] | tuple[str, ...]) -> set[tuple[str, ...]]:
    out = set()
    for statement in statements:
        match = re.fullmatch(pattern, statement, flags=re.S)
        assert match, statement
        out.add(match.groups())
    return out


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_0014_drops_every_trigger_and_function_its_downgrade_creates(dialect):
    created = _kinds_and_names(r"CREATE (?:OR REPLACE )?(TRIGGER|FUNCTION) (?:public\.)?(\w+)\b.*",
                               _frozen_creates(dialect))
    dropped = _kinds_and_names(r"DROP (TRIGGER|FUNCTION) IF EXISTS (\w+)(?: ON \w+|\(\))?", M0014.DROP[dialect])
    assert len(dropped) == len(M0014.DROP[dialect])
    assert dropped == created
    assert len(created) == (27 if dialect == "sqlite" else 27 + 25)


# --- the catalogue ---------------------------------------------------------------------------------


def _norm(sql: str | None) -> str:
    return re.sub(r"\s+", " ", sql or "").strip()


def _triggers_and_functions(conn: Connection) -> set[tuple[str, str, str]]:
    """(kind, name, normalized definition) of every trigger and (PostgreSQL) function in the
    public schema: sqlite_master, or pg_get_triggerdef and pg_get_functiondef."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master WHERE type = 'trigger'").all()
    else:
        rows = conn.exec_driver_sql(
            "SELECT 'trigger', tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT tgisinternal "
            "UNION ALL SELECT 'function', proname, pg_get_functiondef(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        ).all()
    return {(t, n, _norm(s)) for t, n, s in rows}


# --- databases of the trigger era ------------------------------------------------------------------


def _create_pg_database() -> tuple[str, str]:
    """A new, empty PostgreSQL database next to the tests' one: (url, name)."""
    name = f"taskhub_mig_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}"
        if REQUIRE_PG:
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        admin.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg_database(name: str) -> None:
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """Makes empty databases (no revision applied) of one store; they go at the end of the test."""
    made: list[tuple[Database, str | None]] = []

    def make() -> Database:
        if request.param == "sqlite":
            made.append((Database(f"sqlite:///{tmp_path}/taskhub{len(made)}.db"), None))
        else:
            made.append((Database((created := _create_pg_database())[0]), created[1]))
        return made[-1][0]

    yield make
    for database, pg_name in made:
        database.dispose()
        if pg_name:
            _drop_pg_database(pg_name)


@contextmanager
def _as_taskhub_up_to_0013(db: Database) -> Iterator[Connection]:
    """A write transaction as taskhub opened one while the triggers kept the rollups: on SQLite
    with ``taskhub_local_day`` registered (the worklog triggers call it; the frozen copy of 0008)."""
    with db.write() as conn:
        if db.is_sqlite:
            assert conn.connection.driver_connection is not None
            conn.connection.driver_connection.create_function("taskhub_local_day", 2, M0008._local_day,
                                                              deterministic=True)
        yield conn


T0 = datetime(2024, 3, 1, 9, tzinfo=UTC)


def _populate(conn: Connection) -> None:
    """Two organizations in other time zones, each with one source, three projects, three people
    (two with rates, one changing on 2024-03-10), twelve tasks of every rollup class (an epic, a
    milestone card, an archived one, one without project, one deleted), assignees (some shared),
    two milestones with linked tasks, and worklogs on both sides of local midnight (one on a task
    that does not exist, one deleted); then updates, so the triggers' update paths ran too.
    Plain inserts and updates, as revision 0011's store wrote them with the triggers in place."""
    meta = sa.MetaData()
    meta.reflect(conn)
    t = meta.tables

    def add(table: str, **row: Any) -> int:
        return conn.execute(t[table].insert().returning(t[table].c.id), row).scalar_one()

    for org_name, zone in (("north", "Pacific/Auckland"), ("west", "America/Los_Angeles")):
        org = add("organization", name=org_name, timezone=zone, currency="EUR", created_at=T0)
        src = add("source", org_id=org, kind="jira", name="jira", poll_interval_seconds=300, enabled=True,
                  status="active", created_at=T0, updated_at=T0)
        projects = [add("project", org_id=org, source_id=src, external_id=f"P{i}", name=f"project {i}",
                        created_at=T0) for i in range(3)]
        people = [add("person", org_id=org, display_name=f"person {i}") for i in range(3)]
        for person, since, rate in ((people[0], date(2024, 1, 1), 50), (people[0], date(2024, 3, 10), 70),
                                    (people[1], date(2023, 1, 1), 40)):
            add("person_rate", org_id=org, person_id=person, effective_from=since, hourly_rate=rate)
        milestones = [add("milestone", org_id=org, source_id=src, project_id=projects[i], external_id=f"M{i}",
                          name=f"release {i}", released=False, archived=False, synced_at=T0) for i in range(2)]
        tasks = []
        for i in range(12):
            done = i % 3 == 2
            tasks.append(add(
                "task", org_id=org, source_id=src, project_id=None if i == 11 else projects[i % 3],
                external_id=f"T{i}", title=f"task {i}", type="epic" if i == 0 else "story",
                status_category=("todo", "in_progress", "done")[i % 3], is_milestone=i == 1, archived=i == 5,
                estimate_points=float(i) if i % 2 else None, estimate_seconds=3600 * i or None,
                spent_seconds=1800 * i if i % 4 else None, remaining_seconds=900 * i if i % 5 else None,
                remote_created_at=T0 + timedelta(hours=7 * i), completed_at=T0 + timedelta(days=i) if done else None,
                due_date=date(2024, 4, 1 + i) if i % 3 else None, deleted_at=T0 if i == 10 else None, synced_at=T0))
        for i, task in enumerate(tasks):
            conn.execute(t["task_assignee"].insert(), [{"task_id": task, "person_id": people[i % 3]}]
                         + ([{"task_id": task, "person_id": people[(i + 1) % 3]}] if i % 4 == 0 else []))
        conn.execute(t["task_milestone"].insert(), [{"task_id": tasks[i], "milestone_id": milestones[i // 6]}
                                                    for i in (2, 3, 4, 7, 8, 10)])
        for j in range(11):
            add("worklog", org_id=org, source_id=src, task_external_id="T99" if j == 10 else f"T{j}",
                external_id=f"W{j}", person_id=people[j % 3], started_at=T0 + timedelta(hours=5 * j + 2),
                seconds=1800 * (j + 1), deleted_at=T0 if j == 9 else None, synced_at=T0)
        conn.execute(t["task"].update().where(t["task"].c.id == tasks[4]).values(project_id=projects[2]))
        conn.execute(t["task"].update().where(t["task"].c.id == tasks[3])
                     .values(status_category="done", completed_at=T0 + timedelta(days=3)))
        conn.execute(t["worklog"].update().where(t["worklog"].c.external_id == "W3", t["worklog"].c.org_id == org)
                     .values(started_at=T0 + timedelta(days=12), seconds=7200))
        conn.execute(t["task_assignee"].delete().where(t["task_assignee"].c.task_id == tasks[8]))


def _later_writes(conn: Connection) -> None:
    """Writes of every kind the rollups follow: a new worklog, a task done, a task deleted, an
    assignee removed, a rate changed, a task moved to another project."""
    org, src = conn.exec_driver_sql("SELECT org_id, id FROM source ORDER BY id LIMIT 1").one()
    rows = conn.execute(sa.text("SELECT external_id, id FROM task WHERE source_id = :s"), {"s": src})
    ids: dict[str, int] = {external_id: task_id for external_id, task_id in rows}
    at = _stored(conn.dialect.name == "sqlite", T0 + timedelta(days=20))
    conn.execute(sa.text("INSERT INTO worklog (org_id, source_id, task_external_id, external_id, person_id, "
                         "started_at, seconds, synced_at) SELECT :o, :s, 'T6', 'W-late', min(id), :at, 5400, :at "
                         "FROM person WHERE org_id = :o"), {"o": org, "s": src, "at": at})
    conn.execute(sa.text("UPDATE task SET status_category = 'done', completed_at = :at WHERE id = :id"),
                 {"at": at, "id": ids["T7"]})
    conn.execute(sa.text("UPDATE task SET deleted_at = :at WHERE id = :id"), {"at": at, "id": ids["T6"]})
    conn.execute(sa.text("DELETE FROM task_assignee WHERE task_id = :id"), {"id": ids["T4"]})
    conn.execute(sa.text("UPDATE person_rate SET hourly_rate = 90 WHERE hourly_rate = 40 AND org_id = :o"), {"o": org})
    conn.execute(sa.text("UPDATE task SET project_id = NULL WHERE id = :id"), {"id": ids["T9"]})


def _stored(sqlite: bool, at: datetime) -> Any:
    """A timestamp as the store binds it: SQLite keeps the text ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC."""
    return at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at


TABLES = ("organization", "source", "project", "person", "person_rate", "milestone", "task", "task_assignee",
          "task_milestone", "worklog")
ROLLUPS = ("task_rollup", "task_day_rollup", "milestone_rollup", "workload_rollup", "worklog_rollup")


def _rows(conn: Connection, tables: tuple[str, ...], like: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each table's rows, sorted, with the column names read (or those of ``like``'s tables:
    later revisions add columns this comparison is not about)."""
    out = {}
    for table in tables:
        columns = like[table][0] if like else tuple(c["name"] for c in sa.inspect(conn).get_columns(table))
        select = f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)} FROM "{table}"'
        out[table] = (columns, sorted((tuple(r) for r in conn.exec_driver_sql(select)), key=repr))
    return out


def _as_rebuilt(rows: dict[str, Any]) -> dict[str, Any]:
    """``_rows`` for comparing rollups kept by writes with rollups rebuilt from the rows: without
    ``created_hi`` and ``started_hi`` (upper bounds the triggers never lowered, which a rebuild
    makes exact), floats to 10 significant digits (the sums were added in another order)."""
    def value(v: Any) -> Any:
        return float(f"{v:.10g}") if isinstance(v, float) else v

    out = {}
    for table, (columns, values) in rows.items():
        keep = [i for i, c in enumerate(columns) if not c.endswith("_hi")]
        kept = sorted((tuple(value(r[i]) for i in keep) for r in values), key=repr)
        out[table] = (tuple(columns[i] for i in keep), kept)
    return out


def _write_a_worklog_on_a_bare_connection(db: Database) -> None:
    """Insert a worklog and move it to another day and person, on a connection taskhub did not
    open: plain sqlite3 (no ``taskhub_local_day``) or a new SQLAlchemy engine."""
    insert = ("INSERT INTO worklog (org_id, source_id, task_external_id, external_id, person_id, started_at, "
              "seconds, synced_at) SELECT org_id, id, 'T2', 'W-bare', NULL, :at, 600, :at FROM source "
              "ORDER BY id LIMIT 1")
    update = ("UPDATE worklog SET started_at = :later, person_id = (SELECT min(id) FROM person) "
              "WHERE external_id = 'W-bare'")
    at, later = T0 + timedelta(days=30), T0 + timedelta(days=31, hours=13)
    if db.is_sqlite:
        conn = sqlite3.connect(db.url.removeprefix("sqlite:///"))
        try:
            with conn:
                conn.execute(insert, {"at": _stored(True, at)})
                conn.execute(update, {"later": _stored(True, later)})
        finally:
            conn.close()
    else:
        engine = sa.create_engine(db.url)
        with engine.begin() as c:
            c.execute(sa.text(insert), {"at": at})
            c.execute(sa.text(update), {"later": later})
        engine.dispose()


def test_a_populated_0011_database_upgrades_to_head_with_its_rows_and_rollups_and_no_trigger(new_database):
    """Written while 0011's triggers kept the rollups, then upgraded: every row and every rollup
    is as it was, no trigger or function is left, and a bare connection can write worklogs
    (on SQLite, without the ``taskhub_local_day`` function that 0008-0013's triggers call)."""
    db = new_database()
    db.migrate("0011")
    with _as_taskhub_up_to_0013(db) as conn:
        _populate(conn)
    with db.read() as conn:
        rows, rollups = _rows(conn, TABLES), _rows(conn, ROLLUPS)
        assert len(_triggers_and_functions(conn)) == (27 if db.is_sqlite else 27 + 25)
    assert all(r for _, r in rollups.values()), {k: len(r) for k, (_, r) in rollups.items()}
    if db.is_sqlite:  # the write below needs what the triggers call, before 0014
        with pytest.raises(sqlite3.OperationalError, match="taskhub_local_day"):
            _write_a_worklog_on_a_bare_connection(db)

    db.migrate()

    assert db.current_revision() == db.head_revision()
    with db.read() as conn:
        assert _triggers_and_functions(conn) == set()
        assert _rows(conn, TABLES, like=rows) == rows
        assert _rows(conn, ROLLUPS, like=rollups) == rollups
    _write_a_worklog_on_a_bare_connection(db)
    with db.read() as conn:
        bare = conn.exec_driver_sql("SELECT person_id IS NOT NULL, seconds, task_id, started_day FROM worklog "
                                    "WHERE external_id = 'W-bare'").one()
        assert tuple(bare) == (True, 600, None, None)  # as written: no trigger fills the copy columns
        assert _rows(conn, ROLLUPS, like=rollups) == rollups


def test_downgrade_below_0014_rebuilds_the_rollups_and_gives_0013s_triggers_back(new_database):
    """Two databases with the same rows at 0011; the same later writes go to one while 0011's
    triggers keep its rollups, and to the other at head, where nothing keeps them. Downgraded to
    0013, the second has the first's rollups and worklog copies (0014's downgrade recomputes them
    before the triggers take over again) and exactly the triggers and functions of the frozen
    file, which are those of a database upgraded to 0013; at head again, none."""
    kept, db = new_database(), new_database()
    for database in (kept, db):
        database.migrate("0011")
        with _as_taskhub_up_to_0013(database) as conn:
            _populate(conn)
    with _as_taskhub_up_to_0013(kept) as conn:
        _later_writes(conn)
    with kept.read() as conn:
        want = _as_rebuilt(_rows(conn, TABLES + ROLLUPS))
    db.migrate("0013")
    with db.read() as conn:
        at_0013 = _triggers_and_functions(conn)
    assert {d for _, _, d in at_0013} == {_norm(s) for s in _frozen_creates(db.dialect)}
    db.migrate()
    with db.write() as conn:
        _later_writes(conn)
    with db.read() as conn:
        assert _as_rebuilt(_rows(conn, TABLES + ROLLUPS, like=want)) != want  # behind: nothing kept them

    command.downgrade(db.alembic_config(), "0013")

    with db.read() as conn:
        assert _triggers_and_functions(conn) == at_0013
        rebuilt = _rows(conn, TABLES + ROLLUPS, like=want)
        assert _as_rebuilt(rebuilt) == want
    db.migrate()
    with db.read() as conn:
        assert _triggers_and_functions(conn) == set()
        assert _rows(conn, TABLES + ROLLUPS, like=rebuilt) == rebuilt


def test_a_populated_database_upgraded_from_0002_has_the_rollups_a_rebuild_gives(db):
    """Tasks, milestones, assignees, worklogs and rates stored; the database goes down to 0002
    (before every rollup and worklog copy) and up again through the frozen migrations, which fill
    them from the rows: ``service.store.rollups.check`` finds them equal to its rebuild, and they
    hold what they held before."""
    from service.store import rollups
    from tests.views.portfolio_data import build

    w = build(db, "frozen", timezone="Pacific/Auckland")
    with db.read() as c:
        want = _as_rebuilt(_rows(c, ROLLUPS + ("worklog",)))
    assert all(r for _, r in want.values()), {k: len(r) for k, (_, r) in want.items()}
    command.downgrade(db.alembic_config(), "0002")
    try:
        with db.read() as c:
            tables = set(sa.inspect(c).get_table_names())
            assert "task_rollup" not in tables and "workload_rollup" not in tables
            assert "task_id" not in {col["name"] for col in sa.inspect(c).get_columns("worklog")}
    finally:
        db.migrate()  # the store is shared by the session's other tests
    assert db.current_revision() == db.head_revision()
    with db.engine.connect() as c:
        mismatches = rollups.check(c, w.org_id)
        c.rollback()
    assert mismatches and not any(mismatches.values()), mismatches
    with db.read() as c:
        assert _as_rebuilt(_rows(c, ROLLUPS + ("worklog",), like=want)) == want


def test_0032_names_the_unit_of_older_observed_estimate_changes(db):
    """An observed 'estimate' row of a task with points now becomes a 'points' row (the rule the
    risk view applied when reading, applied once); a task's hours, and Jira's own rows, stay."""
    from service import store
    from tests.service.factories import make_org, make_source, task

    org = make_org(db)
    src = make_source(db, org)
    with db.write() as c:
        store.upsert_tasks(c, org, src, [task("1", estimate_points=5.0), task("2", estimate_seconds=3600)])
    command.downgrade(db.alembic_config(), "0031")
    try:
        rows = [("1", "o1", "estimate", "observed"), ("2", "o2", "estimate", "observed"),
                ("1", "c1", "estimate", "changelog")]
        with db.write() as c:
            for ext, cid, field, origin in rows:
                c.execute(sa.text("INSERT INTO change (org_id, source_id, task_external_id, external_id, field, "
                                  "from_value, to_value, changed_at, origin) VALUES (:o, :s, :t, :e, :f, '1', '2', "
                                  ":at, :origin)"),
                          {"o": org, "s": src, "t": ext, "e": cid, "f": field, "origin": origin,
                           "at": datetime(2026, 1, 1, tzinfo=UTC)})
    finally:
        db.migrate()  # the store is shared by the session's other tests
    with db.read() as c:
        got = dict(c.execute(sa.text("SELECT external_id, field FROM change")).all())
    assert got == {"o1": "points", "o2": "estimate", "c1": "estimate"}
