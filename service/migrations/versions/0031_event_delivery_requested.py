"""deliveries an admin asked for (a test event, a redelivery) go before their endpoint's backlog (issue 22)

``event_delivery.requested`` (boolean, false for the outbox's rows): set by "send a test event" and
by a redelivery. The claim reads each endpoint's due rows in two lanes, the requested ones first,
then the rest, each oldest due first; so ``ix_event_delivery_due`` (endpoint_id, status,
next_attempt_at) becomes (endpoint_id, status, requested, next_attempt_at), where each lane is a
range that ends at the first row not yet due (with ``requested`` last, or not in the index, a
lane would read every pending row of a failing endpoint's backlog). Same prefix, so it replaces
the old index: one index to keep up, as before.

Literal DDL, no application imports.

Revision ID: 0031
Revises: 0030
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('event_delivery', sa.Column('requested', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.drop_index('ix_event_delivery_due', table_name='event_delivery')
    op.create_index('ix_event_delivery_due', 'event_delivery', ['endpoint_id', 'status', 'requested', 'next_attempt_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_event_delivery_due', table_name='event_delivery')
    op.create_index('ix_event_delivery_due', 'event_delivery', ['endpoint_id', 'status', 'next_attempt_at'],
                    unique=False)
    op.drop_column('event_delivery', 'requested')  # plain DROP COLUMN (SQLite 3.35+), no batch copy
