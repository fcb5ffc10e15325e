"""``taskhub apply FILE.yaml``: sources, budgets, planned dates, rates, portfolios and identity
links from a file (see ``service.portfolio.apply`` for the format). The sources come first,
each verified with its tool and stored on its own (``service.portfolio.apply_sources``: no
transaction is open while a tool is called); the rest is all or nothing, one transaction. A
bad file prints one line naming the problem and exits 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import yaml

from service.cli.common import app, fail, open_db

__all__ = ["apply"]


def _fail(message: str) -> NoReturn:
    fail(message)  # prints one line and exits 2
    raise typer.Exit(2)


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="The YAML (or JSON) file.")],
    org: Annotated[str | None, typer.Option(help="Organization id or name (default: organization.name).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=(
        "Validate (and verify new or changed sources with their tools) and store nothing."))] = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help=(
        "Verify new or changed sources with their tools first, as the API does (?verify=false: a site "
        "not reachable yet). The outbound guard applies either way."))] = True,
) -> None:
    """Apply sources and portfolio settings from a file a PM keeps in version control."""
    from sqlmodel import select

    from service.portfolio import ApplyError, apply_document, parse_document
    from service.portfolio.apply_sources import SourceApplyError, apply_sources
    from service.portfolio.projects import row_id
    from service.tables import Organization

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        _fail(f"{file}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}")
    except ValueError as exc:  # YAML's own scalars: 'baseline: 2026-99-01' is a timestamp out of range
        _fail(f"{file}: a value YAML cannot read: {exc}")
    try:
        doc = parse_document(data)
    except ApplyError as exc:
        _fail(f"{file}: {exc}")
    name = org or (doc.organization.name if doc.organization else None)
    if not name:
        _fail(f"{file}: name the organization with --org or organization.name")
    settings, db = open_db()
    with db.session() as s:
        row = (
            s.get(Organization, int(name))
            if name.isdigit()
            else s.exec(select(Organization).where(Organization.name == name)).first()
        )
        if row is None:
            _fail(f"no organization {name!r} (see 'taskhub org list')")
        org_id = row_id(row.id)
    if doc.sources and not dry_run and (warning := settings.webhook_base_warning):
        # This process registers the webhooks: their URL is this command's settings, not the
        # port some `taskhub serve` was given, so a loopback base is said here too.
        typer.echo(f"taskhub: {warning} (this command registers the sources' webhooks: give it the "
                   "TASKHUB_PUBLIC_BASE_URL taskhub serve uses)", err=True)
    try:
        sources = apply_sources(db, settings, org_id, doc.sources, verify=verify, dry_run=dry_run)
    except SourceApplyError as exc:
        done = f"the {exc.applied} sources before it were applied, nothing else was" if exc.applied else (
            "nothing was applied")
        _fail(f"{file}: {exc}; {done}")
    with db.session() as s:
        try:
            summary = apply_document(s, org_id, doc)
        except ApplyError as exc:
            s.rollback()
            done = "the sources were applied, nothing else was" if doc.sources and not dry_run else (
                "nothing was applied")
            _fail(f"{file}: {exc}; {done}")
        if dry_run:
            s.rollback()
        else:
            s.commit()
    typer.echo(json.dumps({"applied": not dry_run, **summary, "sources": sources}))
