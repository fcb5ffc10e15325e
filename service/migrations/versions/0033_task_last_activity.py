"""``task.last_activity_at``: a task's latest activity, kept by the store (issue 23's 2x target)

The latest of the task's change rows (any field) and of its alive worklogs (at the later of
their start and last update): what the risk view's stale signal looked up per task in progress
(two index lookups each, ~60 % of the signal at 25,000 tasks in progress). The store's writes
keep it (``service.store.rollups.keep_activity``); this fills it for the rows stored before.

Literal DDL and SQL, no application imports.

Revision ID: 0033
Revises: 0032
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None

_FILL = """
UPDATE task SET last_activity_at = (
    SELECT max(a.at) FROM (
        SELECT change.changed_at AS at FROM change
        WHERE change.source_id = task.source_id AND change.task_external_id = task.external_id
        UNION ALL
        SELECT CASE WHEN worklog.remote_updated_at > worklog.started_at THEN worklog.remote_updated_at
                    ELSE worklog.started_at END
        FROM worklog
        WHERE worklog.source_id = task.source_id AND worklog.task_external_id = task.external_id
          AND worklog.deleted_at IS NULL
    ) AS a
)
"""


def upgrade() -> None:
    op.add_column('task', sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(_FILL)


def downgrade() -> None:
    op.drop_column('task', 'last_activity_at')
