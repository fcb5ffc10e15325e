"""milestone_change: every due date, released flag, completion time and baseline a milestone had

METRICS.md (Milestones): every due-date change is kept, so slip has a series and ``as_of`` uses
the due date of that moment; a PM can set or reset the baseline. One row per change of one field
(``due_date``, ``released``, ``completed_at``, ``baseline``), with its time and origin
(``first_seen``, ``sync``, ``pm``). Milestones stored before this revision get their first row
on their next sync (nothing is invented for the past: the views say "no history recorded").

Literal DDL, no application imports.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'milestone_change',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('milestone_id', _ID, nullable=False),
        sa.Column('field', sa.String(length=20), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('old_value', sa.String(length=40), nullable=True),
        sa.Column('new_value', sa.String(length=40), nullable=True),
        sa.Column('origin', sa.String(length=20), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['milestone_id'], ['milestone.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_milestone_change_milestone', 'milestone_change', ['milestone_id', 'field', 'at'])


def downgrade() -> None:
    op.drop_index('ix_milestone_change_milestone', table_name='milestone_change')
    op.drop_table('milestone_change')
