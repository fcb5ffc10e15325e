"""the task's (org_id, status_category) index also orders by completed_at (issue 23's 2x target)

``ix_task_org_category`` (org_id, status_category) becomes ``ix_task_org_category_completed``
(org_id, status_category, completed_at): the completions in the trailing window (the milestones
view's throughput per milestone, read by the risk view too: ``rollups._done_in_window``) are then a
range of the index instead of every done task (40 % of the tasks in bench/views.py's data), and
SQLite, which walked all task_milestone rows with a task lookup each for that query, reads that
range. Same prefix, so it replaces the old index: every lookup by organization and category is
served as before, and there is still one index to keep up.

Literal DDL, no application imports.

Revision ID: 0030
Revises: 0029
"""
from __future__ import annotations

from alembic import op

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_task_org_category_completed', 'task', ['org_id', 'status_category', 'completed_at'],
                    unique=False)
    op.drop_index('ix_task_org_category', table_name='task')


def downgrade() -> None:
    op.create_index('ix_task_org_category', 'task', ['org_id', 'status_category'], unique=False)
    op.drop_index('ix_task_org_category_completed', table_name='task')
