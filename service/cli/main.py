"""The ``taskhub`` command line. Bad input: a one-line message and exit code 2.

Here: ``serve``, ``worker``, ``migrate``, ``normalize`` and the ``org``, ``token create``, ``inbox``
and ``rollups`` commands; the others in the sibling modules imported at the end. The app, its
groups and the shared helpers are in ``service.cli.common``, which says why the commands import
the service inside themselves.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import (
    announce_database,
    app,
    bindable_port,
    database_is_new,
    fail,
    inbox_app,
    open_db,
    org_app,
    org_id,
    require_secret_key,
    rollups_app,
    setup_logging,
    token_app,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from service.settings import Settings

__all__ = ["app", "main"]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (0: any free port).")] = None,
    workers: Annotated[int, typer.Option(help="Uvicorn worker processes (PostgreSQL only).")] = 1,
) -> None:
    """Run the API (and, on SQLite, the worker in-process)."""
    import uvicorn

    from service.settings import get_settings

    setup_logging()
    settings = get_settings()
    if workers > 1 and settings.is_sqlite:
        fail("--workers > 1 needs PostgreSQL (TASKHUB_DATABASE_URL); SQLite runs one process")
    host = settings.host if host is None else host
    port = bindable_port(host, settings.port if port is None else port)
    settings = _settings_binding(host, port)
    require_secret_key(settings)
    if warning := settings.webhook_base_warning:
        logging.getLogger("taskhub").warning("webhook_url.unreachable: %s", warning)
        typer.echo(f"taskhub: {warning}", err=True)
    uvicorn.run("service.asgi:app", host=host, port=port, workers=workers,
                log_level=settings.log_level.lower(), access_log=False, factory=False)


def _settings_binding(host: str, port: int) -> Settings:
    """The settings with what ``serve`` binds, for the app it starts: through the environment,
    which uvicorn's worker processes inherit, so every process builds the same webhook URLs."""
    import os

    from service.settings import get_settings

    os.environ["TASKHUB_HOST"], os.environ["TASKHUB_PORT"] = host, str(port)
    get_settings.cache_clear()
    return get_settings()


@app.command()
def worker() -> None:
    """Drain the inbox and poll sources until interrupted (scale out: run several on PostgreSQL)."""
    from service.worker import Worker

    setup_logging()
    settings, db = open_db()
    require_secret_key(settings)
    w = Worker(db, settings)
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    try:
        w.run()
    except KeyboardInterrupt:
        w.stop()


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest revision."""
    from service.db import get_database
    from service.settings import get_settings

    db = get_database(get_settings())
    new = database_is_new(db)
    db.migrate()
    announce_database(db, new)
    typer.echo(f"database at revision {db.current_revision()}")


@org_app.command("create")
def org_create(name: str, timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "UTC",
               currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "USD") -> None:
    """Create an organization."""
    from sqlalchemy.exc import IntegrityError

    from service.security.auth import create_org

    _, db = open_db()
    if len(currency) != 3 or not currency.isalpha():
        fail(f"currency must be a 3-letter ISO code, not {currency!r}")
    with db.session() as s:
        try:
            org = create_org(s, name, timezone=timezone, currency=currency)
        except IntegrityError:
            fail(f"an organization named {name!r} already exists")
        except Exception as exc:  # ZoneInfoNotFoundError and friends
            fail(f"unknown time zone {timezone!r} ({exc.__class__.__name__})")
    typer.echo(json.dumps({"id": org.id, "name": org.name, "timezone": org.timezone}))


@org_app.command("list")
def org_list() -> None:
    from sqlmodel import col, select

    from service.tables import Organization

    _, db = open_db()
    with db.session() as s:
        for o in s.exec(select(Organization).order_by(col(Organization.id))):
            typer.echo(json.dumps({"id": o.id, "name": o.name, "timezone": o.timezone}))


@token_app.command("create")
def token_create(
    org: Annotated[str, typer.Option(help="Organization id or name.")],
    scope: Annotated[str, typer.Option(help="read | write | admin")] = "read",
    name: Annotated[str, typer.Option(help="A label for the token.")] = "",
    expires_in: Annotated[int | None, typer.Option(help="Days until it expires (default: never).")] = None,
) -> None:
    """Create an API token; it is printed once and stored hashed."""
    from service.security.auth import MAX_EXPIRY_DAYS, SCOPES, create_token

    if scope not in SCOPES:
        fail(f"--scope must be one of {', '.join(SCOPES)}, not {scope!r}")
    if expires_in is not None and not 1 <= expires_in <= MAX_EXPIRY_DAYS:
        fail(f"--expires-in must be between 1 and {MAX_EXPIRY_DAYS} days, not {expires_in}")
    _, db = open_db()
    with db.session() as s:
        token, row = create_token(s, org_id(s, org), scope, name, expires_in_days=expires_in)
    typer.echo(json.dumps({"id": row.id, "org_id": row.org_id, "scope": row.scope, "token": token,
                           "expires_at": row.expires_at.isoformat() if row.expires_at else None}))


@inbox_app.command("list")
def inbox_list(status: Annotated[str | None, typer.Option(help="Filter by status.")] = None,
               source: Annotated[int | None, typer.Option(help="Filter by source id.")] = None,
               limit: int = 50) -> None:
    """List inbox events, newest first."""
    import sqlalchemy as sa

    from service.tables import InboxEvent, table

    valid = ("pending", "processing", "done", "ignored", "failed", "parked")
    if status and status not in valid:
        fail(f"--status must be one of {', '.join(valid)}")
    _, db = open_db()
    IE = table(InboxEvent)
    q = sa.select(IE.c.id, IE.c.source_id, IE.c.kind, IE.c.status, IE.c.attempts, IE.c.reason, IE.c.error,
                  IE.c.received_at)
    if status:
        q = q.where(IE.c.status == status)
    if source is not None:
        q = q.where(IE.c.source_id == source)
    with db.read() as c:
        for r in c.execute(q.order_by(IE.c.id.desc()).limit(limit)):
            typer.echo(json.dumps({**r._asdict(), "received_at": r.received_at.isoformat()}))


@inbox_app.command("retry")
def inbox_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Event ids; none = every parked event.")] = None,
) -> None:
    """Requeue parked (or the given failed) events."""
    from service.ingest.inbox import retry_events

    _, db = open_db()
    n = retry_events(db, None, ids, statuses=("parked", "failed") if ids else ("parked",))
    if ids and n == 0:
        fail("none of those events is parked or failed")
    typer.echo(json.dumps({"requeued": n}))


def _rollup_orgs(s: Session, org: str | None) -> list[int]:
    from sqlmodel import col, select

    from service.tables import Organization, stored_id

    if org is not None:
        return [org_id(s, org)]
    return [stored_id(o) for o in s.exec(select(Organization).order_by(col(Organization.id)))]


@rollups_app.command("check")
def rollups_check(org: Annotated[str | None, typer.Option(help="Organization id or name (default: all).")] = None
                  ) -> None:
    """Compare the kept rollups (of tasks, milestones, open tasks per assignee and worklogs, and
    the worklogs' copies of their tasks' id, project and tombstone, their local days and their
    authors' rates) with a recomputation from the task, assignee, worklog, rate and organization
    rows (changes nothing); exit 1 if any organization differs."""
    from service.store import rollups

    _, db = open_db()
    with db.session() as s:
        orgs = _rollup_orgs(s, org)
    bad = 0
    for oid in orgs:
        with db.write() as conn:
            diff = rollups.check(conn, oid)
        ok = not any(diff.values())
        bad += not ok
        typer.echo(json.dumps({"org_id": oid, "consistent": ok, "rows_differing": diff}))
    if bad:
        raise typer.Exit(1)


@rollups_app.command("rebuild")
def rollups_rebuild(org: Annotated[str | None, typer.Option(help="Organization id or name (default: all).")] = None
                    ) -> None:
    """Recompute the rollups (of tasks, milestones, open tasks per assignee and worklogs, and the
    worklogs' task columns, local days and author rates) from the task, assignee, worklog, rate
    and organization rows — after writes that bypassed taskhub or a change of the time zone rules."""
    from service.store import rollups

    _, db = open_db()
    with db.session() as s:
        orgs = _rollup_orgs(s, org)
    with db.write() as conn:
        for oid in orgs:
            rollups.rebuild(conn, oid)
    typer.echo(json.dumps({"rebuilt": orgs}))


@app.command()
def normalize(
    kind: Annotated[str, typer.Argument(help="jira | trello")],
    path: Annotated[str, typer.Argument(help="A JSON file, or - for standard input.")],
    site_url: Annotated[str, typer.Option(help="Jira site URL used for task links.")] = "https://example.atlassian.net",
    profile: Annotated[Path | None, typer.Option(help="Mapping profile YAML/JSON merged over the default.")] = None,
    timezone: Annotated[str | None, typer.Option(help="Organization time zone for dates.")] = None,
) -> None:
    """Print the effects a webhook payload or REST response has, one JSON object per line."""
    from service.cli.normalize import normalize_document

    if kind not in ("jira", "trello"):
        fail(f"kind must be jira or trello, not {kind!r}")
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    try:
        lines = normalize_document(kind, text, site_url=site_url, profile_path=profile, timezone=timezone)
    except ValueError as exc:
        fail(f"{path}: {exc}")
    for line in lines:
        typer.echo(line)


def main() -> None:  # pragma: no cover
    logging.basicConfig(level=logging.INFO)
    app()


# The other commands live in their own modules (importing service.cli.common, never this module)
# and register on ``app`` when imported: after the ones above, which ``taskhub --help`` lists first.
from service.cli import apply, demo, endpoints, report, risks, sandbox, security, sync  # noqa: E402, F401
