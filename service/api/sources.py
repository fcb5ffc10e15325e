"""``/api/v1/sources``: register and manage the Jira and Trello sources."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from service import sources as svc
from service.api import source_webhooks as hooks
from service.api.deps import AdminCaller, DbDep, ReadCaller, SessionDep, SettingsDep
from service.ids import Id
from service.schemas import SourceCreate, SourceCreated, SourcePublic, SourceUpdate, WebhookSecretRotated
from service.security.rotation import DEFAULT_OVERLAP_HOURS, MAX_OVERLAP_HOURS, rotate_webhook_secret
from service.settings import Settings
from service.source_check import verify_source
from service.store.rollups import delete_source as delete_source_rows

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])

Verify = Annotated[bool, Query(description=(
    "Check the source first — the site answers, the credentials and the API user, each scoped project "
    "or board is readable — and answer 422 naming what failed (host and cause), storing nothing. false: "
    "store it unchecked (a site not reachable yet); the outbound guard applies either way."))]


def _check(settings: Settings, verify: bool) -> svc.Check | None:
    return partial(verify_source, settings) if verify else None


@router.post("", status_code=201, response_model=SourceCreated)
def create_source(
    body: SourceCreate, caller: AdminCaller, session: SessionDep, settings: SettingsDep, db: DbDep,
    verify: Verify = True,
    register_webhooks: Annotated[bool, Query(description=(
        "Register the tool's webhooks now (Trello: one per board; Jira: an admin webhook); false: "
        "you register them yourself (see GET …/webhooks for what to paste into Jira)."))] = True,
) -> SourceCreated:
    """Verify and register a source and its webhooks (``webhooks`` says what that did). The webhook
    secret is shown once (when generated)."""
    out = svc.create_source(session, settings, caller.org_id, body, _check(settings, verify))
    return hooks.after_create(session, db, settings, caller.org_id, out, register_webhooks)


@router.get("", response_model=list[SourcePublic])
def list_sources(caller: ReadCaller, session: SessionDep, settings: SettingsDep) -> list[SourcePublic]:
    return [hooks.with_summary(session, settings, svc.source_public(settings, s), s)
            for s in svc.list_sources(session, caller.org_id)]


@router.get("/{source_id}", response_model=SourcePublic)
def get_source(source_id: Id, caller: ReadCaller, session: SessionDep, settings: SettingsDep) -> SourcePublic:
    src = svc.get_source(session, caller.org_id, source_id)
    return hooks.with_summary(session, settings, svc.source_public(settings, src), src)


@router.patch("/{source_id}", response_model=SourceCreated | SourcePublic)
def update_source(source_id: Id, body: SourceUpdate, caller: AdminCaller, session: SessionDep,
                  settings: SettingsDep, request: Request, db: DbDep, verify: Verify = True) -> SourcePublic:
    """A new scope, credentials or site is verified first (as on registration) and registers the
    webhooks again (``webhooks``)."""
    out = svc.update_source(session, settings, caller.org_id, source_id, body, _check(settings, verify))
    request.app.state.source_cache.evict(source_id)
    return hooks.after_update(session, db, settings, caller.org_id, out, body)


@router.post("/{source_id}/webhook-secret/rotate", response_model=WebhookSecretRotated)
def rotate_secret(
    source_id: Id, caller: AdminCaller, session: SessionDep, settings: SettingsDep, request: Request, db: DbDep,
    overlap_hours: Annotated[int, Query(ge=0, le=MAX_OVERLAP_HOURS,
                                        description="How long the old secret is still accepted.")
                             ] = DEFAULT_OVERLAP_HOURS,
    force: Annotated[bool, Query(description="Rotate although a previous overlap is still running "
                                             "(ends it now); without it that is a 409.")] = False,
) -> WebhookSecretRotated:
    """A new webhook secret for a Jira source, shown once; the old one is accepted for the overlap.

    Trello sources are refused (422): Trello signs with its app secret, which taskhub does not make.
    """
    rotated = rotate_webhook_secret(session, settings, source_id, org_id=caller.org_id,
                                    overlap=timedelta(hours=overlap_hours), force=force)
    request.app.state.source_cache.evict(source_id)
    session.rollback()  # no transaction open while Jira is called
    hooks.follow_new_secret(db, settings, source_id)  # a webhook taskhub registered signs with the new one
    return WebhookSecretRotated(source_id=source_id, webhook_secret=rotated.secret,
                                previous_accepted_until=rotated.previous_until)


@router.delete("/{source_id}", status_code=204)
def delete_source(source_id: Id, caller: AdminCaller, session: SessionDep, request: Request, db: DbDep,
                  settings: SettingsDep) -> Response:
    """Delete a source and everything synced from it; its webhooks are removed from the tool first
    (best effort: a failure is logged with the tool's webhook id and does not stop the delete)."""
    svc.get_source(session, caller.org_id, source_id)
    hooks.before_delete(session, db, settings, source_id)
    delete_source_rows(session.connection(), source_id)
    session.commit()
    request.app.state.source_cache.evict(source_id)
    return Response(status_code=204)
