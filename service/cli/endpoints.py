"""``taskhub endpoint``: webhook endpoints from the command line (issue 22), as the API's
``/api/v1/webhook-endpoints`` does, with the same functions (``service.events.endpoints``).
The operator's view: every organization's endpoints, an endpoint named by its id alone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import app, fail, iso, open_db, org_id, positive_id

if TYPE_CHECKING:
    from sqlmodel import Session

    from service.tables import WebhookEndpoint

endpoint_app = typer.Typer(no_args_is_help=True, help="Webhook endpoints: where signed events go.")
app.add_typer(endpoint_app, name="endpoint")


def _row(ep: WebhookEndpoint) -> dict[str, object]:
    return {"id": ep.id, "org_id": ep.org_id, "url": ep.url, "event_types": ep.event_types,
            "description": ep.description, "enabled": ep.enabled, "health": ep.health,
            "health_reason": ep.health_reason, "last_success_at": iso(ep.last_success_at)}


def _org_of(s: Session, raw: str) -> int:
    """The organization of endpoint ``raw`` (the CLI names an endpoint by its id alone)."""
    from service.tables import WebhookEndpoint

    ep = s.get(WebhookEndpoint, positive_id(raw, "the endpoint id"))
    if ep is None:
        fail(f"no webhook endpoint {raw} (see 'taskhub endpoint list')")
    return ep.org_id


@endpoint_app.command("list")
def endpoint_list(org: Annotated[str | None, typer.Option(help="Only this organization (name or id).")] = None) -> None:
    """One JSON line per endpoint with its health; secrets are never shown."""
    from sqlmodel import col, select

    from service.tables import WebhookEndpoint

    _, db = open_db()
    with db.session() as s:
        q = select(WebhookEndpoint).order_by(col(WebhookEndpoint.id))
        if org is not None:
            q = q.where(WebhookEndpoint.org_id == org_id(s, org))
        for ep in s.exec(q):
            typer.echo(json.dumps(_row(ep)))


@endpoint_app.command("add")
def endpoint_add(
    org: Annotated[str, typer.Option(help="Organization (name or id).")],
    url: Annotated[str, typer.Option(help="Where events are POSTed (https; the outbound guard applies).")],
    events: Annotated[str, typer.Option(help='Comma-separated: "task.created", "milestone.*", "*".')],
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
) -> None:
    """Subscribe a URL; prints the endpoint with its signing secret, this once."""
    from service import errors
    from service.events import endpoints as svc

    settings, db = open_db()
    with db.session() as s:
        try:
            ep, secret = svc.create_endpoint(s, settings, org_id(s, org), url=url, description=description,
                                             event_types=[e.strip() for e in events.split(",") if e.strip()])
        except errors.DomainError as exc:
            fail(exc.message)
        typer.echo(json.dumps({**_row(ep), "secret": secret}))


@endpoint_app.command("remove")
def endpoint_remove(endpoint: Annotated[str, typer.Argument(help="Endpoint id.")]) -> None:
    """Unsubscribe: the endpoint and its delivery log go."""
    from service.events import endpoints as svc

    _, db = open_db()
    with db.session() as s:
        svc.delete_endpoint(s, _org_of(s, endpoint), int(endpoint))
    typer.echo(json.dumps({"removed": int(endpoint)}))


@endpoint_app.command("rotate")
def endpoint_rotate(
    endpoint: Annotated[str, typer.Argument(help="Endpoint id.")],
    overlap: Annotated[float, typer.Option(help="Hours the replaced secret also signs (0: none).")] = 24,
    force: Annotated[bool, typer.Option(help="Rotate although the previous overlap still runs (ends it).")] = False,
) -> None:
    """A new signing secret, printed once; both sign each delivery during the overlap."""
    from service import errors
    from service.events import endpoints as svc

    if not 0 <= overlap <= svc.MAX_OVERLAP_HOURS:
        fail(f"--overlap must be between 0 and {svc.MAX_OVERLAP_HOURS} hours, not {overlap:g}")
    settings, db = open_db()
    with db.session() as s:
        try:
            ep, secret = svc.rotate_secret(s, settings, _org_of(s, endpoint), int(endpoint),
                                           overlap=timedelta(hours=overlap), force=force)
        except errors.DomainError as exc:
            fail(exc.message)
        typer.echo(json.dumps({"id": ep.id, "secret": secret,
                               "previous_secret_signs_until": iso(ep.secret_prev_until if overlap else None)}))


@endpoint_app.command("test")
def endpoint_test(endpoint: Annotated[str, typer.Argument(help="Endpoint id.")]) -> None:
    """Queue a webhook.test event for the endpoint; the worker sends it (see 'deliveries')."""
    from service import errors
    from service.events import endpoints as svc

    _, db = open_db()
    with db.session() as s:
        try:
            event_id = svc.send_test(s, _org_of(s, endpoint), int(endpoint))
        except errors.DomainError as exc:
            fail(exc.message)
    typer.echo(json.dumps({"event_id": event_id, "type": "webhook.test"}))


@endpoint_app.command("deliveries")
def endpoint_deliveries(
    endpoint: Annotated[str, typer.Argument(help="Endpoint id.")],
    status: Annotated[str | None, typer.Option(help="pending, processing, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 50,
) -> None:
    """The delivery log, newest first, one JSON line each."""
    from service.events import endpoints as svc

    if status is not None and status not in ("pending", "processing", "delivered", "failed"):
        fail(f"--status must be pending, processing, delivered or failed, not {status!r}")
    _, db = open_db()
    with db.session() as s:
        rows = svc.list_deliveries(s, _org_of(s, endpoint), int(endpoint), status=status, limit=limit)
    for r in rows:
        typer.echo(json.dumps({"id": r.id, "event_id": r.event_id, "webhook_id": r.msg_id, "type": r.type,
                               "status": r.status, "attempts": r.attempts, "response_code": r.response_code,
                               "latency_ms": r.latency_ms, "error": r.error, "created_at": iso(r.created_at),
                               "delivered_at": iso(r.delivered_at), "requested": r.requested}))


def _instant(raw: str | None, option: str) -> datetime | None:
    """An ISO 8601 instant with its offset (``2026-12-01T00:00:00Z``), else a one-line error."""
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        fail(f"{option} must be an ISO 8601 date-time such as 2026-12-01T00:00:00Z, not {raw!r}")
    if at.tzinfo is None:
        fail(f"{option} needs a time zone offset (e.g. Z or +01:00): {raw!r} could be any instant")
    return at


@endpoint_app.command("redeliver")
def endpoint_redeliver(
    endpoint: Annotated[str, typer.Argument(help="Endpoint id.")],
    event: Annotated[int | None, typer.Option(min=1, help="One event's id (see 'deliveries').")] = None,
    since: Annotated[str | None, typer.Option("--from", help="Events recorded from this instant...")] = None,
    until: Annotated[str | None, typer.Option("--to", help="...until this one (exclusive; default now).")] = None,
) -> None:
    """Send again one event, or the events of a time range within the last 30 days, with the
    same webhook-id and a fresh retry schedule (as POST …/redeliver does)."""
    from service import errors
    from service.events import endpoints as svc

    start, end = _instant(since, "--from"), _instant(until, "--to")
    _, db = open_db()
    with db.session() as s:
        try:
            queued = svc.redeliver(s, _org_of(s, endpoint), int(endpoint), event_id=event, since=start, until=end)
        except errors.DomainError as exc:
            fail(exc.message)
    typer.echo(json.dumps({"queued": queued}))
