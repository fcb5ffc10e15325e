"""each worklog's local start day and its author's rate, kept by triggers; the covering index leads by day

The budget view priced every worklog at read time (a rate lookup per worklog, which on SQLite
cost more than the scan) and grouped by its local day, an expression: SQLite sorted 200,000
rows for it and PostgreSQL had no statistics for it. ``worklog.started_day`` and
``author_rate`` carry both on the row, kept by triggers on ``worklog``, ``person_rate`` and
``organization`` (``service.store.worklog_day``) and filled here from the existing rows. The
trigger DDL and the backfill are frozen as literal SQL
(``sql/0008_worklog_day_rate.<dialect>.<upgrade|downgrade>.sql``: what
``service.store.worklog_day`` generated up to commit 7f1dcc5, when this revision still called
it). A later change to the triggers needs a migration of its own, with its own literal DDL.
On SQLite the backfill and the triggers call ``taskhub_local_day``, a Python function: this
revision registers a frozen copy of it for its backfill, and every connection taskhub opens
registers ``service.store.worklog_day.local_day`` (``service.db``); a SQLite connection without
it cannot write worklogs.

``ix_worklog_org_started_cover`` becomes ``ix_worklog_org_day_cover``: (org_id, started_day,
started_at, …) plus the rate, so SQLite reads the days in order and sums them without a sort,
and a week's hours are still one range of it.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
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


def _local_day(stored: str | None, zone: str | None) -> str | None:
    """SQLite's ``taskhub_local_day(started_at, zone)``, which the backfill and the SQLite triggers
    of this revision call: the ISO local date of a stored UTC timestamp in an IANA zone. A copy of
    ``service.store.worklog_day.local_day`` as of the freeze; every connection taskhub opens
    registers that one (``service.db``), without which a SQLite connection cannot write worklogs."""
    if stored is None or zone is None:
        return None
    at = datetime.fromisoformat(stored).replace(tzinfo=UTC)
    return at.astimezone(ZoneInfo(zone)).date().isoformat()


_COVER = ('org_id', 'started_day', 'started_at', 'person_id', 'seconds', 'task_project_id', 'task_id',
          'task_deleted_at', 'deleted_at', 'author_rate')
_OLD_COVER = ('org_id', 'started_at', 'person_id', 'seconds', 'task_project_id', 'task_id', 'task_deleted_at',
              'deleted_at')


def upgrade() -> None:
    op.add_column('worklog', sa.Column('started_day', sa.Date(), nullable=True))
    op.add_column('worklog', sa.Column('author_rate', sa.Float(), nullable=True))
    conn = op.get_bind()
    op.drop_index('ix_worklog_org_started_cover', table_name='worklog')
    if conn.dialect.name == 'sqlite':  # the backfill calls it (so do the triggers, on later writes)
        conn.connection.driver_connection.create_function('taskhub_local_day', 2, _local_day, deterministic=True)
    _run_frozen('upgrade')  # was worklog_day.rebuild(conn); worklog_day.install(conn)
    op.create_index('ix_worklog_org_day_cover', 'worklog', list(_COVER), unique=False)
    if conn.dialect.name == 'postgresql':  # statistics for the new columns, which the views group by
        conn.exec_driver_sql('ANALYZE worklog')


def downgrade() -> None:
    _run_frozen('downgrade')  # was worklog_day.uninstall(conn)
    op.drop_index('ix_worklog_org_day_cover', table_name='worklog')
    op.create_index('ix_worklog_org_started_cover', 'worklog', list(_OLD_COVER), unique=False)
    op.drop_column('worklog', 'author_rate')
    op.drop_column('worklog', 'started_day')
