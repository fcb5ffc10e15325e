"""``taskhub token list|revoke`` and ``taskhub secrets rotate`` (``taskhub source rotate-secret`` is
with the other ``source`` commands in ``service.cli.sync``).

Secrets are never printed except the one just made (a new token, like a new webhook secret).
Bad input (an unknown id): a one-line message and exit code 2; secrets no configured key can
decrypt: listed, exit code 1.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from service.cli.common import fail, iso, open_db, org_id, positive_id, secrets_app, token_app

__all__ = ["secrets_rotate", "token_list", "token_revoke"]


@token_app.command("list")
def token_list(org: Annotated[str, typer.Option(help="Organization id or name.")]) -> None:
    """List an organization's tokens (id, name, prefix, scope, dates); never the tokens."""
    from service.security.auth import list_tokens

    _, db = open_db()
    with db.session() as s:
        for t in list_tokens(s, org_id(s, org)):
            typer.echo(json.dumps({
                "id": t.id, "org_id": t.org_id, "name": t.name, "prefix": t.prefix, "scope": t.scope,
                "created_at": iso(t.created_at), "last_used_at": iso(t.last_used_at),
                "expires_at": iso(t.expires_at), "revoked_at": iso(t.revoked_at)}))


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="Token id (see 'taskhub token list').")]) -> None:
    """Revoke a token: it and its dashboard sessions stop working at once. Again: no change."""
    from service.security.auth import revoke_token

    _, db = open_db()
    with db.session() as s:
        try:
            row = revoke_token(s, positive_id(token_id, "the token id"), org_id=None)
        except LookupError as exc:
            fail(f"{exc} (see 'taskhub token list --org ...')")
    typer.echo(json.dumps({"id": row.id, "revoked_at": iso(row.revoked_at)}))


@secrets_app.command("rotate")
def secrets_rotate() -> None:
    """Re-encrypt every stored credential and webhook secret under the newest key.

    Put the new key first in TASKHUB_SECRET_KEY (comma-separated, old keys after it) on every
    replica, run this until it prints "complete": true (a run that rotated something, or met a
    row changed meanwhile, is followed by another), then drop the old keys.
    """
    from service.security.rotation import rotate_stored_secrets

    settings, db = open_db()
    report = rotate_stored_secrets(db, settings)
    typer.echo(json.dumps(report.as_dict()))
    if report.undecryptable:
        fail(f"sources {report.undecryptable} hold secrets no key in TASKHUB_SECRET_KEY decrypts; "
             "add the key they were written with and run again", code=1)
    if report.changed_meanwhile:
        fail(f"sources {report.changed_meanwhile} changed while this ran and were left as they are; "
             "run again", code=1)
    if report.undecryptable_endpoints:
        fail(f"webhook endpoints {report.undecryptable_endpoints} hold secrets no key in TASKHUB_SECRET_KEY "
             "decrypts; add the key they were written with and run again", code=1)
    if report.changed_meanwhile_endpoints:
        fail(f"webhook endpoints {report.changed_meanwhile_endpoints} changed while this ran and were left as "
             "they are; run again", code=1)
