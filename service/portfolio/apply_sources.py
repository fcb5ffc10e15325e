"""The ``sources:`` section of a ``taskhub apply`` file (issue 21): Jira and Trello sources
declared by name, created or updated as the API does it.

    sources:
      - kind: jira
        name: jira-cloud
        base_url: https://acme.atlassian.net
        scope: {projects: [ALP, OPS]}
        credentials: {type: jira_cloud, email: bot@acme.io, api_token: "${JIRA_TOKEN}"}
      - kind: trello
        name: trello
        scope: {boards: [5f0c9d2e8a1b3c4d5e6f7a8b]}
        credentials: {type: trello, api_key: "${TRELLO_KEY}", token: "${TRELLO_TOKEN}",
                      app_secret: "${TRELLO_APP_SECRET}"}
        poll_interval_seconds: 600

Secrets (``api_token``, ``personal_access_token``, ``token``, ``app_secret``) come only from
environment variables written ``${NAME}``: a file a PM keeps in version control must never
hold one, so a literal secret is refused (exit 2) rather than stored. Other values may use
``${NAME}`` too.

By name, idempotent: a source not stored yet is created (verified first, its webhooks
registered, as ``POST /api/v1/sources``); a stored one gets only the fields that differ
(``service.source_changes``), so applying a file again calls no tool. A source missing
from the file is left alone: deleting one deletes everything synced from it, which a file
edit should not do by omission (the Sources page, the API and ``taskhub source`` delete).

Each source is stored in its own transaction before the rest of the file, because
verification and webhook registration call the tool and no transaction may stay open
during those calls (on SQLite it would hold the write lock). A later problem therefore
leaves the sources before it applied; the message says so. The secrets of every source are
resolved first, so a literal or unset one anywhere in the file applies nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from functools import partial
from typing import Any, Literal

from pydantic import Field, ValidationError
from sqlmodel import select

from service import errors
from service import webhook_registration as wh
from service.db import Database
from service.portfolio.schemas import _In
from service.schemas import JsonObject, SourceCreate, SourceUpdate, Text
from service.settings import Settings
from service.source_changes import source_changes
from service.source_check import verify_source
from service.sources import Check, create_source, update_source
from service.tables import Source, stored_id

__all__ = [
    "ApplySource", "SECRET_KEYS", "SourceApplyError", "apply_sources", "resolve_credentials", "validation_message",
]

SECRET_KEYS = frozenset({"api_token", "personal_access_token", "token", "app_secret"})
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOOL_FIELDS = {"credentials", "scope", "base_url"}  # what update_source verifies and re-registers for


class SourceApplyError(ValueError):
    """A problem with a source of the file: ``where`` names it (``sources[1].credentials.token``);
    ``applied`` is how many sources before it were stored."""

    def __init__(self, where: str, message: str, applied: int = 0) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where, self.message, self.applied = where, message, applied


def validation_message(exc: ValidationError) -> str:
    """The first error as one line: ``projects[1].budget.amount: Input should be ...``."""
    err = exc.errors()[0]
    where = ""
    for part in err.get("loc", ()):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    msg = err.get("msg", "invalid").removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
    return f"{where or 'document'}: {msg}{more}"


class ApplySource(_In):
    kind: Literal["jira", "trello"]
    name: Text = Field(min_length=1, max_length=200)
    base_url: Text | None = None
    scope: JsonObject | None = Field(default=None, description="Jira: {projects, jql}; Trello: {boards}.")
    credentials: dict[str, Text] = Field(description="Secrets as ${ENV_VAR} only.")
    poll_interval_seconds: int | None = None
    enabled: bool | None = None


class _NotStored(Exception):
    """Raised by the dry run's check after verifying: create/update store nothing."""


def resolve_credentials(creds: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The credentials with each ``${NAME}`` replaced from ``env``; a literal secret refused."""
    out = {}
    for key, value in creds.items():
        ref = _REF.fullmatch(value.strip())
        if ref is not None:
            if ref[1] not in env:
                raise SourceApplyError(f"credentials.{key}", f"the environment variable {ref[1]} is not set")
            out[key] = env[ref[1]]
        elif key in SECRET_KEYS:
            raise SourceApplyError(f"credentials.{key}", "a secret is never written in the file: write "
                                   f"'${{NAME}}' and set the environment variable NAME (e.g. {key.upper()})")
        else:
            out[key] = value
    return out


def _checks(settings: Settings, verify: bool, dry_run: bool) -> Check | None:
    """Verification as in the API (unless ``verify`` is off); in a dry run, verify and store nothing."""
    check = partial(verify_source, settings) if verify else None

    def verify_only(src: Source) -> None:
        if check is not None:
            check(src)
        raise _NotStored

    return verify_only if dry_run else check


def _create(db: Database, settings: Settings, org_id: int, want: dict[str, Any], check: Check | None,
            ) -> dict[str, Any]:
    try:
        body = SourceCreate.model_validate(want)
    except ValidationError as exc:
        raise SourceApplyError("", validation_message(exc)) from exc
    try:
        with db.session() as s:
            out = create_source(s, settings, org_id, body, check)
    except _NotStored:
        return {"action": "would create"}
    wh.reconcile(db, settings, out.id)  # as the API does on registration
    result: dict[str, Any] = {"action": "created", "id": out.id}
    if out.webhook_secret:  # Jira: shown once, needed when the webhook is pasted by hand
        result["webhook_secret"] = out.webhook_secret
    return result


def _update(db: Database, settings: Settings, org_id: int, src: Source, want: dict[str, Any],
            check: Check | None, dry_run: bool) -> dict[str, Any]:
    if src.kind != want["kind"]:
        raise SourceApplyError("kind", f"the source {src.name!r} is a {src.kind} source; a source's kind "
                               "cannot change (give the new one another name)")
    try:
        body: SourceUpdate = source_changes(settings, src, {k: v for k, v in want.items() if k != "kind"})
    except ValidationError as exc:
        raise SourceApplyError("", validation_message(exc)) from exc
    changed = sorted(body.model_fields_set)
    sid = stored_id(src)
    if not changed:
        return {"action": "unchanged", "id": sid}
    touches_tool = bool(_TOOL_FIELDS & set(changed))
    if dry_run and not touches_tool:
        return {"action": "would update", "id": sid, "changed": changed}
    try:
        with db.session() as s:
            update_source(s, settings, org_id, sid, body, check)
    except _NotStored:
        return {"action": "would update", "id": sid, "changed": changed}
    if touches_tool:
        wh.scope_changed(db, settings, sid)  # as the API does on a new scope, site or credentials
    return {"action": "updated", "id": sid, "changed": changed}


def _apply_one(db: Database, settings: Settings, org_id: int, entry: ApplySource, credentials: dict[str, str],
               check: Check | None, dry_run: bool) -> dict[str, Any]:
    want = entry.model_dump(exclude_none=True)
    want["credentials"] = credentials
    with db.session() as s:
        src = s.exec(select(Source).where(Source.org_id == org_id, Source.name == entry.name)).first()
    if src is None:
        out = _create(db, settings, org_id, want, check)
    else:
        out = _update(db, settings, org_id, src, want, check, dry_run)
    if "id" in out and not dry_run:
        with db.session() as s:
            src = s.get(Source, out["id"])
            assert src is not None
            out["webhooks"] = wh.summary(s, src).state
    return {"name": entry.name, **out}


def apply_sources(db: Database, settings: Settings, org_id: int, entries: list[ApplySource], *,
                  verify: bool = True, dry_run: bool = False, env: Mapping[str, str] | None = None,
                  ) -> list[dict[str, Any]]:
    """Create or update each declared source in order; one result per source. Raises
    ``SourceApplyError`` naming the entry (the sources before it stay applied)."""
    env = os.environ if env is None else env
    check = _checks(settings, verify, dry_run)
    resolved = []  # every entry's secrets first: a literal or unset one anywhere applies nothing
    for i, entry in enumerate(entries):
        try:
            resolved.append(resolve_credentials(entry.credentials, env))
        except SourceApplyError as exc:
            raise SourceApplyError(f"sources[{i}].{exc.where}", exc.message, 0) from exc
    results = []
    for i, (entry, credentials) in enumerate(zip(entries, resolved, strict=True)):
        where = f"sources[{i}]"
        try:
            results.append(_apply_one(db, settings, org_id, entry, credentials, check, dry_run))
        except SourceApplyError as exc:  # named within the entry: name the entry too
            raise SourceApplyError(f"{where}.{exc.where}" if exc.where else where, exc.message,
                                   0 if dry_run else i) from exc
        except errors.DomainError as exc:
            raise SourceApplyError(where, exc.message.removeprefix("invalid request: "), 0 if dry_run else i) from exc
    return results
