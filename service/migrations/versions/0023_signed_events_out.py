"""signed events out (issue 22)

- ``webhook_endpoint``: an organization's subscriber URL, its event types (JSON list: exact,
  ``family.*`` or ``*``), its signing secret (vault-encrypted) and the replaced one during a
  rotation's overlap, and a source-style health (ok | failing | disabled).
- ``outbox_event``: the transactional outbox: one row per recorded event, written in the
  transaction of the change that causes it, with its payload and its ``webhook-id`` (``msg_id``).
- ``event_delivery``: one row per event and subscribed endpoint: status, attempts, the next
  attempt, the worker's lease, and the last answer (the delivery log).

Literal DDL, no application imports.

Revision ID: 0023
Revises: 0022
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

# Keys are 64-bit on PostgreSQL from 0012 on, SQLite keeps INTEGER rowids.
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'webhook_endpoint',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('event_types', _JSON, nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('secret_enc', sa.Text(), nullable=False),
        sa.Column('secret_prev_enc', sa.Text(), nullable=True),
        sa.Column('secret_prev_until', _TS, nullable=True),
        sa.Column('health', sa.String(length=12), nullable=False),
        sa.Column('health_reason', sa.Text(), nullable=True),
        sa.Column('failing_since', _TS, nullable=True),
        sa.Column('last_success_at', _TS, nullable=True),
        sa.Column('created_at', _TS, nullable=False),
        sa.Column('updated_at', _TS, nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_endpoint_org_id', 'webhook_endpoint', ['org_id'])
    op.create_table(
        'outbox_event',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('type', sa.String(length=60), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('msg_id', sa.String(length=40), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=True),
        sa.Column('occurred_at', _TS, nullable=False),
        sa.Column('payload', _JSON, nullable=False),
        sa.Column('created_at', _TS, nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('msg_id', name='uq_outbox_event_msg_id'),
    )
    op.create_index('ix_outbox_event_org_time', 'outbox_event', ['org_id', 'created_at'])
    op.create_table(
        'event_delivery',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('event_id', _ID, nullable=False),
        sa.Column('endpoint_id', _ID, nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', _TS, nullable=False),
        sa.Column('lease_owner', sa.String(length=100), nullable=True),
        sa.Column('lease_expires_at', _TS, nullable=True),
        sa.Column('last_attempt_at', _TS, nullable=True),
        sa.Column('response_code', sa.Integer(), nullable=True),
        sa.Column('latency_ms', sa.Integer(), nullable=True),
        sa.Column('response_body', sa.Text(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('delivered_at', _TS, nullable=True),
        sa.Column('created_at', _TS, nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_event.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_event_delivery_event_id', 'event_delivery', ['event_id'])
    op.create_index('ix_event_delivery_claim', 'event_delivery', ['status', 'next_attempt_at'])
    op.create_index('ix_event_delivery_due', 'event_delivery', ['endpoint_id', 'status', 'next_attempt_at'])
    op.create_index('ix_event_delivery_endpoint', 'event_delivery', ['endpoint_id', 'created_at'])


def downgrade() -> None:
    op.drop_table('event_delivery')
    op.drop_table('outbox_event')
    op.drop_table('webhook_endpoint')
