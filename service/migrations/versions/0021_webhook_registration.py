"""webhook registrations (issue 21)

- ``webhook_registration``: one row per webhook taskhub registered, or tried to register, for a
  source (a Trello board's, the Jira site's ``target = 'site'``): its state (registered, manual:
  Jira refused a non-admin and the user pastes it, failed, pending), the tool's webhook id, the
  callback URL, why it failed, and the last ping. Deleted with its source.

Literal DDL, no application imports.

Revision ID: 0021
Revises: 0019
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0019'
branch_labels = None
depends_on = None

# Keys are 64-bit on PostgreSQL from 0012 on, SQLite keeps INTEGER rowids.
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'webhook_registration',
        sa.Column('id', _ID, nullable=False),
        sa.Column('source_id', _ID, nullable=False),
        sa.Column('target', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('remote_id', sa.String(length=100), nullable=True),
        sa.Column('callback_url', sa.String(length=500), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ping_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ping_detail', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['source_id'], ['source.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_id', 'target', name='uq_webhook_registration'),
    )


def downgrade() -> None:
    op.drop_table('webhook_registration')
