"""Shared fixtures: a migrated database on each store.

``db`` is parametrized over SQLite and PostgreSQL. PostgreSQL comes from
``TASKHUB_TEST_DATABASE_URL`` (default the local ``test`` database); each test
process (each pytest-xdist worker of ``make test``) works in a database of its own,
created here and dropped at the end.
Without PostgreSQL the PostgreSQL cases skip with the reason, unless
``TASKHUB_REQUIRE_POSTGRES=1`` (CI sets it), where they fail.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from service.db import Database
from service.settings import normalize_url

if TYPE_CHECKING:
    from sandbox.jira import JiraState
    from sandbox.trello import TrelloState


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A CLI command run in-process (``serve``, ``worker``, ``sync``…) configures the root logger
    for the process; put it back after each test, so a later test's captured output holds only
    its own command's lines, as a real one-command process's would."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (several seconds each) first, the rest in their order: pytest-xdist
    hands out the tests in this order (after the ``xdist_group`` groups), so a long test started
    last no longer keeps one worker busy while the other has finished. Last of the hooks, after
    pytest's own order (module-scoped fixtures); the slow tests use none."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


PG_URL = normalize_url(
    os.environ.get("TASKHUB_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
REQUIRE_PG = os.environ.get("TASKHUB_REQUIRE_POSTGRES") == "1"

# Each app's start would otherwise collect the whole heap and freeze it (service.app): the suite
# starts hundreds of apps in one process. TASKHUB_GC_FREEZE=1 runs it as production does.
os.environ.setdefault("TASKHUB_GC_FREEZE", "0")


_pg_state: dict[str, object] = {}


def _pg_database(key: str = "db") -> Database:
    """Create this session's PostgreSQL database once and migrate it (``key`` "shared": a second
    one, for the module-scoped ``shared_db``)."""
    if key in _pg_state:
        return _pg_state[key]  # type: ignore[return-value]
    if "error" in _pg_state:
        raise RuntimeError(_pg_state["error"])
    name = f"taskhub_t_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - reported as the skip/fail reason
        _pg_state["error"] = f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}"
        raise RuntimeError(_pg_state["error"]) from exc
    url = PG_URL.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.migrate()
    _pg_state[key] = db
    _pg_state.setdefault("names", {})[key] = name  # type: ignore[index]
    return db


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this process's PostgreSQL database and SQLite template (under pytest-xdist each
    worker is a process of its own, with its own of both; the controller has neither)."""
    if "path" in _sqlite_template:
        shutil.rmtree(_sqlite_template["path"].parent, ignore_errors=True)
    names: dict[str, str] = _pg_state.get("names", {})  # type: ignore[assignment]
    for key, name in names.items():
        _pg_state[key].dispose()  # type: ignore[attr-defined]
        try:
            admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        except Exception:  # noqa: BLE001, S110 - best effort cleanup
            pass


def get_pg_database(key: str = "db") -> Database:
    try:
        return _pg_database(key)
    except RuntimeError as exc:
        if REQUIRE_PG:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def truncate_all(db: Database) -> None:
    """Empty every table and restart the ids at 1, as ``TRUNCATE … RESTART IDENTITY`` would.

    DELETE, children before parents, and the sequences set back: a few milliseconds on the
    tests' small tables, where TRUNCATE took ~0.1 s (new files for each table and index) at
    the start of each of the ~310 PostgreSQL tests. While the schema has row triggers (DELETE
    fires them, TRUNCATE does not), it is TRUNCATE as before."""
    from sqlmodel import SQLModel

    tables = SQLModel.metadata.sorted_tables
    with db.engine.begin() as c:
        if c.execute(sa.text("SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE NOT tgisinternal)")).scalar():
            names = ", ".join(f'"{t.name}"' for t in tables)
            c.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            return
        for table in reversed(tables):
            c.execute(sa.text(f'DELETE FROM "{table.name}"'))
        c.execute(sa.text("SELECT setval(s.oid, 1, false) FROM pg_class s "
                          "WHERE s.relkind = 'S' AND s.relnamespace = current_schema()::regnamespace"))


_sqlite_template: dict[str, Path] = {}


def make_sqlite_database(tmp_path: Path) -> Database:
    """A migrated SQLite file, copied from a template migrated once per session."""
    if "path" not in _sqlite_template:
        tdir = Path(os.environ.get("PYTEST_SQLITE_TEMPLATE_DIR", "/tmp")) / f"taskhub-tpl-{os.getpid()}"
        tdir.mkdir(parents=True, exist_ok=True)
        tpl = tdir / "template.db"
        if tpl.exists():
            tpl.unlink()
        tdb = Database(f"sqlite:///{tpl}")
        tdb.migrate()
        with tdb.engine.connect() as c:  # fold the WAL into the file before copying it
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        tdb.dispose()
        _sqlite_template["path"] = tpl
    path = tmp_path / "taskhub.db"
    shutil.copy(_sqlite_template["path"], path)
    return Database(f"sqlite:///{path}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each store."""
    if request.param == "sqlite":
        database = make_sqlite_database(tmp_path)
        yield database
        database.dispose()
    else:
        database = get_pg_database()
        truncate_all(database)
        yield database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated, empty database on each store, made once per test module: for data that takes
    long to build and that the module's tests only read (e.g. the hand-computed portfolio built
    once instead of per test). A test that writes must use ``db``. On PostgreSQL it is a second
    per-process database, so a function-scoped ``db`` test run in between (pytest reorders
    module-scoped parameters) cannot empty it."""
    if request.param == "sqlite":
        database = make_sqlite_database(tmp_path_factory.mktemp("shared"))
        yield database
        database.dispose()
    else:
        database = get_pg_database("shared")
        truncate_all(database)
        yield database


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = make_sqlite_database(tmp_path)
    yield database
    database.dispose()


@pytest.fixture
def pg_db() -> Iterator[Database]:
    database = get_pg_database()
    truncate_all(database)
    yield database


@contextmanager
def simulated_jira(projects: int = 2, issues_per_project: int = 2, seed: int = 5) -> Iterator[tuple[str, JiraState]]:
    """A small generated Jira Cloud over real HTTP on a free port: its URL and its state, stopped
    after the block."""
    from sandbox.jira import JiraConfig, JiraState, generate, start

    state = JiraState(JiraConfig(worklog_feed_delay_ms=0))
    generate(state, projects=projects, issues_per_project=issues_per_project, seed=seed)
    url, stop = start(state)
    try:
        yield url, state
    finally:
        stop()
        state.close()


@contextmanager
def simulated_trello(boards: int = 2, cards_per_board: int = 2,
                     seed: int = 3) -> Iterator[tuple[str, TrelloState, list[str]]]:
    """A small generated Trello over real HTTP on a free port: its API base (``…/1``), its state
    and its board ids; stopped after the block, the client's shared rate limiter reset."""
    from connectors.trello import set_default_limiter
    from sandbox.trello import TrelloState, generate, start

    state = TrelloState(seed=seed)
    board_ids = generate(state, boards=boards, cards_per_board=cards_per_board, seed=seed)
    url, stop = start(state)
    try:
        yield url + "/1", state, board_ids
    finally:
        stop()
        state.close()
        set_default_limiter(None)
