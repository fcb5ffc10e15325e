"""What every ``taskhub`` command module shares: the Typer app, its command groups and the helpers.

``service.cli.main`` imports the command modules; they import this module, never ``main``.
The groups are all made here, in the order ``taskhub --help`` lists them.

Commands import the service inside their functions, on purpose: ``taskhub --help``, ``taskhub
normalize`` and ``taskhub sandbox`` start in ~0.2 s, where loading SQLAlchemy, the tables and
the app takes ~1.5 s more (tests/test_architecture.py keeps SQLAlchemy out of ``import
service.cli.main``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from sqlmodel import Session

    from service.db import Database
    from service.settings import Settings

__all__ = [
    "announce_database",
    "app",
    "bindable_port",
    "database_is_new",
    "fail",
    "inbox_app",
    "iso",
    "open_db",
    "org_app",
    "org_id",
    "positive_id",
    "progress_printer",
    "rollups_app",
    "sandbox_app",
    "secrets_app",
    "setup_logging",
    "source_app",
    "token_app",
]

app = typer.Typer(add_completion=False, no_args_is_help=True, help="taskhub: one portfolio over Jira and Trello.")
org_app = typer.Typer(no_args_is_help=True, help="Organizations.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
inbox_app = typer.Typer(no_args_is_help=True, help="The webhook inbox.")
rollups_app = typer.Typer(no_args_is_help=True, help="The task and milestone rollups the views read.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Simulated Jira / Trello sites (demo, tests, benchmarks).")
source_app = typer.Typer(no_args_is_help=True, help="Sources.")
secrets_app = typer.Typer(no_args_is_help=True, help="Keys and secrets at rest.")
app.add_typer(org_app, name="org")
app.add_typer(token_app, name="token")
app.add_typer(inbox_app, name="inbox")
app.add_typer(rollups_app, name="rollups")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(source_app, name="source")
app.add_typer(secrets_app, name="secrets")


def fail(message: str, code: int = 2) -> NoReturn:
    """Bad input: one line on standard error and exit ``code`` (2 unless said otherwise)."""
    typer.echo(f"taskhub: {message}", err=True)
    raise typer.Exit(code)


def require_secret_key(settings: Settings) -> None:
    """A missing or malformed ``TASKHUB_SECRET_KEY`` is a one-line error at start (exit 1), not a
    bare 500 on the first request that stores or reads a secret."""
    from service.security.crypto import ConfigError, get_vault

    try:
        get_vault(settings)
    except ConfigError as exc:
        fail(str(exc), code=1)


def bindable_port(host: str, port: int) -> int:
    """The port a server can bind on ``host`` (a free one for 0), else a one-line error, exit 1:
    known before start, since ``serve``'s webhook URLs name it, and said plainly where the
    server's own failure would come later or as a traceback."""
    import socket

    try:
        family = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            sock.bind((host, port))
            return int(sock.getsockname()[1])
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=1)


def setup_logging() -> None:
    from service.logging import configure_logging
    from service.settings import get_settings

    configure_logging(get_settings())


def open_db() -> tuple[Settings, Database]:
    """The settings and the database; the embedded SQLite file is migrated first."""
    from service.db import get_database
    from service.settings import get_settings

    settings = get_settings()
    db = get_database(settings)
    new = db.is_sqlite and database_is_new(db)
    if db.is_sqlite:
        db.migrate()
    announce_database(db, new)
    return settings, db


def _sqlite_file(url: str) -> Path:
    return Path(url.split("sqlite:///", 1)[1]).resolve()


def database_is_new(db: Database) -> bool:
    """True for an SQLite file not made yet (migrating makes it) or a database never migrated."""
    if db.is_sqlite and not _sqlite_file(db.url).exists():
        return True
    return db.current_revision() is None


def database_label(db: Database) -> str:
    """The database's URL as a user can find it again: SQLite's file as an absolute path,
    PostgreSQL's password hidden."""
    import sqlalchemy as sa

    if db.is_sqlite:
        return f"sqlite:///{_sqlite_file(db.url)}"
    return sa.make_url(db.url).render_as_string(hide_password=True)


def announce_database(db: Database, new: bool) -> None:
    """Say on standard error which database a command uses when it was just created or holds no
    organization: run from another folder, the CLI would otherwise make (or read) an empty one
    there, print nothing and exit 0. A database that cannot be read is a one-line error."""
    import sqlalchemy as sa

    from service.tables import Organization, table

    if not new:
        try:
            with db.read() as conn:
                if conn.execute(sa.select(table(Organization).c.id).limit(1)).first() is not None:
                    return
        except sa.exc.ProgrammingError:  # PostgreSQL without the tables
            fail(f"the database {database_label(db)} has no taskhub tables: run 'taskhub migrate'", code=1)
        except sa.exc.OperationalError as exc:
            fail(f"cannot open the database {database_label(db)}: {str(exc.orig).strip().splitlines()[0]}", code=1)
    typer.echo(f"taskhub: using {database_label(db)}: {'new' if new else 'empty'} database", err=True)


def org_id(s: Session, org: str) -> int:
    """The id of the organization named (or numbered) ``org``, else a one-line error."""
    from sqlmodel import select

    from service.tables import Organization, stored_id

    row = s.get(Organization, int(org)) if org.isdigit() else s.exec(
        select(Organization).where(Organization.name == org)).first()
    if row is None:
        fail(f"no organization {org!r} (see 'taskhub org list')")
    return stored_id(row)


def positive_id(raw: str, what: str) -> int:
    """A positive id from the command line, else a one-line error (typer's own is a box)."""
    from service.ids import is_id

    if not (raw.isascii() and raw.isdigit() and len(raw) < 30 and is_id(int(raw))):
        fail(f"{what} must be a positive whole number, not {raw[:40]!r}")
    return int(raw)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def progress_printer(tty: bool) -> tuple[Progress | None, Callable[[str, int, int | None], None]]:
    """A rich progress bar on a terminal, plain log lines otherwise."""
    if tty:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       transient=False)
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        return bar, update
    last: dict[str, int] = {}

    def log_line(phase: str, done: int, total: int | None) -> None:
        if done - last.get(phase, -10**9) >= 500 or (total is not None and done >= total):
            last[phase] = done
            typer.echo(f"sync {phase}: {done}" + (f"/{total}" if total else ""), err=True)

    return None, log_line
