"""Sources (a Jira site or a Trello account) and the state of their syncs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from service.tables.base import ID, _fk, _json, utcnow


class Source(SQLModel, table=True):
    __tablename__ = "source"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_source_org_name"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id")
    kind: str = Field(max_length=10)  # jira | trello
    name: str = Field(max_length=200)
    base_url: str | None = Field(default=None, max_length=500)
    deployment: str | None = Field(default=None, max_length=20)  # cloud | datacenter
    credentials_enc: str | None = Field(default=None, sa_type=sa.Text)
    webhook_secret_enc: str | None = Field(default=None, sa_type=sa.Text)
    # The secret a rotation replaced, still accepted until ``webhook_secret_prev_until``
    # (migration 0013): senders configured with it keep working through the overlap.
    webhook_secret_prev_enc: str | None = Field(default=None, sa_type=sa.Text)
    webhook_secret_prev_until: datetime | None = None
    # The ``X-Taskhub-Secret`` of senders that cannot sign (Jira Automation's "Send web request"),
    # kept apart from the signing secret above, with the same overlap on rotation (migration 0022;
    # service.api.automation_secret). None: the source's automation door is closed.
    automation_secret_enc: str | None = Field(default=None, sa_type=sa.Text)
    automation_secret_prev_enc: str | None = Field(default=None, sa_type=sa.Text)
    automation_secret_prev_until: datetime | None = None
    # Who is registering this source's webhooks, until when (``service.webhook_registration``):
    # one reconcile at a time across processes (``taskhub apply`` beside ``serve``); migration 0026.
    webhook_lease_owner: str | None = Field(default=None, max_length=100)
    webhook_lease_until: datetime | None = None
    scope: Any = _json()
    mapping_profile: Any = _json()
    poll_interval_seconds: int = Field(default=300)
    # How often the worker runs the census (deletions and lost access no webhook announced);
    # 0: never by itself (migration 0017).
    census_interval_seconds: int = Field(default=86400)
    enabled: bool = True
    status: str = Field(default="ok", max_length=20)  # health: ok | failing | degraded (service.sync.runner)
    status_reason: str | None = Field(default=None, sa_type=sa.Text)
    site_info: Any = _json()  # discovered: time zone, field ids, deployment
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class SyncState(SQLModel, table=True):
    __tablename__ = "sync_state"
    __table_args__ = (sa.UniqueConstraint("source_id", "stream", name="uq_sync_state"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    source_id: int = _fk("source.id", index=False)
    stream: str = Field(max_length=50)
    cursor: str | None = Field(default=None, sa_type=sa.Text)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = None
    last_run_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SyncRun(SQLModel, table=True):
    __tablename__ = "sync_run"
    __table_args__ = (sa.Index("ix_sync_run_source", "source_id", "started_at"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    org_id: int = _fk("organization.id", index=False)
    source_id: int = _fk("source.id", index=False)
    mode: str = Field(max_length=20)  # backfill | incremental | census | webhook
    status: str = Field(default="running", max_length=20)  # running | ok | failed
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    api_calls: int = 0
    items_seen: int = 0
    items_changed: int = 0
    errors: int = 0
    error: str | None = Field(default=None, sa_type=sa.Text)
    duration_ms: int | None = None
    # What the run found beyond counts: a census's tombstones and lost access (migration 0017).
    findings: Any = _json()


class WebhookRegistration(SQLModel, table=True):
    """One webhook taskhub registered (or tried to) for a source: a Trello board's, or the Jira site's.

    Kept so the API can show what was registered, what failed and why, and what to paste by hand
    (``service.webhook_registration``; migration 0021). Deleted with its source.
    """

    __tablename__ = "webhook_registration"
    __table_args__ = (sa.UniqueConstraint("source_id", "target", name="uq_webhook_registration"),)
    id: int | None = Field(default=None, primary_key=True, sa_type=ID)
    source_id: int = _fk("source.id", index=False)
    target: str = Field(max_length=100)  # a Trello board id; "site" for Jira
    state: str = Field(max_length=20)  # registered | manual | failed | pending
    remote_id: str | None = Field(default=None, max_length=100)  # the tool's webhook id
    callback_url: str = Field(max_length=500)
    detail: str | None = Field(default=None, sa_type=sa.Text)  # why it failed, or what to do
    registered_at: datetime | None = None
    ping_at: datetime | None = None  # the last ping; a delivery accepted after it confirms it
    ping_detail: str | None = Field(default=None, sa_type=sa.Text)
    updated_at: datetime = Field(default_factory=utcnow)
    # The Jira events registered (Trello: none, its webhooks have no event list; NULL also for a
    # row registered before migration 0028): fewer than taskhub needs now is "outdated".
    events: Any = _json()
