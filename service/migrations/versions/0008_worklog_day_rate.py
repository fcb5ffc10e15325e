"""each worklog's local start day and its author's rate, kept by triggers; the covering index leads by day

The budget view priced every worklog at read time (a rate lookup per worklog, which on SQLite
cost more than the scan) and grouped by its local day, an expression: SQLite sorted 200,000
rows for it and PostgreSQL had no statistics for it. ``worklog.started_day`` and
``author_rate`` carry both on the row, kept by triggers on ``worklog``, ``person_rate`` and
``organization`` (``service.store.worklog_day``) and filled here from the existing rows. The
trigger DDL is that module's at upgrade time: a later change to it needs a migration of its
own that calls ``uninstall`` and ``install``.

``ix_worklog_org_started_cover`` becomes ``ix_worklog_org_day_cover``: (org_id, started_day,
started_at, …) plus the rate, so SQLite reads the days in order and sums them without a sort,
and a week's hours are still one range of it.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store import worklog_day

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_COVER = ('org_id', 'started_day', 'started_at', 'person_id', 'seconds', 'task_project_id', 'task_id',
          'task_deleted_at', 'deleted_at', 'author_rate')
_OLD_COVER = ('org_id', 'started_at', 'person_id', 'seconds', 'task_project_id', 'task_id', 'task_deleted_at',
              'deleted_at')


def upgrade() -> None:
    op.add_column('worklog', sa.Column('started_day', sa.Date(), nullable=True))
    op.add_column('worklog', sa.Column('author_rate', sa.Float(), nullable=True))
    conn = op.get_bind()
    op.drop_index('ix_worklog_org_started_cover', table_name='worklog')
    worklog_day.rebuild(conn)
    worklog_day.install(conn)
    op.create_index('ix_worklog_org_day_cover', 'worklog', list(_COVER), unique=False)
    if conn.dialect.name == 'postgresql':  # statistics for the new columns, which the views group by
        conn.exec_driver_sql('ANALYZE worklog')


def downgrade() -> None:
    conn = op.get_bind()
    worklog_day.uninstall(conn)
    op.drop_index('ix_worklog_org_day_cover', table_name='worklog')
    op.create_index('ix_worklog_org_started_cover', 'worklog', list(_OLD_COVER), unique=False)
    op.drop_column('worklog', 'author_rate')
    op.drop_column('worklog', 'started_day')
