"""``taskhub risk``: the risk register from the command line (issue 23), as the API's
``/api/v1/projects/{id}/risks`` and ``/api/v1/risks`` do, with the same functions and input models
(``service.portfolio.risks``). The operator's view: a risk is named by its id alone, a new one by
its project's id; changes are recorded as made by ``taskhub cli``. Bad input: one line, exit 2."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from service.cli.common import app, fail, open_db, org_id, positive_id

if TYPE_CHECKING:
    from sqlmodel import Session

    from service.portfolio.risks import RiskPublic

risk_app = typer.Typer(no_args_is_help=True, help="The risk register: risks a PM keeps per project.")
app.add_typer(risk_app, name="risk")

ACTOR = "taskhub cli"
_OPTION = {"owner_name": "--owner", "owner_person_id": "--owner-person"}
_CLEARABLE = ("description", "mitigation", "review_date", "owner_name", "owner_person_id")

Title = Annotated[str | None, typer.Option(help="What could go wrong (1-300 characters).")]
Description = Annotated[str | None, typer.Option(help="More about it ('' clears it on update).")]
OwnerPerson = Annotated[str | None, typer.Option("--owner-person", help="The owner: a person id of the organization.")]
OwnerName = Annotated[str | None, typer.Option("--owner", help="The owner's name, when no synced person is.")]
Probability = Annotated[int | None, typer.Option(help="1 (rare) to 5 (almost certain).")]
Impact = Annotated[int | None, typer.Option(help="1 (negligible) to 5 (severe).")]
Mitigation = Annotated[str | None, typer.Option(help="What is being done about it ('' clears it on update).")]
Status = Annotated[str | None, typer.Option(help="open, mitigating, accepted or closed.")]
ReviewDate = Annotated[str | None, typer.Option(help="Next review, YYYY-MM-DD ('' clears it on update).")]


def _line(r: RiskPublic) -> str:
    return r.model_dump_json()


def _body(**given: Any) -> dict[str, Any]:
    """The options given, as the API's body: ``''`` is null (cleared) where a field may be."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if value == "" and name in _CLEARABLE:
            out[name] = None
        elif name == "owner_person_id":
            out[name] = positive_id(value, "--owner-person")
        else:
            out[name] = value
    return out


def _validated(model: Any, body: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    from service.portfolio.apply_sources import validation_message

    try:
        return model.model_validate(body)
    except ValidationError as exc:
        where, _, message = validation_message(exc).partition(": ")
        fail(f"{_OPTION.get(where, '--' + where.replace('_', '-'))}: {message}")


def _org_of_risk(s: Session, raw: str) -> int:
    from service.tables import RiskItem

    item = s.get(RiskItem, positive_id(raw, "the risk id"))
    if item is None:
        fail(f"no risk {raw} (see 'taskhub risk list')")
    return item.org_id


@risk_app.command("list")
def risk_list(
    org: Annotated[str, typer.Option(help="Organization (name or id).")],
    project: Annotated[str | None, typer.Option(help="Only this project (id).")] = None,
    portfolio: Annotated[str | None, typer.Option(help="Only this portfolio's projects (id).")] = None,
    status: Status = None,
    csv: Annotated[bool, typer.Option("--csv", help="CSV (the API's format=csv) instead of JSON lines.")] = False,
) -> None:
    """One JSON line per risk, highest score first, closed ones last."""
    from service import errors
    from service.portfolio import risks as svc

    if status is not None and status not in svc.STATUSES:
        fail(f"--status must be {', '.join(svc.STATUSES[:-1])} or {svc.STATUSES[-1]}, not {status!r}")
    _, db = open_db()
    with db.session() as s:
        try:
            rows = svc.list_risks(s, org_id(s, org), status=status,
                                  project=positive_id(project, "--project") if project is not None else None,
                                  portfolio=positive_id(portfolio, "--portfolio") if portfolio is not None else None)
        except errors.DomainError as exc:
            fail(exc.message)
    if csv:
        typer.echo(svc.risks_csv(rows), nl=False)
        return
    for r in rows:
        typer.echo(_line(r))


@risk_app.command("add")
def risk_add(
    project: Annotated[str, typer.Option(help="The project (id).")],
    title: Title = None,
    probability: Probability = None,
    impact: Impact = None,
    description: Description = None,
    owner_person: OwnerPerson = None,
    owner: OwnerName = None,
    mitigation: Mitigation = None,
    status: Status = None,
    review_date: ReviewDate = None,
) -> None:
    """Add a risk to a project's register; prints it as a JSON line."""
    from service import errors
    from service.portfolio import risks as svc
    from service.tables import Project

    body = _validated(svc.RiskCreate, _body(title=title, probability=probability, impact=impact,
                                            description=description, owner_person_id=owner_person,
                                            owner_name=owner, mitigation=mitigation, status=status,
                                            review_date=review_date))
    _, db = open_db()
    with db.session() as s:
        pid = positive_id(project, "--project")
        row = s.get(Project, pid)
        if row is None:
            fail(f"no project {project} (see 'taskhub' API GET /api/v1/projects)")
        try:
            out = svc.create_risk(s, row.org_id, pid, body, ACTOR)
            s.commit()
        except errors.DomainError as exc:
            fail(exc.message)
    typer.echo(_line(out))


@risk_app.command("update")
def risk_update(
    risk: Annotated[str, typer.Argument(help="Risk id.")],
    title: Title = None,
    probability: Probability = None,
    impact: Impact = None,
    description: Description = None,
    owner_person: OwnerPerson = None,
    owner: OwnerName = None,
    mitigation: Mitigation = None,
    status: Status = None,
    review_date: ReviewDate = None,
) -> None:
    """Change the options given (an option left out is unchanged); prints the risk."""
    from service import errors
    from service.portfolio import risks as svc

    given = _body(title=title, probability=probability, impact=impact, description=description,
                  owner_person_id=owner_person, owner_name=owner, mitigation=mitigation, status=status,
                  review_date=review_date)
    if not given:
        fail("nothing to change: give at least one option (see 'taskhub risk update --help')")
    body = _validated(svc.RiskUpdate, given)
    _, db = open_db()
    with db.session() as s:
        try:
            out = svc.update_risk(s, _org_of_risk(s, risk), int(risk), body, ACTOR)
            s.commit()
        except errors.DomainError as exc:
            fail(exc.message)
    typer.echo(_line(out))


@risk_app.command("remove")
def risk_remove(risk: Annotated[str, typer.Argument(help="Risk id.")]) -> None:
    """Delete a risk from its register."""
    from service.portfolio import risks as svc

    _, db = open_db()
    with db.session() as s:
        svc.delete_risk(s, _org_of_risk(s, risk), int(risk))
        s.commit()
    typer.echo(json.dumps({"removed": int(risk)}))
