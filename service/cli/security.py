"""``taskhub token list|revoke``, ``taskhub secrets rotate``, ``taskhub source rotate-secret``.

Secrets are never printed except the one just made (a new webhook secret, like a new token).
Bad input (an unknown id, a Trello source, an overlap out of range): a one-line message and
exit code 2; secrets no configured key can decrypt: listed, exit code 1.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated

import typer

from service.cli.main import _db, _org_id, app, fail, token_app
from service.cli.sync import source_app

secrets_app = typer.Typer(no_args_is_help=True, help="Keys and secrets at rest.")
app.add_typer(secrets_app, name="secrets")


def _id(raw: str, what: str) -> int:
    """A positive id from the command line, else a one-line error (typer's own is a box)."""
    from service.ids import is_id

    if not (raw.isascii() and raw.isdigit() and len(raw) < 30 and is_id(int(raw))):
        fail(f"{what} must be a positive whole number, not {raw[:40]!r}")
    return int(raw)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@token_app.command("list")
def token_list(org: Annotated[str, typer.Option(help="Organization id or name.")]) -> None:
    """List an organization's tokens (id, name, prefix, scope, dates); never the tokens."""
    from service.security.auth import list_tokens

    _, db = _db()
    with db.session() as s:
        for t in list_tokens(s, _org_id(s, org)):
            typer.echo(json.dumps({
                "id": t.id, "org_id": t.org_id, "name": t.name, "prefix": t.prefix, "scope": t.scope,
                "created_at": _iso(t.created_at), "last_used_at": _iso(t.last_used_at),
                "expires_at": _iso(t.expires_at), "revoked_at": _iso(t.revoked_at)}))


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="Token id (see 'taskhub token list').")]) -> None:
    """Revoke a token: it and its dashboard sessions stop working at once. Again: no change."""
    from service.security.auth import revoke_token

    _, db = _db()
    with db.session() as s:
        try:
            row = revoke_token(s, _id(token_id, "the token id"), org_id=None)
        except LookupError as exc:
            fail(f"{exc} (see 'taskhub token list --org ...')")
    typer.echo(json.dumps({"id": row.id, "revoked_at": _iso(row.revoked_at)}))


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored credential and webhook secret under the newest key.

    Put the new key first in TASKHUB_SECRET_KEY (comma-separated, old keys after it) on every
    replica, run this until it prints "complete": true (a run that rotated something, or met a
    row changed meanwhile, is followed by another), then drop the old keys.
    """
    from service.security.rotation import rotate_stored_secrets

    settings, db = _db()
    report = rotate_stored_secrets(db, settings)
    typer.echo(json.dumps(report.as_dict()))
    if report.undecryptable:
        fail(f"sources {report.undecryptable} hold secrets no key in TASKHUB_SECRET_KEY decrypts; "
             "add the key they were written with and run again", code=1)
    if report.changed_meanwhile:
        fail(f"sources {report.changed_meanwhile} changed while this ran and were left as they are; "
             "run again", code=1)


@source_app.command("rotate-secret")
def source_rotate_secret(
    source: Annotated[str, typer.Argument(help="Source id (a Jira source).")],
    overlap: Annotated[float, typer.Option(help="Hours the old secret is still accepted (0: none).")] = 24,
    force: Annotated[bool, typer.Option(help="Rotate although the previous overlap still runs (ends it).")] = False,
) -> None:
    """A new webhook secret for a Jira source, printed once; the old one works for the overlap."""
    from service import errors
    from service.security.rotation import MAX_OVERLAP_HOURS, rotate_webhook_secret

    source_id = _id(source, "the source id")
    if not 0 <= overlap <= MAX_OVERLAP_HOURS:
        fail(f"--overlap must be between 0 and {MAX_OVERLAP_HOURS} hours, not {overlap:g}")
    settings, db = _db()
    with db.session() as s:
        try:
            rotated = rotate_webhook_secret(s, settings, source_id, org_id=None, overlap=timedelta(hours=overlap),
                                            force=force)
        except errors.DomainError as exc:
            fail(exc.message)
    typer.echo(json.dumps({"source_id": rotated.source_id, "webhook_secret": rotated.secret,
                           "previous_accepted_until": _iso(rotated.previous_until)}))
