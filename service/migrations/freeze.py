"""Frozen SQL for the migrations: capture and check migration 0014's files, compare two trees.

    PYTHONPATH=. .venv/bin/python service/migrations/freeze.py capture
    PYTHONPATH=. .venv/bin/python service/migrations/freeze.py check
    PYTHONPATH=. .venv/bin/python service/migrations/freeze.py compare --rev <commit>

Migrations 0003, 0004 and 0007-0011 called ``install``/``uninstall``/``rebuild`` of the store's
trigger modules up to commit 7f1dcc5. Their statements were recorded once, by running those
migrations with that code instrumented (this tool's ``capture`` up to the commit that added
migration 0014), into ``versions/sql/<migration>.<dialect>.<upgrade|downgrade>.sql``. That code is
gone; those files are final. Each statement in a file follows a ``-- statement N (origin)`` line
and ends with ``;`` (the statement executed is the text between, without that final ``;``).

``capture`` writes ``versions/sql/0014_drop_rollup_triggers.<dialect>.downgrade.sql``, what
migration 0014's downgrade executes to give back revision 0013's triggers: the rebuild statements
of the frozen files above, in the order the upgrades ran them (the triggers apply deltas, so they
must start from exact rollups), then every function and trigger that a fresh database migrated to
0013 has, read from its catalogue (SQLite: ``sqlite_master.sql``; PostgreSQL:
``pg_get_functiondef``, then ``pg_get_triggerdef``). It needs no application code beyond
``service.db`` and the migrations. ``check`` does the same capture in memory and exits 1 if the
files differ from it.

``compare`` runs the migrations of ``--rev`` and the ones in this checkout side by side on
fresh databases of both stores, step by step up to ``--rev``'s head and down to 0002, and compares
after each step every schema object (SQLite: sqlite_master; PostgreSQL: tables and columns,
indexes, constraints, triggers with ``pg_get_triggerdef``, functions with ``pg_get_functiondef``).
It prints the steps that differ and exits 1 if any does. Both trees' migrations must run without
the store code: ``--rev`` must be 44f3833 (which froze them) or later.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
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
LOWEST = "0002"  # the migrations before 0003 install no trigger
TRIGGERLESS = "0014_drop_rollup_triggers"
BEFORE = "0013"  # the revision whose triggers 0014 drops and its downgrade gives back
# The upgrades whose rebuild statements recompute the rollups and the worklog copies, in order:
# the worklog rollup (0009) sums the columns that 0007 and 0008 fill.
REBUILDS = ("0003_task_rollups", "0004_milestone_rollup", "0007_worklog_task_columns",
            "0008_worklog_day_rate", "0009_worklog_rollup", "0011_workload_rollup")


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


def _revisions(cfg: Any) -> list[str]:
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


# --- the frozen file format ------------------------------------------------------------------------

_SPLIT = re.compile(r"^-- statement \d+ .*\n", re.MULTILINE)
_ORIGIN = re.compile(r"^-- statement \d+ \((.*)\)$", re.MULTILINE)


def parse(text: str) -> list[str]:
    """The statements of a frozen file (the migrations carry their own copy of this)."""
    out = []
    for chunk in _SPLIT.split(text)[1:]:
        statement = chunk.strip()
        assert statement.endswith(";")
        out.append(statement[:-1])
    return out


def parse_with_origin(text: str) -> list[tuple[str, str]]:
    """(origin, statement) for each statement of a frozen file."""
    return list(zip(_ORIGIN.findall(text), parse(text), strict=True))


def render(head: str, statements: list[tuple[str, str]]) -> str:
    parts = [head]
    for i, (origin, statement) in enumerate(statements, 1):
        assert not statement.endswith(";") and statement == statement.strip(), (origin, i)
        assert "\n-- statement " not in statement
        parts.append(f"\n-- statement {i} ({origin})\n{statement};\n")
    return "".join(parts)


# --- capture / check -------------------------------------------------------------------------------


def rebuild_statements(dialect: str) -> list[tuple[str, str]]:
    """The rebuild statements the frozen upgrades ran, in order, each with its origin."""
    out = []
    for stem in REBUILDS:
        text = (SQL_DIR / f"{stem}.{dialect}.upgrade.sql").read_text()
        out += [(f"{stem} upgrade: {origin}", s) for origin, s in parse_with_origin(text) if ".rebuild" in origin]
    return out


def catalogue_statements(conn: Connection) -> list[tuple[str, str]]:
    """CREATE statements for every function and trigger of the database, from its catalogue."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(
            "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY tbl_name, name").all()
        return [(f"trigger {name} ON {table}", sql.strip()) for table, name, sql in rows]
    functions = conn.exec_driver_sql(
        "SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' ORDER BY p.proname").all()
    assert all(name.startswith("taskhub_") for name, _ in functions), functions
    triggers = conn.exec_driver_sql(
        "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "WHERE NOT t.tgisinternal ORDER BY c.relname, t.tgname").all()
    return ([(f"function {name}", sql.strip()) for name, sql in functions]
            + [(f"trigger {name} ON {table}", sql.strip()) for table, name, sql in triggers])


def _downgrade_head(dialect: str) -> str:
    return (
        f"-- Migration {TRIGGERLESS}, downgrade, {dialect}: revision {BEFORE}'s rollups and triggers back.\n"
        "-- First the rebuild statements of the frozen upgrades (the rollups and the worklog copies\n"
        "-- recomputed from the rows), then every function and trigger of a database migrated to\n"
        f"-- {BEFORE}, from its catalogue. Written by service/migrations/freeze.py capture. Executed in\n"
        "-- order, one statement each (the text after a '-- statement N' line, without its final ';').\n"
        "-- Do not edit: a change is a new migration.\n"
    )


def captured() -> dict[Path, str]:
    """The downgrade files of 0014 as a fresh capture would write them."""
    out = {}
    with _databases() as dbs:
        for dialect, db in dbs:
            db.migrate(BEFORE)
            with db.engine.connect() as conn:
                statements = rebuild_statements(dialect) + catalogue_statements(conn)
            text = render(_downgrade_head(dialect), statements)
            assert parse(text) == [s for _, s in statements], dialect
            out[SQL_DIR / f"{TRIGGERLESS}.{dialect}.downgrade.sql"] = text
    return out


def capture() -> None:
    for path, text in captured().items():
        path.write_text(text)
        print(f"{path.relative_to(ROOT)}: {len(parse(text))} statements")


def check() -> int:
    bad = 0
    for path, text in captured().items():
        same = path.is_file() and path.read_text() == text
        bad += not same
        print(f"{path.relative_to(ROOT)}: {'as captured' if same else 'DIFFERS from a fresh capture'}")
    return 1 if bad else 0


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
    """Step through ``rev``'s revisions (a prefix of this checkout's) on both trees."""
    bad = 0
    with migrations_of(rev) as location, _databases() as old_dbs, _databases() as new_dbs:
        for (dialect, old), (_, new) in zip(old_dbs, new_dbs, strict=True):
            old_cfg, new_cfg = _config(old, location), new.alembic_config()
            revisions = _revisions(old_cfg)
            assert _revisions(new_cfg)[:len(revisions)] == revisions, "the checkout does not extend --rev's history"
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
    ap.add_argument("what", choices=("capture", "check", "compare"))
    ap.add_argument("--rev", default="HEAD", help="compare: the commit whose migrations to compare with")
    args = ap.parse_args()
    if args.what == "capture":
        capture()
    elif args.what == "check":
        sys.exit(check())
    else:
        sys.exit(compare(args.rev))


if __name__ == "__main__":
    main()
