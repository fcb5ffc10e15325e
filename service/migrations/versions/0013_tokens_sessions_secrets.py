"""token expiry, server-side dashboard sessions, webhook-secret overlap, the inbox replay guard

- ``api_token.expires_at``: an optional end of life (NULL: never).
- ``dashboard_session``: one row per dashboard sign-in, keyed by the SHA-256 of the random
  secret sealed in the cookie; signing out deletes it, so a kept cookie stops working.
- ``source.webhook_secret_prev_enc`` / ``webhook_secret_prev_until``: the webhook secret a
  rotation replaced, accepted until the end of the overlap.
- ``inbox_event.body_ts`` (the event time the body carries) and ``body_digest`` (the first 64
  bits of its SHA-256), under the partial unique index ``uq_inbox_body`` on (source_id, body_ts,
  body_digest): a byte-identical body already received for the source is a duplicate, whatever
  its unsigned delivery identifier says. Rows received before this revision keep NULL (outside
  the index), so the guard covers deliveries from the upgrade on.

Literal DDL, no application imports: the models may change later, this revision may not.
Every statement works on SQLite (ADD/DROP COLUMN, CREATE/DROP INDEX; SQLite 3.35+) and
PostgreSQL.

Revision ID: 0013
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# Keys are 64-bit on PostgreSQL from 0012 on, SQLite keeps INTEGER rowids.
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('api_token', sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('source', sa.Column('webhook_secret_prev_enc', sa.Text(), nullable=True))
    op.add_column('source', sa.Column('webhook_secret_prev_until', sa.DateTime(timezone=True), nullable=True))
    op.add_column('inbox_event', sa.Column('body_ts', sa.BigInteger(), nullable=True))
    op.add_column('inbox_event', sa.Column('body_digest', sa.BigInteger(), nullable=True))
    op.create_index('uq_inbox_body', 'inbox_event', ['source_id', 'body_ts', 'body_digest'], unique=True,
                    sqlite_where=sa.text('body_digest IS NOT NULL'),
                    postgresql_where=sa.text('body_digest IS NOT NULL'))
    op.create_table(
        'dashboard_session',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('token_id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_dashboard_session_token_id', 'dashboard_session', ['token_id'], unique=False)
    op.create_index('ix_dashboard_session_expires_at', 'dashboard_session', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_dashboard_session_expires_at', table_name='dashboard_session')
    op.drop_index('ix_dashboard_session_token_id', table_name='dashboard_session')
    op.drop_table('dashboard_session')
    op.drop_index('uq_inbox_body', table_name='inbox_event')
    op.drop_column('inbox_event', 'body_digest')
    op.drop_column('inbox_event', 'body_ts')
    op.drop_column('source', 'webhook_secret_prev_until')
    op.drop_column('source', 'webhook_secret_prev_enc')
    op.drop_column('api_token', 'expires_at')
