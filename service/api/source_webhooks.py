"""``/api/v1/sources/{id}/webhooks``: the webhooks taskhub registered in the tool for a source.

The work is ``service.webhook_registration``'s (its docstring says what a ping proves); these
routes show the recorded state, register again, and ping. The source's create, update and
delete routes (``service.api.sources``) call the same functions.
"""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter

from service import errors
from service import sources as svc
from service import webhook_registration as wh
from service.api.deps import AdminCaller, DbDep, ReadCaller, SessionDep, SettingsDep
from service.ids import Id
from service.schemas import SourceCreated, SourcePublic, SourceUpdate
from service.tables import Source
from service.webhook_schemas import SourceWebhooks

SourcePublicT = TypeVar("SourcePublicT", bound=SourcePublic)
router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


@router.get("/{source_id}/webhooks", response_model=SourceWebhooks)
def get_webhooks(source_id: Id, caller: ReadCaller, session: SessionDep, settings: SettingsDep) -> SourceWebhooks:
    """Each webhook's state; for a Jira webhook taskhub could not register, what to paste into Jira."""
    return wh.status(session, settings, svc.get_source(session, caller.org_id, source_id))


@router.post("/{source_id}/webhooks/register", response_model=SourceWebhooks)
def register_webhooks(source_id: Id, caller: AdminCaller, session: SessionDep, db: DbDep,
                      settings: SettingsDep) -> SourceWebhooks:
    """Register what is missing or failed (after admin rights were granted, the public URL fixed,
    a time budget ran out), re-register a webhook whose URL changed, remove those out of scope.
    At most ~20 s; what is left stays pending (call again)."""
    _owned(session, caller.org_id, source_id)
    wh.reconcile(db, settings, source_id)
    return _fresh(session, settings, caller.org_id, source_id)


@router.post("/{source_id}/webhooks/ping", response_model=SourceWebhooks)
def ping_webhooks(source_id: Id, caller: AdminCaller, session: SessionDep, db: DbDep,
                  settings: SettingsDep) -> SourceWebhooks:
    """Check each webhook with the tool now and start waiting for a delivery: ``ping.how`` says what
    this tool's ping proves, ``ping.delivery_confirmed_at`` the first delivery accepted after it."""
    _owned(session, caller.org_id, source_id)
    wh.ping(db, settings, source_id)
    return _fresh(session, settings, caller.org_id, source_id)


def _owned(session: SessionDep, org_id: int, source_id: int) -> None:
    """404 unless the caller's organization owns the source; then the transaction ends, so that
    none is open while the tool is called (on SQLite it would hold the write lock)."""
    svc.get_source(session, org_id, source_id)
    session.rollback()


def _fresh(session: SessionDep, settings: SettingsDep, org_id: int, source_id: int) -> SourceWebhooks:
    session.expire_all()  # the rows were written in another session
    return wh.status(session, settings, svc.get_source(session, org_id, source_id))


# --- called by the source routes (service.api.sources) ----------------------------------------


def with_summary(session: SessionDep, settings: SettingsDep, out: SourcePublicT, source: Source) -> SourcePublicT:
    """The source's answer with its webhooks: the summary; in full in an answer that shows a new
    secret (a created or rotated Jira source), whose paste block carries it."""
    if isinstance(out, SourceCreated):
        out.webhooks = wh.status(session, settings, source, secret=out.webhook_secret)
    else:
        out.webhooks = wh.summary(session, source)
    return out


def after_create(session: SessionDep, db: DbDep, settings: SettingsDep, org_id: int, out: SourceCreated,
                 register: bool) -> SourceCreated:
    """Register the new source's webhooks (unless the caller registers them by hand) and answer
    with what that did; a Jira paste block carries the secret, shown once in this answer anyway."""
    session.rollback()  # no transaction open while the tool is called
    if register:
        wh.reconcile(db, settings, out.id)
    return with_summary(session, settings, out, svc.get_source(session, org_id, out.id))


def after_update(session: SessionDep, db: DbDep, settings: SettingsDep, org_id: int, out: SourcePublicT,
                 body: SourceUpdate) -> SourcePublicT:
    """A new scope, credentials, site or webhook secret: the webhooks follow
    (``webhook_registration.scope_changed``; a registered Jira webhook must sign with the new secret)."""
    new_secret = body.webhook_secret is not None or body.rotate_webhook_secret
    if body.model_fields_set & {"scope", "credentials", "base_url"}:
        session.rollback()
        wh.scope_changed(db, settings, out.id)
    elif new_secret:
        session.rollback()
        follow_new_secret(db, settings, out.id)
    return with_summary(session, settings, out, svc.get_source(session, org_id, out.id))


def before_delete(session: SessionDep, db: DbDep, settings: SettingsDep, source_id: int) -> None:
    """Best effort: remove the source's webhooks from the tool (logged: the rows go with the source)."""
    session.rollback()
    wh.remove_all(db, settings, source_id)


def follow_new_secret(db: DbDep, settings: SettingsDep, source_id: int) -> None:
    """After a Jira webhook secret changed: a webhook taskhub registered is registered again with
    it, else Jira keeps signing with the old one and every delivery is refused once the overlap
    ends. Never fails the answer that shows the new secret once (a source without credentials
    keeps its webhook; ``POST …/webhooks/register`` says why)."""
    try:
        wh.scope_changed(db, settings, source_id)
    except errors.Conflict:
        pass
