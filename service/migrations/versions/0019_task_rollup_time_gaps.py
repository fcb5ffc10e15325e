"""task_rollup: the progress view's time gaps (issue 20)

- ``task_rollup.untimed_n``: the tasks with neither a remaining figure nor an original estimate;
- ``task_rollup.stand_in``: Σ original estimate (seconds) of the tasks without a remaining figure.

Both per rollup row (every status; the progress view reads the open ones: METRICS.md, percent
complete by time), so the view no longer scans the tasks for them. The existing rows are filled
from the alive tasks in one grouped pass, by the rollup's key (organization, project or 0,
source, status category, class: 0 epic or milestone marker, 2 archived, else 1), as
``service.store.rollups`` defines it at this revision; from here on the store keeps them.

Literal DDL and SQL, no application imports.

Revision ID: 0019
Revises: 0018
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

# The same text on both stores: UPDATE … FROM (SQLite 3.33 and later, PostgreSQL).
BACKFILL = """
UPDATE task_rollup SET untimed_n = g.untimed_n, stand_in = g.stand_in
FROM (
    SELECT t.org_id AS org_id, coalesce(t.project_id, 0) AS project_id, t.source_id AS source_id,
           t.status_category AS status_category,
           CASE WHEN t.type = 'epic' OR t.is_milestone THEN 0 WHEN t.archived THEN 2 ELSE 1 END AS cls,
           sum(CASE WHEN t.remaining_seconds IS NULL AND t.estimate_seconds IS NULL THEN 1 ELSE 0 END)
               AS untimed_n,
           sum(CASE WHEN t.remaining_seconds IS NULL THEN coalesce(t.estimate_seconds, 0) ELSE 0 END)
               AS stand_in
    FROM task t
    WHERE t.deleted_at IS NULL
    GROUP BY 1, 2, 3, 4, 5
) AS g
WHERE task_rollup.org_id = g.org_id AND task_rollup.project_id = g.project_id
  AND task_rollup.source_id = g.source_id AND task_rollup.status_category = g.status_category
  AND task_rollup.cls = g.cls
"""


def upgrade() -> None:
    op.add_column('task_rollup', sa.Column('untimed_n', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('task_rollup', sa.Column('stand_in', sa.BigInteger(), nullable=False, server_default='0'))
    op.get_bind().exec_driver_sql(BACKFILL)


def downgrade() -> None:
    op.drop_column('task_rollup', 'stand_in')
    op.drop_column('task_rollup', 'untimed_n')
