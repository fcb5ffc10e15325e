"""An organization's webhook endpoints: create, change, rotate the secret, test, the delivery log,
redelivery. One set of functions for the API (``service.api.webhook_endpoints``) and the CLI
(``taskhub endpoint``); they raise ``service.errors`` and never commit partway.

- The signing secret is ``whsec_`` + base64 of 32 random bytes (Standard Webhooks' form, what the
  receivers' libraries take as it is), shown once, stored encrypted with the vault.
- Rotation keeps the replaced secret signing for an overlap: every delivery then carries both
  signatures in ``webhook-signature`` (space-separated, as the spec allows), so a receiver
  verifies with either and can switch when it likes.
- Every URL passes the outbound guard's early check here (a clear 422); what protects is the
  connect-time check of the delivery (``service.events.delivery``).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from service import errors
from service.events import catalog, outbox
from service.security.crypto import get_vault
from service.settings import Settings
from service.tables import Event, EventDelivery, WebhookEndpoint, stored_id, table, utcnow

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
SECRET_BYTES = 32
DEFAULT_OVERLAP_HOURS = 24
MAX_OVERLAP_HOURS = 24 * 30
REDELIVERY_DAYS = 30  # events older than this are no longer redelivered (and may be pruned)
MAX_URL = 2000
EV, DL = table(Event), table(EventDelivery)


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def aware(when: datetime | None) -> datetime | None:
    """SQLite gives datetimes back naive (they were stored as UTC)."""
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def check_url(settings: Settings, url: str) -> str:
    """The URL, or ``errors.Invalid`` naming the outbound guard's rule when it is visibly refused."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise errors.Invalid(f"url is longer than {MAX_URL} characters", field="url")
    problem = settings.outbound_policy.registration_problem(url)
    if problem is not None:
        # The guard words its answers for a source's base_url; here the field is ``url``.
        raise errors.Invalid(problem.replace("base_url", "url"), field="url", rule="outbound_guard")
    return url


def check_event_types(types: Sequence[str]) -> list[str]:
    """The subscription, each entry a known type, a ``family.*`` with known types, or ``*``."""
    if not types:
        raise errors.Invalid("event_types must name at least one event type (or \"*\")", field="event_types")
    unknown = [t for t in types if not catalog.is_known_pattern(t)]
    if unknown:
        known = ", ".join(t.name for t in catalog.all_types())
        raise errors.Invalid(f"unknown event type(s) {', '.join(map(repr, unknown))}; known: {known} "
                             "(or family.* or *)", field="event_types")
    return list(dict.fromkeys(types))


def get_endpoint(session: Session, org_id: int, endpoint_id: int, *, for_update: bool = False) -> WebhookEndpoint:
    """The organization's endpoint, else ``NotFound``; ``for_update`` as ``service.sources.get_source``."""
    ep = session.get(WebhookEndpoint, endpoint_id, with_for_update=for_update or None,
                     populate_existing=for_update)
    if ep is None or ep.org_id != org_id:
        raise errors.NotFound(f"webhook endpoint {endpoint_id} not found")
    return ep


def list_endpoints(session: Session, org_id: int) -> list[WebhookEndpoint]:
    return list(session.exec(select(WebhookEndpoint).where(WebhookEndpoint.org_id == org_id)
                             .order_by(col(WebhookEndpoint.id))))


def create_endpoint(session: Session, settings: Settings, org_id: int, *, url: str, event_types: Sequence[str],
                    description: str | None = None, enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (to show once)."""
    secret = generate_secret()
    ep = WebhookEndpoint(org_id=org_id, url=check_url(settings, url), event_types=check_event_types(event_types),
                         description=description, enabled=enabled,
                         secret_enc=get_vault(settings).encrypt(secret),
                         health="ok" if enabled else "disabled")
    session.add(ep)
    session.commit()
    session.refresh(ep)
    return ep, secret


def update_endpoint(session: Session, settings: Settings, org_id: int, endpoint_id: int, *,
                    url: str | None = None, event_types: Sequence[str] | None = None,
                    description: str | None = None, enabled: bool | None = None) -> WebhookEndpoint:
    """Change what is given. Enabling an endpoint (again) makes its health ok and its failing
    period start afresh; disabling it stops its pending deliveries from being sent (they wait)."""
    ep = get_endpoint(session, org_id, endpoint_id)
    if url is not None:
        ep.url = check_url(settings, url)
    if event_types is not None:
        ep.event_types = check_event_types(event_types)
    if description is not None:  # "" clears it
        ep.description = description.strip() or None
    if enabled is not None and enabled != ep.enabled:
        ep.enabled = enabled
        ep.health = "ok" if enabled else "disabled"
        ep.health_reason = None if enabled else "disabled by an admin"
        ep.failing_since = None
    ep.updated_at = utcnow()
    session.add(ep)
    session.commit()
    session.refresh(ep)
    return ep


def delete_endpoint(session: Session, org_id: int, endpoint_id: int) -> None:
    """The endpoint and its delivery log (events stay for the organization's other endpoints)."""
    session.delete(get_endpoint(session, org_id, endpoint_id))
    session.commit()


def previous_running(ep: WebhookEndpoint, now: datetime) -> datetime | None:
    until = aware(ep.secret_prev_until)
    return until if ep.secret_prev_enc is not None and until is not None and until > now else None


def rotate_secret(session: Session, settings: Settings, org_id: int, endpoint_id: int, *,
                  overlap: timedelta = timedelta(hours=DEFAULT_OVERLAP_HOURS), force: bool = False,
                  now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret (shown once); the replaced one keeps signing for ``overlap``. While a previous
    overlap still runs a rotation is a ``Conflict`` unless ``force`` (which ends that overlap), the
    rule of the sources' secrets: a third secret would leave a receiver with two to forget."""
    now = now or utcnow()
    ep = get_endpoint(session, org_id, endpoint_id, for_update=True)
    if previous_running(ep, now) is not None and not force:
        raise errors.Conflict(f"the previous secret of endpoint {endpoint_id} still signs until "
                              f"{previous_running(ep, now)}; rotate with force to end that overlap now")
    secret = generate_secret()
    ep.secret_prev_enc = ep.secret_enc if overlap > timedelta(0) else None
    ep.secret_prev_until = now + overlap if overlap > timedelta(0) else None
    ep.secret_enc = get_vault(settings).encrypt(secret)
    ep.updated_at = now
    session.add(ep)
    session.commit()
    session.refresh(ep)
    return ep, secret


def signing_secrets(settings: Settings, secret_enc: str, prev_enc: str | None, prev_until: datetime | None,
                    now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the replaced one during
    its overlap."""
    vault = get_vault(settings)
    out = [vault.decrypt_str(secret_enc)]
    until = aware(prev_until)
    if prev_enc is not None and until is not None and until > now:
        out.append(vault.decrypt_str(prev_enc))
    return out


def send_test(session: Session, org_id: int, endpoint_id: int) -> int:
    """Queue a ``webhook.test`` event for this endpoint alone (whatever it subscribed to); its id.
    Refused (Conflict) for a disabled endpoint: nothing would send it. Its delivery is
    ``requested``, as a redelivery's: sent before the endpoint's other due deliveries (a failing
    endpoint's backlog waits at 2 attempts a second per worker; the test is how an admin checks
    the fix of their receiver), and its success lifts that throttle at once."""
    ep = get_endpoint(session, org_id, endpoint_id)
    if not ep.enabled:
        raise errors.Conflict(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    data = catalog.validate_data("webhook.test", {"endpoint_id": endpoint_id,
                                                  "message": "A test event from taskhub."})
    conn = session.connection()
    event_id = outbox.record(conn, org_id, catalog.get("webhook.test"), data, [endpoint_id],
                             subject=f"webhook_endpoint:{endpoint_id}")
    conn.execute(sa.update(DL).where(DL.c.event_id == event_id).values(requested=True))
    session.commit()
    return event_id


@dataclass(frozen=True)
class DeliveryRow:
    id: int
    event_id: int
    msg_id: str
    type: str
    status: str
    attempts: int
    response_code: int | None
    latency_ms: int | None
    response_body: str | None
    error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    requested: bool = False


def list_deliveries(session: Session, org_id: int, endpoint_id: int, *, status: str | None = None,
                    limit: int = 100, before_id: int | None = None) -> list[DeliveryRow]:
    """The endpoint's delivery log, newest first (``before_id``: the next page)."""
    get_endpoint(session, org_id, endpoint_id)
    q = (sa.select(DL, EV.c.msg_id, EV.c.type).join(EV, EV.c.id == DL.c.event_id)
         .where(DL.c.endpoint_id == endpoint_id, DL.c.org_id == org_id).order_by(DL.c.id.desc()).limit(limit))
    if status is not None:
        q = q.where(DL.c.status == status)
    if before_id is not None:
        q = q.where(DL.c.id < before_id)
    rows = session.connection().execute(q).all()
    return [DeliveryRow(
        id=r.id, event_id=r.event_id, msg_id=r.msg_id, type=r.type, status=r.status, attempts=r.attempts,
        response_code=r.response_code, latency_ms=r.latency_ms, response_body=r.response_body, error=r.error,
        created_at=aware(r.created_at) or r.created_at, last_attempt_at=aware(r.last_attempt_at),
        next_attempt_at=aware(r.next_attempt_at) if r.status in ("pending", "processing") else None,
        delivered_at=aware(r.delivered_at), requested=bool(r.requested),
    ) for r in rows]


def redeliver(session: Session, org_id: int, endpoint_id: int, *, event_id: int | None = None,
              since: datetime | None = None, until: datetime | None = None, now: datetime | None = None) -> int:
    """Send again the endpoint's deliveries of one event, or of the events recorded in
    [``since``, ``until``); within the last 30 days. Each goes back to pending with a fresh retry
    schedule and the same ``webhook-id``, ``requested``: sent before the endpoint's other due
    deliveries (its backlog), on each attempt until delivered or failed; among themselves, oldest
    due first. Returns how many were queued."""
    now = now or utcnow()
    ep = get_endpoint(session, org_id, endpoint_id)
    if not ep.enabled:
        raise errors.Conflict(f"webhook endpoint {endpoint_id} is disabled; enable it first")
    if (event_id is None) == (since is None and until is None):
        raise errors.Invalid("give either event_id or a time range (from, to)", field="event_id")
    oldest = now - timedelta(days=REDELIVERY_DAYS)
    events = sa.select(EV.c.id).where(EV.c.org_id == org_id, EV.c.created_at >= oldest)
    if event_id is not None:
        events = events.where(EV.c.id == event_id)
    else:
        since, until = aware(since) or oldest, aware(until) or now
        if since >= until:
            raise errors.Invalid("from must be before to", field="from")
        events = events.where(EV.c.created_at >= since, EV.c.created_at < until)
    done = session.connection().execute(
        sa.update(DL).where(DL.c.endpoint_id == stored_id(ep), DL.c.event_id.in_(events),
                            DL.c.status != "processing")
        .values(status="pending", attempts=0, next_attempt_at=now, error=None, lease_owner=None,
                lease_expires_at=None, requested=True)
    ).rowcount
    if event_id is not None and not done:
        session.rollback()
        raise errors.NotFound(f"event {event_id} was not recorded for endpoint {endpoint_id} in the last "
                              f"{REDELIVERY_DAYS} days")
    session.commit()
    return int(done)
