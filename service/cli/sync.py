"""``taskhub sync`` and ``taskhub source``: run a sync by hand, list sources."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

from service.cli.main import _db, _setup_logging, app, fail


def _progress_printer(tty: bool) -> tuple[Progress | None, Callable[[str, int, int | None], None]]:
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

    _setup_logging()
    settings, db = _db()
    from service.tables import Source

    with db.session() as s:
        if s.get(Source, source) is None:
            fail(f"no source {source} (see 'taskhub source list')")
    mode = "census" if census else "full" if full else ("incremental" if all_cursors(db, source) else "backfill")
    bar, progress = _progress_printer(sys.stderr.isatty())
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


source_app = typer.Typer(no_args_is_help=True, help="Sources.")
app.add_typer(source_app, name="source")


@source_app.command("list")
def source_list() -> None:
    """List sources with their status (credentials are never shown)."""
    from sqlmodel import col, select

    from service.tables import Source

    _, db = _db()
    with db.session() as s:
        for src in s.exec(select(Source).order_by(col(Source.id))):
            typer.echo(json.dumps({"id": src.id, "org_id": src.org_id, "kind": src.kind, "name": src.name,
                                   "base_url": src.base_url, "status": src.status, "enabled": src.enabled}))


@app.command()
def remap(source: Annotated[int, typer.Argument(help="Source id.")]) -> None:
    """Re-apply the current mapping profile to the stored raw JSON of a source (no API calls)."""
    from service.sync.remap import remap_source

    _, db = _db()
    try:
        result = remap_source(db, source)
    except LookupError as exc:
        fail(str(exc))
    typer.echo(json.dumps({"source": source, **result}))
