"""event state and budget thresholds (issue 22)

- ``event_state``: the last state each state event announced, per subject and kind
  (``milestone:12`` / ``overdue`` → ``true``), so an event fires once per transition.
- ``project.budget_thresholds``: the shares of BAC (in %) whose crossing fires
  ``budget.threshold_crossed``; NULL: the default 50, 80, 100.

Literal DDL, no application imports.

Revision ID: 0024
Revises: 0023
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table(
        'event_state',
        sa.Column('subject', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('state', sa.String(length=100), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('subject', 'kind'),
    )
    op.create_index('ix_event_state_org_id', 'event_state', ['org_id'])
    op.add_column('project', sa.Column('budget_thresholds', _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'budget_thresholds')
    op.drop_index('ix_event_state_org_id', table_name='event_state')
    op.drop_table('event_state')
