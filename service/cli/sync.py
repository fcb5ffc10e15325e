"""``taskhub sync``, ``taskhub remap`` and ``taskhub source``: run a sync by hand, list sources,
rotate a Jira source's webhook secret (printed once, like a new token)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from typing import Annotated, Any

import typer

from service.cli.common import app, fail, iso, open_db, positive_id, progress_printer, setup_logging, source_app


@app.command()
def sync(
    source: Annotated[int, typer.Argument(help="Source id (see 'taskhub source list').")],
    full: Annotated[bool, typer.Option("--full", help="Backfill from scratch instead of incremental.")] = False,
    census: Annotated[bool, typer.Option("--census", help="Only look for deleted / out-of-scope items.")] = False,
) -> None:
    """Sync one source now (under its lease), with a progress bar on a terminal."""
    from connectors.errors import ConnectorError
    from service.sync.runner import SyncBusy, run_sync
    from service.sync.state import all_cursors

    setup_logging()
    settings, db = open_db()
    from service.tables import Source

    with db.session() as s:
        if s.get(Source, source) is None:
            fail(f"no source {source} (see 'taskhub source list')")
    mode = "census" if census else "full" if full else ("incremental" if all_cursors(db, source) else "backfill")
    bar, progress = progress_printer(sys.stderr.isatty())
    try:
        if bar is not None:
            with bar:
                run = run_sync(db, settings, source, mode=mode, progress=progress)
        else:
            run = run_sync(db, settings, source, mode=mode, progress=progress)
    except SyncBusy as exc:
        fail(str(exc), code=1)
    except ConnectorError as exc:
        fail(f"sync failed: {exc.__class__.__name__}: {exc}", code=1)
    typer.echo(json.dumps({"source": source, "mode": mode, "api_calls": run.api_calls, "items_seen": run.items_seen,
                           "items_changed": run.items_changed}))


@source_app.command("list")
def source_list() -> None:
    """List sources with their health (ok, failing, degraded) and its reason; credentials are never shown."""
    from sqlmodel import col, select

    from service.tables import Source

    _, db = open_db()
    with db.session() as s:
        for src in s.exec(select(Source).order_by(col(Source.id))):
            typer.echo(json.dumps({"id": src.id, "org_id": src.org_id, "kind": src.kind, "name": src.name,
                                   "base_url": src.base_url, "status": src.status,
                                   "status_reason": src.status_reason, "enabled": src.enabled}))


@source_app.command("rotate-secret")
def source_rotate_secret(
    source: Annotated[str, typer.Argument(help="Source id (a Jira source).")],
    overlap: Annotated[float, typer.Option(help="Hours the old secret is still accepted (0: none).")] = 24,
    force: Annotated[bool, typer.Option(help="Rotate although the previous overlap still runs (ends it).")] = False,
) -> None:
    """A new webhook secret for a Jira source, printed once; the old one works for the overlap."""
    from service import errors
    from service.security.rotation import MAX_OVERLAP_HOURS, rotate_webhook_secret

    source_id = positive_id(source, "the source id")
    if not 0 <= overlap <= MAX_OVERLAP_HOURS:
        fail(f"--overlap must be between 0 and {MAX_OVERLAP_HOURS} hours, not {overlap:g}")
    settings, db = open_db()
    with db.session() as s:
        try:
            rotated = rotate_webhook_secret(s, settings, source_id, org_id=None, overlap=timedelta(hours=overlap),
                                            force=force)
        except errors.DomainError as exc:
            fail(exc.message)
    _follow_new_secret(db, settings, source_id)
    typer.echo(json.dumps({"source_id": rotated.source_id, "webhook_secret": rotated.secret,
                           "previous_accepted_until": iso(rotated.previous_until)}))


def _follow_new_secret(db: Any, settings: Any, source_id: int) -> None:
    """A Jira webhook taskhub registered is registered again with the new secret (else Jira signs
    with the old one, refused once the overlap ends) — when this command builds the same webhook
    URL as the one registered; else it says so rather than register another URL."""
    from service import errors
    from service import webhook_registration as wh
    from service.sources import webhook_url
    from service.tables import Source

    with db.session() as s:
        src = s.get(Source, source_id)
        rows = wh.registrations(s, source_id) if src is not None else []
        here = webhook_url(settings, src) if src is not None else None
    if not rows:
        return
    if all(r.callback_url == here for r in rows):
        try:
            wh.scope_changed(db, settings, source_id)
        except errors.Conflict as exc:
            typer.echo(f"taskhub: {exc.message}", err=True)
        return
    typer.echo(f"taskhub: the Jira webhook taskhub registered for {rows[0].callback_url} still signs with the "
               "previous secret: run this with the TASKHUB_PUBLIC_BASE_URL taskhub serve uses, or rotate "
               "through the API or the Sources page", err=True)


@app.command()
def remap(source: Annotated[int, typer.Argument(help="Source id.")]) -> None:
    """Re-apply the current mapping profile to the stored raw JSON of a source (no API calls)."""
    from service.sync.remap import remap_source

    _, db = open_db()
    try:
        result = remap_source(db, source)
    except LookupError as exc:
        fail(str(exc))
    typer.echo(json.dumps({"source": source, **result}))
