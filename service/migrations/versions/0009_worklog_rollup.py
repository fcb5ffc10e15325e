"""worklog rollup kept by triggers

``worklog_rollup`` (alive worklogs of alive tasks summed per organization, local day,
project and source: count, seconds, seconds × author rate, seconds with no author rate),
kept by triggers on ``worklog`` (``service.store.worklog_rollup``) and filled here from the
existing rows. The budget view over an organization as of now reads it instead of scanning
every worklog. The trigger DDL is ``service.store.worklog_rollup``'s at upgrade time: a later
change to it needs a migration of its own that calls ``uninstall`` and ``install`` (and
``rebuild`` if what the rows mean changes).

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from service.store import worklog_rollup

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


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
    worklog_rollup.install(conn)
    worklog_rollup.rebuild(conn)
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('ANALYZE worklog_rollup')


def downgrade() -> None:
    worklog_rollup.uninstall(op.get_bind())
    op.drop_table('worklog_rollup')
