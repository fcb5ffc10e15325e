"""``taskhub report``: a weekly status report from the command line (issue 23), as
``GET /api/v1/reports?…&week=…`` does, with the same functions (``service.reports``): the week's
stored report, or a new draft of it; ``--publish`` publishes it (report.ready is sent, as by
``POST …/publish``), recorded as by ``taskhub cli``; ``--commentary`` sets a draft's commentary
first. The operator's view: a portfolio or project is named by its id alone. Bad input: one line,
exit 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import app, fail, open_db, positive_id

ACTOR = "taskhub cli"


@app.command("report")
def report(
    week: Annotated[str, typer.Option(help="An ISO week (2026-W11) or any day of it (2026-03-11), in the "
                                           "organization's time zone; not after the current week.")],
    portfolio: Annotated[str | None, typer.Option(help="A portfolio id.")] = None,
    project: Annotated[str | None, typer.Option(help="A project id.")] = None,
    format: Annotated[str, typer.Option(help="json, html or pdf.")] = "json",  # noqa: A002 - the option's name
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: standard output).")] = None,
    commentary: Annotated[str | None, typer.Option(help="Set the draft's commentary first.")] = None,
    publish: Annotated[bool, typer.Option("--publish", help="Publish the report (a published one never "
                                                            "changes; report.ready is sent).")] = False,
    regenerate: Annotated[bool, typer.Option("--regenerate", help="Compute a stored draft again.")] = False,
) -> None:
    """The week's status report of a portfolio or a project: the stored one, or a new draft."""
    import sqlalchemy as sa

    from service import errors
    from service.dashboard.report_render import RENDERER
    from service.reports import snapshots
    from service.reports.data import Scope
    from service.reports.weeks import parse_week
    from service.tables import Portfolio, Project, table

    if (portfolio is None) == (project is None):
        fail("give exactly one of --portfolio or --project")
    if format not in ("json", "html", "pdf"):
        fail(f"--format must be json, html or pdf, not {format[:40]!r}")
    scope: Scope = "portfolio" if portfolio is not None else "project"
    raw = portfolio if portfolio is not None else project
    assert raw is not None
    scope_id = positive_id(raw, f"--{scope}")
    try:
        wk = parse_week(week, field="--week")
    except errors.Invalid as exc:
        fail(exc.message)
    _, db = open_db()
    model = table(Portfolio) if scope == "portfolio" else table(Project)
    with db.read() as conn:
        org = conn.execute(sa.select(model.c.org_id).where(model.c.id == scope_id)).scalar()
    if org is None:
        fail(f"no {scope} {scope_id}")
    try:
        if regenerate:
            rep = snapshots.generate(db, org, scope, scope_id, wk, renderer=RENDERER)[0]
        else:
            rep = snapshots.get_or_generate(db, org, scope, scope_id, wk, renderer=RENDERER)
        if commentary is not None:
            rep = snapshots.set_commentary(db, org, rep.id, commentary, renderer=RENDERER)
        if publish:
            rep = snapshots.publish(db, org, rep.id, by=ACTOR, renderer=RENDERER)
    except errors.Invalid as exc:
        fail(exc.message.replace("week:", "--week:", 1) if exc.field == "week" else exc.message)
    except errors.DomainError as exc:
        fail(exc.message)
    body: str | bytes = json.dumps(rep.public()) + "\n" if format == "json" else snapshots.rendered(
        rep, "pdf" if format == "pdf" else "html", RENDERER)
    data = body.encode("utf-8") if isinstance(body, str) else body
    if out is not None:
        try:
            out.write_bytes(data)
        except OSError as exc:
            fail(f"cannot write {out}: {exc.strerror or exc}")
        typer.echo(f"taskhub: report {rep.id} ({rep.scope} {rep.scope_id}, {rep.week}, {rep.status}) -> {out}",
                   err=True)
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
