"""the worklog's per-task index covers the risk view's latest-worklog lookup (issue 23's 2x target)

``ix_worklog_task`` (source_id, task_external_id) becomes ``ix_worklog_task_cover`` (source_id,
task_external_id, started_at, remote_updated_at, deleted_at): the stale signal looks up each task
in progress's latest worklog by ``as_of`` (started_at, remote_updated_at, deleted_at), and read
every matching row from the table for it. The same prefix serves every lookup the old index served,
so it replaces it (one index to keep up, as before).

Literal DDL, no application imports.

Revision ID: 0029
Revises: 0028
"""
from __future__ import annotations

from alembic import op

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

_COVER = ('source_id', 'task_external_id', 'started_at', 'remote_updated_at', 'deleted_at')


def upgrade() -> None:
    op.create_index('ix_worklog_task_cover', 'worklog', list(_COVER), unique=False)
    op.drop_index('ix_worklog_task', table_name='worklog')


def downgrade() -> None:
    op.create_index('ix_worklog_task', 'worklog', ['source_id', 'task_external_id'], unique=False)
    op.drop_index('ix_worklog_task_cover', table_name='worklog')
