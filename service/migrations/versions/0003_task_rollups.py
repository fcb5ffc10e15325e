"""task rollups kept by triggers

``task_rollup`` (alive tasks summed per organization, project, source, status category and
class) and ``task_day_rollup`` (counted tasks created and completed per UTC hour), kept by
triggers on ``task`` (``service.store.rollup``) and filled here from the existing rows. The
progress and flow views read them for a whole organization as of now instead of scanning every task.
The trigger DDL and the backfill are frozen as literal SQL
(``sql/0003_task_rollups.<dialect>.<upgrade|downgrade>.sql``: what
``service.store.rollup`` generated up to commit 7f1dcc5, when this revision still called it).
A later change to the triggers needs a migration of its own, with its own literal DDL.

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0003'
down_revision = '0002'
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
    op.create_table('task_rollup',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('status_category', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('pts_n', sa.Integer(), nullable=False),
    sa.Column('pts', sa.Float(), nullable=False),
    sa.Column('sec_n', sa.Integer(), nullable=False),
    sa.Column('sec', sa.BigInteger(), nullable=False),
    sa.Column('time_n', sa.Integer(), nullable=False),
    sa.Column('spent', sa.BigInteger(), nullable=False),
    sa.Column('remaining', sa.BigInteger(), nullable=False),
    sa.Column('completed_n', sa.Integer(), nullable=False),
    sa.Column('created_hi', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('org_id', 'project_id', 'source_id', 'status_category', 'cls'),
    sqlite_with_rowid=False,
    )
    op.create_table('task_day_rollup',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('known', sa.Boolean(), nullable=False),
    sa.Column('bucket', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('org_id', 'source_id', 'cls', 'kind', 'known', 'bucket'),
    sqlite_with_rowid=False,
    )
    _run_frozen('upgrade')  # was rollup.install(conn, milestones=False); rollup.rebuild(conn, milestones=False)


def downgrade() -> None:
    _run_frozen('downgrade')  # was rollup.uninstall(conn, milestones=False)
    op.drop_table('task_day_rollup')
    op.drop_table('task_rollup')
