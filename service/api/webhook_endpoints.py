"""``/api/v1/webhook-endpoints``: where an organization's signed events go (issue 22).

Admin tokens write, read tokens list. The shape is also what Zapier's and n8n's "REST hooks"
need: subscribe = ``POST`` (keep the returned ``id`` and ``secret``), unsubscribe = ``DELETE
/{id}``. Each delivery is signed the Standard Webhooks way (``webhook-id``, ``webhook-timestamp``,
``webhook-signature``): verify it with the ``secret`` and any Standard Webhooks library.
The logic lives in ``service.events.endpoints`` (shared with the CLI).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.deps import AdminCaller, ReadCaller, SessionDep, SettingsDep
from service.events import endpoints as svc
from service.ids import Id
from service.schemas import LongText, Text
from service.tables import WebhookEndpoint, stored_id

router = APIRouter(prefix="/api/v1/webhook-endpoints", tags=["webhook endpoints"])

EventTypes = Annotated[list[Annotated[str, Field(min_length=1, max_length=60)]], Field(
    min_length=1, max_length=50,
    description='Event types to receive: exact ("task.created"), a family ("milestone.*") or "*".')]
# Text / LongText: no control characters (a NUL was stored on SQLite and a 500 on PostgreSQL,
# which cannot hold it; a URL with one passed the outbound guard).
Url = Annotated[Text, Field(min_length=1, max_length=svc.MAX_URL,
                           description="Where events are POSTed (https; the outbound guard applies).")]
Description = Annotated[LongText, Field(max_length=1000)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(_In):
    url: Url
    event_types: EventTypes
    description: Description | None = None
    enabled: bool = True


class EndpointUpdate(_In):
    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class EndpointPublic(BaseModel):
    id: int
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    health: Literal["ok", "failing", "disabled"]
    health_reason: str | None
    failing_since: datetime | None
    last_success_at: datetime | None
    previous_secret_signs_until: datetime | None = Field(
        description="During a rotation's overlap, until when the replaced secret also signs.")
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointPublic):
    secret: str = Field(description="The signing secret (whsec_…), shown this once.")


class TestQueued(BaseModel):
    event_id: int
    type: str = "webhook.test"


class Delivery(BaseModel):
    id: int
    event_id: int
    webhook_id: str = Field(description="The webhook-id header: the same on every attempt and redelivery.")
    type: str
    status: Literal["pending", "processing", "delivered", "failed"]
    attempts: int
    response_code: int | None
    latency_ms: int | None
    response_body: str | None = Field(description="The first 1 KB of the last answer.")
    error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    requested: bool = Field(description=(
        "Asked for by an admin (a test event or a redelivery): sent before the endpoint's other due "
        "deliveries, on each attempt until delivered or failed. A failing endpoint gets 2 deliveries in "
        "flight per worker until its first success; the rest wait pending (not attempts)."))


class RedeliverRequest(_In):
    event_id: Id | None = None
    since: datetime | None = Field(default=None, alias="from", description="Start of a time range (inclusive).")
    until: datetime | None = Field(default=None, alias="to", description="End of a time range (exclusive).")


class Redelivered(BaseModel):
    queued: int


def public(ep: WebhookEndpoint) -> EndpointPublic:
    now = datetime.now(UTC)
    return EndpointPublic(
        id=stored_id(ep), url=ep.url, event_types=list(ep.event_types), description=ep.description,
        enabled=ep.enabled, health=ep.health,  # one of the three, by construction
        health_reason=ep.health_reason, failing_since=svc.aware(ep.failing_since),
        last_success_at=svc.aware(ep.last_success_at), previous_secret_signs_until=svc.previous_running(ep, now),
        created_at=svc.aware(ep.created_at) or ep.created_at, updated_at=svc.aware(ep.updated_at) or ep.updated_at,
    )


def _with_secret(ep: WebhookEndpoint, secret: str) -> EndpointWithSecret:
    return EndpointWithSecret(**public(ep).model_dump(), secret=secret)


@router.post("", status_code=201, response_model=EndpointWithSecret)
def create_endpoint(body: EndpointCreate, caller: AdminCaller, session: SessionDep,
                    settings: SettingsDep) -> EndpointWithSecret:
    """Subscribe a URL to event types; the signing secret is in the answer, this once."""
    ep, secret = svc.create_endpoint(session, settings, caller.org_id, url=body.url, event_types=body.event_types,
                                     description=body.description, enabled=body.enabled)
    return _with_secret(ep, secret)


@router.get("", response_model=list[EndpointPublic])
def list_endpoints(caller: ReadCaller, session: SessionDep) -> list[EndpointPublic]:
    return [public(ep) for ep in svc.list_endpoints(session, caller.org_id)]


@router.get("/{endpoint_id}", response_model=EndpointPublic)
def get_endpoint(endpoint_id: Id, caller: ReadCaller, session: SessionDep) -> EndpointPublic:
    return public(svc.get_endpoint(session, caller.org_id, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointPublic)
def update_endpoint(endpoint_id: Id, body: EndpointUpdate, caller: AdminCaller, session: SessionDep,
                    settings: SettingsDep) -> EndpointPublic:
    """Change what is given. ``enabled: true`` re-enables an endpoint the worker disabled."""
    return public(svc.update_endpoint(session, settings, caller.org_id, endpoint_id, url=body.url,
                                      event_types=body.event_types, description=body.description,
                                      enabled=body.enabled))


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: Id, caller: AdminCaller, session: SessionDep) -> Response:
    """Unsubscribe: the endpoint and its delivery log go."""
    svc.delete_endpoint(session, caller.org_id, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
def rotate_secret(
    endpoint_id: Id, caller: AdminCaller, session: SessionDep, settings: SettingsDep,
    overlap_hours: Annotated[int, Query(ge=0, le=svc.MAX_OVERLAP_HOURS,
                                        description="How long the replaced secret also signs.")
                             ] = svc.DEFAULT_OVERLAP_HOURS,
    force: Annotated[bool, Query(description="Rotate although a previous overlap is still running "
                                             "(ends it now); without it that is a 409.")] = False,
) -> EndpointWithSecret:
    """A new secret, shown once; during the overlap both sign each delivery."""
    ep, secret = svc.rotate_secret(session, settings, caller.org_id, endpoint_id,
                                   overlap=timedelta(hours=overlap_hours), force=force)
    return _with_secret(ep, secret)


@router.post("/{endpoint_id}/test", status_code=202, response_model=TestQueued)
def send_test(endpoint_id: Id, caller: AdminCaller, session: SessionDep) -> TestQueued:
    """Queue a ``webhook.test`` event for this endpoint; see its delivery in ``…/deliveries``.

    It is sent before the endpoint's other due deliveries: a failing endpoint gets only 2
    deliveries in flight per worker until a success, and its backlog waits, but a test event
    (like a redelivery) takes its next free slot. A 2xx answer makes the endpoint ``ok`` and
    lifts that limit at once."""
    return TestQueued(event_id=svc.send_test(session, caller.org_id, endpoint_id))


@router.get("/{endpoint_id}/deliveries", response_model=list[Delivery])
def list_deliveries(
    endpoint_id: Id, caller: ReadCaller, session: SessionDep,
    status: Annotated[Literal["pending", "processing", "delivered", "failed"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[Id | None, Query(description="Page on: deliveries older than this id.")] = None,
) -> list[Delivery]:
    """The delivery log, newest first."""
    rows = svc.list_deliveries(session, caller.org_id, endpoint_id, status=status, limit=limit, before_id=before_id)
    return [Delivery(id=r.id, event_id=r.event_id, webhook_id=r.msg_id, type=r.type, status=r.status,
                     attempts=r.attempts, response_code=r.response_code, latency_ms=r.latency_ms,
                     response_body=r.response_body, error=r.error, created_at=r.created_at,
                     last_attempt_at=r.last_attempt_at, next_attempt_at=r.next_attempt_at,
                     delivered_at=r.delivered_at, requested=r.requested) for r in rows]


@router.post("/{endpoint_id}/redeliver", response_model=Redelivered)
def redeliver(endpoint_id: Id, body: RedeliverRequest, caller: AdminCaller, session: SessionDep) -> Redelivered:
    """Send again one event (``event_id``) or the events of a time range (``from``, ``to``) of the last
    30 days, with the same ``webhook-id``.

    Redelivered deliveries are sent before the endpoint's other due deliveries (its backlog), on
    each attempt until delivered or failed; among themselves, and after them the backlog, oldest
    due first. Their retry schedule starts afresh."""
    return Redelivered(queued=svc.redeliver(session, caller.org_id, endpoint_id, event_id=body.event_id,
                                            since=body.since, until=body.until))
