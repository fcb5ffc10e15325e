"""Freeze the SQL that migrations 0003, 0004 and 0007-0011 used to take from live application code.

    PYTHONPATH=. .venv/bin/python service/migrations/freeze.py capture [--rev 7f1dcc5]
    PYTHONPATH=. .venv/bin/python service/migrations/freeze.py compare [--rev 7f1dcc5]

Up to commit 7f1dcc5 those migrations called ``install``/``uninstall``/``rebuild`` of
``service.store.{rollup,worklog_task,worklog_day,worklog_rollup,workload_rollup}``, so what they
executed was whatever the store code generated on the day they ran.

``capture`` checks the migrations out of ``--rev`` into a temporary directory, runs them up to
head step by step and back down to 0002 step by step on a fresh SQLite file and a fresh
PostgreSQL database, and records every statement those store functions execute (and the
SQLite function they register), per migration, dialect and direction. It writes them to
``service/migrations/versions/sql/<migration>.<dialect>.<upgrade|downgrade>.sql``, which the
frozen migrations read. Each statement in a file follows a ``-- statement N`` line and ends
with ``;`` (the statement executed is the text between, without that final ``;``).

``compare`` runs the migrations of ``--rev`` and the ones in this checkout side by side on
fresh databases of both stores, step by step up to head and down to 0002, and compares after
each step every schema object (SQLite: sqlite_master; PostgreSQL: tables and columns,
indexes, constraints, triggers with ``pg_get_triggerdef``, functions with
``pg_get_functiondef``). It prints the steps that differ and exits 1 if any does.

Needs the store code as of ``--rev`` (the capture calls it); it is not used at run time.
"""

from __future__ import annotations

import argparse
import inspect
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common import create_pg_database, drop_pg_database  # noqa: E402
from service.db import MIGRATIONS_DIR, Database  # noqa: E402

SQL_DIR = MIGRATIONS_DIR / "versions" / "sql"
MODULES = ("rollup", "worklog_task", "worklog_day", "worklog_rollup", "workload_rollup")
FUNCTIONS = ("install", "uninstall", "rebuild")
LOWEST = "0002"  # the migrations before 0003 call no store code


@contextmanager
def migrations_of(rev: str) -> Iterator[Path]:
    """``service/migrations`` as of git revision ``rev``, in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="taskhub-migrations-") as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "service/migrations"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        yield Path(tmp) / "service" / "migrations"


def _config(db: Database, script_location: Path) -> Any:
    cfg = db.alembic_config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


def _revisions(script_location: Path, cfg: Any) -> list[str]:
    """Revisions from the first to head, in order."""
    script = ScriptDirectory.from_config(cfg)
    return [s.revision for s in reversed(list(script.walk_revisions()))]


@contextmanager
def _databases() -> Iterator[list[tuple[str, Database]]]:
    with tempfile.TemporaryDirectory(prefix="taskhub-freeze-") as tmp:
        sqlite_db = Database(f"sqlite:///{tmp}/freeze.db")
        url, name = create_pg_database("taskhub_freeze")
        pg_db = Database(url)
        try:
            yield [("sqlite", sqlite_db), ("postgresql", pg_db)]
        finally:
            sqlite_db.dispose()
            pg_db.dispose()
            drop_pg_database(name)


# --- capture ---------------------------------------------------------------------------------------


def _migration_frame() -> tuple[str, str]:
    """The migration file (stem) and direction of the upgrade()/downgrade() on the stack."""
    for frame in inspect.stack(0):
        path = Path(frame.filename)
        if path.parent.name == "versions" and frame.function in ("upgrade", "downgrade"):
            return path.stem, frame.function
    raise RuntimeError("a store function ran outside a migration")


def capture(rev: str) -> None:
    import importlib

    recorded: dict[tuple[str, str, str], list[tuple[str, str]]] = defaultdict(list)
    registered: set[tuple[str, str]] = set()
    active: list[str] = []  # the store function running now (outermost)
    original_exec = Connection.exec_driver_sql

    def exec_driver_sql(self: Connection, statement: str, *args: Any, **kw: Any) -> Any:
        if active:
            assert not args and not kw, "store DDL takes no parameters"
            stem, direction = _migration_frame()
            recorded[(stem, self.dialect.name, direction)].append((active[0], statement))
        return original_exec(self, statement, *args, **kw)

    patches: list[tuple[Any, str, Any]] = []

    def wrap(module: Any, fn_name: str) -> None:
        fn = getattr(module, fn_name)

        def wrapper(*args: Any, **kw: Any) -> Any:
            call = f"service.store.{module.__name__.rsplit('.', 1)[1]}.{fn_name}"
            if kw:
                call += "(" + ", ".join(f"{k}={v!r}" for k, v in sorted(kw.items())) + ")"
            active.append(call)
            try:
                return fn(*args, **kw)
            finally:
                active.pop()

        patches.append((module, fn_name, fn))
        setattr(module, fn_name, wrapper)

    for name in MODULES:
        module = importlib.import_module(f"service.store.{name}")
        for fn_name in FUNCTIONS:
            wrap(module, fn_name)
    worklog_day = importlib.import_module("service.store.worklog_day")
    register = worklog_day.register_sqlite

    def register_sqlite(dbapi_conn: Any) -> None:
        if active:
            registered.add(_migration_frame())
        register(dbapi_conn)

    worklog_day.register_sqlite = register_sqlite
    Connection.exec_driver_sql = exec_driver_sql  # type: ignore[method-assign]
    try:
        with migrations_of(rev) as location, _databases() as dbs:
            for _, db in dbs:
                cfg = _config(db, location)
                revisions = _revisions(location, cfg)
                for r in revisions:
                    command.upgrade(cfg, r)
                for r in reversed(revisions[revisions.index(LOWEST):-1]):
                    command.downgrade(cfg, r)
    finally:
        Connection.exec_driver_sql = original_exec  # type: ignore[method-assign]
        worklog_day.register_sqlite = register
        for module, fn_name, fn in patches:
            setattr(module, fn_name, fn)

    SQL_DIR.mkdir(parents=True, exist_ok=True)
    for old in SQL_DIR.glob("*.sql"):
        old.unlink()
    for (stem, dialect, direction), statements in sorted(recorded.items()):
        path = SQL_DIR / f"{stem}.{dialect}.{direction}.sql"
        path.write_text(render(stem, dialect, direction, statements, rev))
        assert parse(path.read_text()) == [s for _, s in statements], path
        print(f"{path.relative_to(ROOT)}: {len(statements)} statements")
    print("SQLite function registered by:", sorted(registered))


def render(stem: str, dialect: str, direction: str, statements: list[tuple[str, str]], rev: str) -> str:
    head = (
        f"-- Migration {stem}, {direction}, {dialect}: the statements it executed through the store code\n"
        f"-- ({', '.join(sorted({c for c, _ in statements}))}) as of commit {rev}, frozen by\n"
        "-- service/migrations/freeze.py. Executed in order, one statement each (the text after a\n"
        "-- '-- statement N' line, without its final ';'). Do not edit: a change is a new migration.\n"
    )
    parts = [head]
    for i, (call, statement) in enumerate(statements, 1):
        assert not statement.endswith(";") and statement == statement.strip(), (stem, i)
        assert "\n-- statement " not in statement
        parts.append(f"\n-- statement {i} ({call})\n{statement};\n")
    return "".join(parts)


_SPLIT = re.compile(r"^-- statement \d+ .*\n", re.MULTILINE)


def parse(text: str) -> list[str]:
    """The statements of a frozen file (the migrations carry their own copy of this)."""
    chunks = _SPLIT.split(text)[1:]
    out = []
    for chunk in chunks:
        statement = chunk.strip()
        assert statement.endswith(";")
        out.append(statement[:-1])
    return out


# --- compare ---------------------------------------------------------------------------------------


def schema_objects(conn: Connection) -> set[tuple[str, ...]]:
    """Every schema object with its definition (whitespace as stored)."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master").all()
        return {tuple(str(v) for v in r) for r in rows}
    queries = {
        "column": "SELECT table_name, column_name || ' ' || data_type || ' ' || is_nullable || ' ' || "
                  "coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public'",
        "index": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "constraint": "SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
                      "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'",
        "trigger": "SELECT tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t WHERE NOT tgisinternal",
        "function": "SELECT proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        "sequence": "SELECT sequencename, data_type::text FROM pg_sequences WHERE schemaname = 'public'",
    }
    out: set[tuple[str, ...]] = set()
    for kind, sql in queries.items():
        out |= {(kind, *(str(v) for v in r)) for r in conn.exec_driver_sql(sql).all()}
    return out


def compare(rev: str) -> int:
    bad = 0
    with migrations_of(rev) as location, _databases() as old_dbs, _databases() as new_dbs:
        for (dialect, old), (_, new) in zip(old_dbs, new_dbs, strict=True):
            old_cfg, new_cfg = _config(old, location), new.alembic_config()
            revisions = _revisions(location, old_cfg)
            assert revisions == _revisions(MIGRATIONS_DIR, new_cfg), "the two trees have other revisions"
            steps = [("upgrade", r) for r in revisions]
            steps += [("downgrade", r) for r in reversed(revisions[revisions.index(LOWEST):-1])]
            for direction, r in steps:
                for cfg in (old_cfg, new_cfg):
                    getattr(command, direction)(cfg, r)
                with old.engine.connect() as a, new.engine.connect() as b:
                    before, after = schema_objects(a), schema_objects(b)
                same = before == after
                bad += not same
                print(f"{dialect:10} {direction:9} to {r}: {len(after):4d} objects, "
                      f"{'identical' if same else 'DIFFERENT'}")
                for x in sorted(before ^ after)[:10]:
                    print("     ", "old" if x in before else "new", x[:2], x[-1][:200].replace("\n", " "))
    return 1 if bad else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("capture", "compare"))
    ap.add_argument("--rev", default="7f1dcc5", help="the commit whose migrations call the store code")
    args = ap.parse_args()
    if args.what == "capture":
        capture(args.rev)
    else:
        sys.exit(compare(args.rev))


if __name__ == "__main__":
    main()
