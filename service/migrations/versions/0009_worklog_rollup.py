"""worklog rollup kept by triggers

``worklog_rollup`` (alive worklogs of alive tasks summed per organization, local day,
project and source: count, seconds, seconds × author rate, seconds with no author rate),
kept by triggers on ``worklog`` (``service.store.worklog_rollup``) and filled here from the
existing rows. The budget view over an organization as of now reads it instead of scanning
every worklog. The trigger DDL and the backfill are frozen as literal SQL
(``sql/0009_worklog_rollup.<dialect>.<upgrade|downgrade>.sql``: what
``service.store.worklog_rollup`` generated up to commit 7f1dcc5, when this revision still called it).
A later change to the triggers needs a migration of its own, with its own literal DDL.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
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


def upgrade() -> None:
    op.create_table('worklog_rollup',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.Column('rated', sa.Float(), nullable=False),
    sa.Column('unrated', sa.BigInteger(), nullable=False),
    sa.Column('started_hi', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('org_id', 'day', 'project_id', 'source_id'),
    sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    _run_frozen('upgrade')  # was worklog_rollup.install(conn); worklog_rollup.rebuild(conn)
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('ANALYZE worklog_rollup')


def downgrade() -> None:
    _run_frozen('downgrade')  # was worklog_rollup.uninstall(conn)
    op.drop_table('worklog_rollup')
