"""an index of an organization's tasks by type (issue 23's 2x target)

``ix_task_org_type`` (org_id, type): the quality view as of now reads the organization's bugs
(15 % of the tasks in bench/views.py's data) and the tasks done in the trailing window as two
index ranges (a BitmapOr on PostgreSQL, SQLite's OR by union) instead of every task of the
organization: its task pass 65-100 -> ~41 ms on PostgreSQL, ~300 -> ~110-190 ms on SQLite at
100,000 tasks (loaded machine).

Literal DDL, no application imports.

Revision ID: 0034
Revises: 0033
"""
from __future__ import annotations

from alembic import op

revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_task_org_type', 'task', ['org_id', 'type'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_task_org_type', table_name='task')
