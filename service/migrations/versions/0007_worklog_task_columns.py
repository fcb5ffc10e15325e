"""each worklog's task id, project and tombstone, kept by triggers; a covering started index

The budget and workload views' worklog passes joined 200,000 worklogs to 100,000 tasks on the
text key (source_id, external_id) to learn each worklog's project and whether its task is
alive; on PostgreSQL that join was most of the pass. ``worklog.task_id``, ``task_project_id``
and ``task_deleted_at`` carry the three facts on the worklog row, kept by triggers on
``worklog`` and ``task`` (``service.store.worklog_task``) and filled here from the existing
rows. The trigger DDL and the backfill are frozen as literal SQL
(``sql/0007_worklog_task_columns.<dialect>.<upgrade|downgrade>.sql``: what
``service.store.worklog_task`` generated up to commit 7f1dcc5, when this revision still called it).
A later change to the triggers needs a migration of its own, with its own literal DDL.

With the join gone, SQLite's ``ix_task_alive_key`` (migration 0006, which served it) is
dropped: nothing reads it any more. ``ix_worklog_org_started`` becomes
``ix_worklog_org_started_cover``, which also holds every column those passes read: SQLite reads
the costed pass from it instead of the (wider) table rows, about a fifth faster on
``bench/views.py``'s data, and a week's hours are one range of it.

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


# The statements this revision executes, frozen as literal SQL per dialect and direction in
# sql/<this file>.<dialect>.<direction>.sql: no application code is imported, so a later change
# to service.store cannot change what this revision does.
_SQL = Path(__file__).resolve().parent / 'sql'


def _run_frozen(direction: str) -> None:
    conn = op.get_bind()
    text = (_SQL / f'{Path(__file__).stem}.{conn.dialect.name}.{direction}.sql').read_text()
    for statement in re.split(r'^-- statement \d+ .*\n', text, flags=re.MULTILINE)[1:]:
        conn.exec_driver_sql(statement.strip().removesuffix(';'))


_COVER = ('org_id', 'started_at', 'person_id', 'seconds', 'task_project_id', 'task_id', 'task_deleted_at',
          'deleted_at')


def upgrade() -> None:
    op.add_column('worklog', sa.Column('task_id', sa.Integer(), nullable=True))
    op.add_column('worklog', sa.Column('task_project_id', sa.Integer(), nullable=True))
    op.add_column('worklog', sa.Column('task_deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    conn = op.get_bind()
    op.drop_index('ix_worklog_org_started', table_name='worklog')
    _run_frozen('upgrade')  # was worklog_task.rebuild(conn); worklog_task.install(conn)
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
    _run_frozen('downgrade')  # was worklog_task.uninstall(conn)
    op.drop_index('ix_worklog_org_started_cover', table_name='worklog')
    op.create_index('ix_worklog_org_started', 'worklog', ['org_id', 'started_at'], unique=False)
    op.drop_column('worklog', 'task_deleted_at')
    op.drop_column('worklog', 'task_project_id')
    op.drop_column('worklog', 'task_id')
