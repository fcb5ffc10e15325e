"""``taskhub apply FILE.yaml``: budgets, planned dates, rates, portfolios and identity links
from a file (see ``service.portfolio.apply`` for the format). All or nothing: one
transaction; a bad file prints one line naming the problem and exits 2.
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
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and roll back.")] = False,
) -> None:
    """Apply portfolio settings from a file a PM keeps in version control."""
    from sqlmodel import select

    from service.portfolio import ApplyError, apply_document, parse_document
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
    _, db = open_db()
    with db.session() as s:
        row = (
            s.get(Organization, int(name))
            if name.isdigit()
            else s.exec(select(Organization).where(Organization.name == name)).first()
        )
        if row is None:
            _fail(f"no organization {name!r} (see 'taskhub org list')")
        try:
            summary = apply_document(s, row_id(row.id), doc)
        except ApplyError as exc:
            s.rollback()
            _fail(f"{file}: {exc}; nothing was applied")
        if dry_run:
            s.rollback()
        else:
            s.commit()
    typer.echo(json.dumps({"applied": not dry_run, **summary}))
