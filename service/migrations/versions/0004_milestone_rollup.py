"""milestone counts kept by triggers

``milestone_rollup``: per milestone and task class, the alive tasks linked to it and the done
ones, kept by triggers on ``task_milestone`` and ``task`` (``service.store.rollup``) and filled
here from the existing rows. The milestones view reads it for the current state instead of
joining every link with its task.

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store import rollup

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('milestone_rollup',
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('tasks', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('milestone_id', 'cls'),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_milestone_rollup_org', 'milestone_rollup', ['org_id'], unique=False)
    conn = op.get_bind()
    rollup.install(conn, tasks=False)
    rollup.rebuild(conn, tasks=False)


def downgrade() -> None:
    rollup.uninstall(op.get_bind(), tasks=False)
    op.drop_index('ix_milestone_rollup_org', table_name='milestone_rollup')
    op.drop_table('milestone_rollup')
