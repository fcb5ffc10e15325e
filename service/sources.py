"""Sources: registration, encrypted credentials, webhook secrets, the public view.

Credentials and webhook secrets are Fernet-encrypted at rest and never returned
or logged; ``source_secrets`` is the one place that decrypts them.

Which secret verifies a delivery (``delivery_secret``): a Jira source's webhook secret,
generated here (or given) and pasted into Jira. Trello signs every delivery with the
application's secret (VENDOR_FACTS B8), which nobody can choose, so a Trello source
takes it as ``credentials.app_secret`` and never gets a generated one. A Trello source
registered before that field existed keeps verifying with its stored webhook secret
(an admin may have set the real app secret there) until credentials with an app
secret replace it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import errors
from service.schemas import TRELLO_SIGNING_RULE, SourceCreate, SourceCreated, SourcePublic, SourceUpdate
from service.security.crypto import get_vault
from service.settings import Settings
from service.tables import Source, stored_id, utcnow

__all__ = [
    "SourceSecrets",
    "check_base_url",
    "create_source",
    "delivery_secret",
    "update_source",
    "get_source",
    "list_sources",
    "source_created",
    "source_public",
    "source_secrets",
    "webhook_url",
]


@dataclass(frozen=True)
class SourceSecrets:
    credentials: dict[str, Any]
    webhook_secret: str | None

    def __repr__(self) -> str:  # never print secrets
        return f"SourceSecrets(type={self.credentials.get('type')!r}, webhook_secret=***)"


def callback_url(settings: Settings, kind: str, source_id: int) -> str:
    """The URL the tools deliver to (Trello signs with exactly this URL); its base is
    ``Settings.webhook_base_url`` (PUBLIC_BASE_URL, else what ``serve`` binds)."""
    return f"{settings.webhook_base_url}/webhooks/{kind}/{source_id}"


def webhook_url(settings: Settings, source: Source) -> str:
    return callback_url(settings, source.kind, stored_id(source))


def _plain_credentials(creds: Any) -> dict[str, Any]:
    data = creds.model_dump()
    return {k: (v.get_secret_value() if hasattr(v, "get_secret_value") else v) for k, v in data.items()}


def _public_fields(settings: Settings, src: Source) -> dict[str, Any]:
    creds_type = None
    if src.credentials_enc:
        creds_type = get_vault(settings).decrypt(src.credentials_enc).get("type")
    return dict(
        id=src.id, kind=src.kind, name=src.name, base_url=src.base_url, deployment=src.deployment,
        scope=src.scope, mapping_profile=src.mapping_profile, poll_interval_seconds=src.poll_interval_seconds,
        census_interval_seconds=src.census_interval_seconds,
        enabled=src.enabled, status=src.status, status_reason=src.status_reason, credentials_type=creds_type,
        webhook_url=webhook_url(settings, src), webhook_url_warning=settings.webhook_base_warning,
        created_at=src.created_at, updated_at=src.updated_at,
    )


def source_public(settings: Settings, src: Source) -> SourcePublic:
    return SourcePublic(**_public_fields(settings, src))


def source_created(settings: Settings, src: Source, webhook_secret: str | None) -> SourceCreated:
    """The public view with the webhook secret, shown once (``None``: the caller chose it)."""
    return SourceCreated(**_public_fields(settings, src), webhook_secret=webhook_secret)


def check_base_url(settings: Settings, url: str | None) -> None:
    """``errors.Invalid`` naming the rule when ``url`` is visibly out of bounds for the outbound guard.

    An early, clear answer only: what protects is the guard's check at connect time
    (DNS may answer differently later, redirects move elsewhere). No option skips it.
    """
    if url is None:
        return
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:  # stored and shown as the base URL
        raise errors.Invalid("base_url must not carry a user name or password: give them as credentials "
                             "(stored encrypted, never shown)", field="base_url", rule="base_url_userinfo")
    problem = settings.outbound_policy.registration_problem(url)
    if problem is not None:
        raise errors.Invalid(problem, field="base_url", rule="outbound_guard")


def _deployment(creds_type: str) -> str | None:
    return {"jira_cloud": "cloud", "jira_datacenter": "datacenter"}.get(creds_type)


def delivery_secret(kind: str, credentials: dict[str, Any], stored: str | None) -> str | None:
    """The secret a delivery to this source is signed with (see the module's docstring)."""
    if kind == "trello" and credentials.get("app_secret"):
        return str(credentials["app_secret"])
    return stored


def _new_webhook_secret(body: SourceCreate) -> str | None:
    """Jira: the given secret or a random one. Trello: none (it signs with the app secret)."""
    if body.kind == "trello":
        return None
    return body.webhook_secret.get_secret_value() if body.webhook_secret else secrets.token_urlsafe(32)


Check = Callable[[Source], None]
"""Run on a source built or changed but not yet committed; raises to store nothing
(``service.source_check.verify_source``: can it be reached, are the credentials right)."""


def create_source(session: Session, settings: Settings, org_id: int, body: SourceCreate,
                  check: Check | None = None) -> SourceCreated:
    check_base_url(settings, str(body.base_url) if body.base_url else None)
    vault = get_vault(settings)
    secret = _new_webhook_secret(body)
    src = Source(
        org_id=org_id, kind=body.kind, name=body.name,
        base_url=str(body.base_url).rstrip("/") if body.base_url else None,
        deployment=_deployment(body.credentials.type),
        credentials_enc=vault.encrypt(_plain_credentials(body.credentials)),
        webhook_secret_enc=vault.encrypt(secret) if secret else None,
        scope=body.scope.model_dump(exclude_none=True) if body.scope else None,
        mapping_profile=body.mapping_profile, poll_interval_seconds=body.poll_interval_seconds,
        census_interval_seconds=body.census_interval_seconds,
        enabled=body.enabled,
    )
    if check is not None:
        check(src)
    session.add(src)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise errors.Conflict(f"a source named {body.name!r} already exists in this organization") from exc
    session.refresh(src)
    shown = None if body.webhook_secret else secret
    return source_created(settings, src, shown)


def get_source(session: Session, org_id: int, source_id: int, *, for_update: bool = False) -> Source:
    """The organization's source, else ``NotFound``. ``for_update`` locks its row until the
    transaction ends (PostgreSQL; SQLite's write sessions are serialized already): a
    read-check-write such as a secret rotation's "no overlap running" check then sees what a
    concurrent one committed instead of passing beside it."""
    src = session.get(Source, source_id, with_for_update=for_update or None, populate_existing=for_update)
    if src is None or src.org_id != org_id:
        raise errors.NotFound(f"source {source_id} not found")
    return src


def list_sources(session: Session, org_id: int) -> list[Source]:
    return list(session.exec(select(Source).where(Source.org_id == org_id).order_by(col(Source.id))))


def update_source(session: Session, settings: Settings, org_id: int, source_id: int,
                  body: SourceUpdate, check: Check | None = None) -> SourcePublic:
    """Apply ``body``; ``check`` runs when the credentials, the base URL or the scope change."""
    src = get_source(session, org_id, source_id, for_update=body.rotate_webhook_secret)
    fields = body.model_fields_set
    if src.kind == "trello" and (body.webhook_secret is not None or body.rotate_webhook_secret):
        raise errors.Invalid(TRELLO_SIGNING_RULE, field="webhook_secret")
    if "base_url" in fields:
        check_base_url(settings, str(body.base_url) if body.base_url else None)
    vault = get_vault(settings)
    shown: str | None = None
    if body.credentials is not None:
        if (src.kind == "trello") != (body.credentials.type == "trello"):
            raise errors.Invalid(f"credentials of type {body.credentials.type!r} do not fit a {src.kind} source")
        src.credentials_enc = vault.encrypt(_plain_credentials(body.credentials))
        src.deployment = _deployment(body.credentials.type)
        if src.kind == "trello":  # the app secret verifies from now on: a stored one is retired
            src.webhook_secret_enc = src.webhook_secret_prev_enc = src.webhook_secret_prev_until = None
    if body.scope is not None:
        from service.schemas import JiraScope, TrelloScope

        want = JiraScope if src.kind == "jira" else TrelloScope
        if not isinstance(body.scope, want):
            raise errors.Invalid(f"scope does not fit a {src.kind} source")
        src.scope = body.scope.model_dump(exclude_none=True)
    if body.webhook_secret is not None:  # set by the admin (a Jira secret of their own): no overlap
        src.webhook_secret_enc = vault.encrypt(body.webhook_secret.get_secret_value())
        src.webhook_secret_prev_enc, src.webhook_secret_prev_until = None, None
    elif body.rotate_webhook_secret:  # the old secret stays valid for the default overlap
        from service.security.rotation import apply_webhook_rotation

        shown = apply_webhook_rotation(src, settings).secret
    if "mapping_profile" in fields:
        if body.mapping_profile is not None:
            from pydantic import ValidationError

            from mappings.profile import MappingProfile

            try:
                named = body.mapping_profile | {"name": body.mapping_profile.get("name", "source")}
                MappingProfile.model_validate(named)
            except ValidationError as exc:
                raise errors.Invalid(f"invalid mapping_profile: {exc.errors()[0]['msg']}") from exc
        src.mapping_profile = body.mapping_profile
    for name in ("name", "poll_interval_seconds", "census_interval_seconds", "enabled"):
        if name in fields and getattr(body, name) is not None:
            setattr(src, name, getattr(body, name))
    if "base_url" in fields and body.base_url is not None:
        src.base_url = str(body.base_url).rstrip("/")
    if check is not None and (body.credentials is not None or body.scope is not None or "base_url" in fields):
        check(src)
    src.updated_at = utcnow()
    session.add(src)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise errors.Conflict(f"a source named {body.name!r} already exists in this organization") from exc
    session.refresh(src)
    if shown:
        return source_created(settings, src, shown)
    return source_public(settings, src)


def source_secrets(settings: Settings, src: Source) -> SourceSecrets:
    vault = get_vault(settings)
    creds = vault.decrypt(src.credentials_enc) if src.credentials_enc else {}
    stored = vault.decrypt_str(src.webhook_secret_enc) if src.webhook_secret_enc else None
    return SourceSecrets(credentials=creds, webhook_secret=delivery_secret(src.kind, creds, stored))
