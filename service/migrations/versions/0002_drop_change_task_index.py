"""drop ix_change_org_task_at

The per-task history lookups of ``as_of`` views are served as well by the unique
``(source_id, task_external_id, external_id)`` index (measured on 100k tasks / 105k
changes: progress, flow and milestones as of 60 days ago took the same time with and
without it, on SQLite and PostgreSQL), and every synced change row paid for a second
randomly-keyed index (an estimated ~100 of the ~500 pages a Jira backfill writes to the
WAL per page of 100 issues).

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_change_org_task_at', table_name='change')


def downgrade() -> None:
    op.create_index('ix_change_org_task_at', 'change', ['org_id', 'task_external_id', 'changed_at'], unique=False)
