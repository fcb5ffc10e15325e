"""a lease on a source's webhook registration (issue 21 leftover)

``source.webhook_lease_owner`` / ``webhook_lease_until``: one reconcile of a source's webhooks at
a time across processes (``taskhub apply`` beside ``taskhub serve``); before, only within one.

Literal DDL, no application imports.

Revision ID: 0026
Revises: 0025
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('source', sa.Column('webhook_lease_owner', sa.String(length=100), nullable=True))
    op.add_column('source', sa.Column('webhook_lease_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('source', 'webhook_lease_until')
    op.drop_column('source', 'webhook_lease_owner')
