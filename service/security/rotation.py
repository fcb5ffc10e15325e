"""Rotating what taskhub keeps secret: the Fernet key of everything at rest, and a source's
webhook secret.

- ``rotate_stored_secrets``: every encrypted column (credentials, webhook secret, the previous
  webhook secret of an overlap, the automation secrets, the event endpoints' signing secrets)
  re-encrypted under the newest ``TASKHUB_SECRET_KEY`` key (``MultiFernet.rotate``). Values
  already under the newest key are left alone, so a second run changes nothing; each row is
  updated only if it still holds the value read, so a concurrent change through the API is
  never overwritten with an older secret.
- ``rotate_webhook_secret``: a new random secret for a Jira source, shown once; the old one
  stays valid for an overlap (default 24 h) so the sender can be reconfigured without losing
  deliveries. Trello signs with the Trello app's secret, which taskhub does not generate, so
  there is nothing of ours to rotate there.
- ``apply_automation_rotation``: the same rule for a source's ``X-Taskhub-Secret`` (the header
  of senders that cannot sign, ``service.api.automation_secret``); one function, ``_rotate``, keeps
  the overlap rule of both.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from service import errors
from service.db import Database
from service.security.crypto import ConfigError, Vault, get_vault
from service.settings import Settings
from service.tables import Source, WebhookEndpoint, stored_id, table, utcnow

__all__ = [
    "DEFAULT_OVERLAP_HOURS",
    "MAX_OVERLAP_HOURS",
    "RotatedSecret",
    "RotationReport",
    "apply_automation_rotation",
    "apply_webhook_rotation",
    "rotate_stored_secrets",
    "rotate_webhook_secret",
]

DEFAULT_OVERLAP_HOURS = 24
MAX_OVERLAP_HOURS = 24 * 30  # a month: longer, and the old secret is not really retired
S = table(Source)
EP = table(WebhookEndpoint)
_ENCRYPTED = ("credentials_enc", "webhook_secret_enc", "webhook_secret_prev_enc", "automation_secret_enc",
              "automation_secret_prev_enc")
# The signing secrets of event endpoints (issue 22), reported under these names.
_ENDPOINT_ENCRYPTED = ("secret_enc", "secret_prev_enc")
_ENDPOINT_KEYS = tuple(f"webhook_endpoint.{c}" for c in _ENDPOINT_ENCRYPTED)


@dataclass(frozen=True)
class RotatedSecret:
    source_id: int
    secret: str
    previous_until: datetime | None


@dataclass
class RotationReport:
    """Per column: how many values were re-encrypted, and how many were already current."""

    rotated: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_ENCRYPTED + _ENDPOINT_KEYS, 0))
    current: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_ENCRYPTED + _ENDPOINT_KEYS, 0))
    undecryptable: list[int] = field(default_factory=list)  # source ids no configured key opens
    # Source ids written by someone else between our read and our write (a replica still running
    # with the old key list first, an admin's PATCH): left for the next run, never overwritten.
    changed_meanwhile: list[int] = field(default_factory=list)
    undecryptable_endpoints: list[int] = field(default_factory=list)
    changed_meanwhile_endpoints: list[int] = field(default_factory=list)
    keys: int = 0

    @property
    def complete(self) -> bool:
        """True when every secret is under the newest key: the old keys may be dropped."""
        return not (self.undecryptable or self.changed_meanwhile or self.undecryptable_endpoints
                    or self.changed_meanwhile_endpoints or any(self.rotated.values()))

    def as_dict(self) -> dict[str, object]:
        return {"keys": self.keys, "rotated": self.rotated, "already_current": self.current,
                "undecryptable_sources": self.undecryptable, "changed_meanwhile_sources": self.changed_meanwhile,
                "undecryptable_endpoints": self.undecryptable_endpoints,
                "changed_meanwhile_endpoints": self.changed_meanwhile_endpoints, "complete": self.complete}


def rotate_stored_secrets(db: Database, settings: Settings) -> RotationReport:
    """Re-encrypt every stored secret under the newest key; idempotent. The sources' columns and
    the event endpoints' signing secrets, one rule for both (``_rotate_rows``)."""
    vault = get_vault(settings)
    report = RotationReport(keys=vault.key_count)
    _rotate_rows(db, vault, S, dict(zip(_ENCRYPTED, _ENCRYPTED, strict=True)), report,
                 report.undecryptable, report.changed_meanwhile)
    _rotate_rows(db, vault, EP, dict(zip(_ENDPOINT_ENCRYPTED, _ENDPOINT_KEYS, strict=True)), report,
                 report.undecryptable_endpoints, report.changed_meanwhile_endpoints)
    return report


def _rotate_rows(db: Database, vault: Vault, tbl: sa.Table, columns: dict[str, str], report: RotationReport,
                 undecryptable: list[int], changed_meanwhile: list[int]) -> None:
    """Re-encrypt ``columns`` (column → name in the report) of every row of ``tbl``; a row is
    written only if it still holds the values read."""
    cols = [tbl.c[name] for name in columns]
    with db.read() as conn:
        rows = conn.execute(sa.select(tbl.c.id, *cols).order_by(tbl.c.id)).all()
    for row in rows:
        changes: dict[str, str] = {}
        olds: dict[str, str] = {}
        for name, key in columns.items():
            value = getattr(row, name)
            if not value:
                continue
            if vault.is_current(value):
                report.current[key] += 1
                continue
            try:
                changes[name] = vault.rotate(value)
            except ConfigError:
                if row.id not in undecryptable:
                    undecryptable.append(row.id)
                continue
            olds[name] = value
        if not changes:
            continue
        with db.write() as conn:
            guard = [tbl.c[name] == old for name, old in olds.items()]
            done = conn.execute(sa.update(tbl).where(tbl.c.id == row.id, *guard).values(**changes)).rowcount
        if done:
            for name in changes:
                report.rotated[columns[name]] += 1
        else:
            changed_meanwhile.append(row.id)


def rotate_webhook_secret(session: Session, settings: Settings, source_id: int, *, org_id: int | None,
                          overlap: timedelta = timedelta(hours=DEFAULT_OVERLAP_HOURS),
                          now: datetime | None = None, force: bool = False) -> RotatedSecret:
    """A new webhook secret for a Jira source, committed; see ``apply_webhook_rotation``.

    ``org_id`` None: any organization (the CLI, run by the operator). Raises ``errors.NotFound``
    (unknown source), ``errors.Invalid`` (Trello, a bad overlap) or ``errors.Conflict`` (an
    overlap still running): 404, 422, 409 in the API, exit code 2 in the CLI.
    """
    # The row locked (as ``service.sources.get_source(for_update=True)``): a concurrent rotation
    # waits, then sees this one's overlap (409) instead of replacing the secret just handed out.
    src = session.get(Source, source_id, with_for_update=True, populate_existing=True)
    if src is None or (org_id is not None and src.org_id != org_id):
        raise errors.NotFound(f"source {source_id} not found")
    rotated = apply_webhook_rotation(src, settings, overlap=overlap, now=now, force=force)
    session.add(src)
    session.commit()
    return rotated


def apply_webhook_rotation(src: Source, settings: Settings, *,
                           overlap: timedelta = timedelta(hours=DEFAULT_OVERLAP_HOURS),
                           now: datetime | None = None, force: bool = False) -> RotatedSecret:
    """Set a new random webhook secret on ``src`` (not committed); the old one is accepted until
    ``now + overlap`` (none when the overlap is 0 or there was no secret). See ``_rotate``."""
    if src.kind != "jira":
        raise errors.Invalid(f"source {src.id} is a {src.kind} source: Trello signs deliveries with the "
                             "Trello app's secret, which taskhub does not generate; after changing it in "
                             "Trello, give the new one as credentials.app_secret: PATCH /api/v1/sources/"
                             f"{src.id} {{\"credentials\": {{\"type\": \"trello\", ..., \"app_secret\": ...}}}}")
    again = (f"POST /api/v1/sources/{src.id}/webhook-secret/rotate?force=true, or taskhub source "
             "rotate-secret --force")
    return _rotate(src, settings, "webhook_secret", overlap, now, force, again)


def apply_automation_rotation(src: Source, settings: Settings, *,
                              overlap: timedelta = timedelta(hours=DEFAULT_OVERLAP_HOURS),
                              now: datetime | None = None, force: bool = False) -> RotatedSecret:
    """Set a new random automation secret (``X-Taskhub-Secret``) on ``src``, not committed: the
    first one, or a rotation with the webhook secret's overlap rule (``_rotate``)."""
    again = f"POST /api/v1/sources/{src.id}/automation-secret?force=true"
    return _rotate(src, settings, "automation_secret", overlap, now, force, again)


def _rotate(src: Source, settings: Settings, prefix: str, overlap: timedelta, now: datetime | None,
            force: bool, again: str) -> RotatedSecret:
    """A new ``secrets.token_urlsafe(32)`` (256 bits) in ``<prefix>_enc``; the old one moves to
    ``<prefix>_prev_enc``, accepted until ``<prefix>_prev_until`` = ``now + overlap``.

    One previous secret is kept, so a second rotation inside a running overlap would end the
    first one's promise at once (a client retrying a timed-out POST would do exactly that, and
    senders still on the oldest secret would get 401s): it is ``errors.Conflict`` unless
    ``force`` says the caller means to end that overlap now (``again`` says how)."""
    if overlap < timedelta(0) or overlap > timedelta(hours=MAX_OVERLAP_HOURS):
        raise errors.Invalid(f"overlap must be between 0 and {MAX_OVERLAP_HOURS} hours")
    name = prefix.replace("_", " ")
    now = now or utcnow()
    running = getattr(src, f"{prefix}_prev_until")
    if running is not None and running.tzinfo is None:
        running = running.replace(tzinfo=UTC)
    if running is not None and running > now and not force:
        raise errors.Conflict(f"source {src.id}'s previous {name} is still accepted until "
                              f"{running.isoformat()}: rotating again now would cut it off; rotate after "
                              f"that, or force it to end that overlap now: {again}")
    new = secrets.token_urlsafe(32)
    current = getattr(src, f"{prefix}_enc")
    until = now + overlap if overlap > timedelta(0) and current else None
    setattr(src, f"{prefix}_prev_enc", current if until else None)
    setattr(src, f"{prefix}_prev_until", until)
    setattr(src, f"{prefix}_enc", get_vault(settings).encrypt(new))
    src.updated_at = now
    return RotatedSecret(stored_id(src), new, until)
