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
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID
    from sqlmodel import Session

    from service.db import Database
    from service.settings import Settings

__all__ = [
    "app",
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
    if db.is_sqlite:
        db.migrate()
    return settings, db


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
