"""``/api/v1/sources/{id}/automation-secret``: the secret of a source's automation door.

A tool that cannot sign (Jira Automation's "Send web request", VENDOR_FACTS A13) proves itself
with this secret in the ``X-Taskhub-Secret`` header at ``/webhooks/{kind}/{id}/automation``
(``service.api.webhooks``). It is not the webhook secret: that one keys Jira's HMAC, and a
header leaked from a rule (anyone who can edit the rule sees it) must not let anyone forge a
signed webhook. ``POST`` makes the first one or rotates it (256 random bits, shown once, stored
encrypted; the old one accepted for the overlap, as the webhook secret's); ``GET`` says whether
there is one and where to send it, never the secret.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from service import errors
from service.api.deps import AdminCaller, ReadCaller, SessionDep, SettingsDep
from service.ids import Id
from service.ingest.receive import AUTOMATION, SECRET_HEADER
from service.security.rotation import DEFAULT_OVERLAP_HOURS, MAX_OVERLAP_HOURS, apply_automation_rotation
from service.settings import Settings
from service.sources import get_source
from service.tables import Source, stored_id

router = APIRouter(prefix="/api/v1/sources", tags=["sources"])


class AutomationDoor(BaseModel):
    source_id: int
    url: str = Field(description="Where the rule's \"Send web request\" action posts (method POST).")
    header: str = Field(default=SECRET_HEADER, description="The header that carries the secret.")
    configured: bool = Field(description="Whether the source has an automation secret (false: the door is closed).")
    previous_accepted_until: datetime | None = Field(
        default=None, description="Until when the replaced secret is still accepted (null: no longer).")


class AutomationSecretIssued(AutomationDoor):
    automation_secret: str = Field(description="The new secret, shown once: put it in the rule's header.")


def _door(settings: Settings, src: Source) -> AutomationDoor:
    until = src.automation_secret_prev_until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    running = until if until is not None and until > datetime.now(UTC) else None
    return AutomationDoor(source_id=stored_id(src), configured=src.automation_secret_enc is not None,
                          url=f"{settings.webhook_base_url}/webhooks/{src.kind}/{stored_id(src)}/automation",
                          previous_accepted_until=running)


def _automatable(src: Source) -> Source:
    if src.kind not in AUTOMATION:
        raise errors.Invalid(f"source {src.id} is a {src.kind} source: {src.kind} signs its webhooks, so it has "
                             "no automation door (only jira has one)", field="kind")
    return src


@router.get("/{source_id}/automation-secret", response_model=AutomationDoor)
def get_automation_door(source_id: Id, caller: ReadCaller, session: SessionDep,
                        settings: SettingsDep) -> AutomationDoor:
    """Whether the source's automation door is open and where it is; never the secret."""
    return _door(settings, _automatable(get_source(session, caller.org_id, source_id)))


@router.post("/{source_id}/automation-secret", response_model=AutomationSecretIssued)
def issue_automation_secret(
    source_id: Id, caller: AdminCaller, session: SessionDep, settings: SettingsDep, request: Request,
    overlap_hours: Annotated[int, Query(ge=0, le=MAX_OVERLAP_HOURS,
                                        description="How long the replaced secret is still accepted.")
                             ] = DEFAULT_OVERLAP_HOURS,
    force: Annotated[bool, Query(description="Rotate although a previous overlap is still running "
                                             "(ends it now); without it that is a 409.")] = False,
) -> AutomationSecretIssued:
    """A new automation secret (the first, or a rotation), shown once; the replaced one is accepted
    for the overlap. Trello sources are refused (422): Trello signs its webhooks."""
    src = _automatable(get_source(session, caller.org_id, source_id, for_update=True))
    issued = apply_automation_rotation(src, settings, overlap=timedelta(hours=overlap_hours), force=force)
    session.add(src)
    session.commit()
    session.refresh(src)
    request.app.state.source_cache.evict(source_id)
    return AutomationSecretIssued(**_door(settings, src).model_dump(), automation_secret=issued.secret)
