"""each worklog's task id, project and tombstone, kept by triggers; a covering started index

The budget and workload views' worklog passes joined 200,000 worklogs to 100,000 tasks on the
text key (source_id, external_id) to learn each worklog's project and whether its task is
alive; on PostgreSQL that join was most of the pass. ``worklog.task_id``, ``task_project_id``
and ``task_deleted_at`` carry the three facts on the worklog row, kept by triggers on
``worklog`` and ``task`` (``service.store.worklog_task``) and filled here from the existing
rows. The trigger DDL is that module's at upgrade time: a later change to it needs a migration
of its own that calls ``uninstall`` and ``install``.

With the join gone, SQLite's ``ix_task_alive_key`` (migration 0006, which served it) is
dropped: nothing reads it any more. ``ix_worklog_org_started`` becomes
``ix_worklog_org_started_cover``, which also holds every column those passes read: SQLite reads
the costed pass from it instead of the (wider) table rows, about a fifth faster on
``bench/views.py``'s data, and a week's hours are one range of it.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from service.store import worklog_task

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_COVER = ('org_id', 'started_at', 'person_id', 'seconds', 'task_project_id', 'task_id', 'task_deleted_at',
          'deleted_at')


def upgrade() -> None:
    op.add_column('worklog', sa.Column('task_id', sa.Integer(), nullable=True))
    op.add_column('worklog', sa.Column('task_project_id', sa.Integer(), nullable=True))
    op.add_column('worklog', sa.Column('task_deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    conn = op.get_bind()
    op.drop_index('ix_worklog_org_started', table_name='worklog')
    worklog_task.rebuild(conn)
    worklog_task.install(conn)
    op.create_index('ix_worklog_org_started_cover', 'worklog', list(_COVER), unique=False)
    if conn.dialect.name == 'postgresql':  # statistics for the new columns, which the views filter on
        conn.exec_driver_sql('ANALYZE worklog')
    if conn.dialect.name == 'sqlite':
        op.drop_index('ix_task_alive_key', table_name='task')


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        op.create_index('ix_task_alive_key', 'task', ['source_id', 'external_id', 'project_id'], unique=False,
                        sqlite_where=sa.text('deleted_at IS NULL'))
    worklog_task.uninstall(conn)
    op.drop_index('ix_worklog_org_started_cover', table_name='worklog')
    op.create_index('ix_worklog_org_started', 'worklog', ['org_id', 'started_at'], unique=False)
    op.drop_column('worklog', 'task_deleted_at')
    op.drop_column('worklog', 'task_project_id')
    op.drop_column('worklog', 'task_id')
