"""workload rollup kept by triggers

``workload_rollup`` (open tasks summed per organization, project, source, due date, class,
assignee and share count: count, story points, estimate seconds), kept by triggers on
``task`` and ``task_assignee`` (``service.store.workload_rollup``) and filled here from the
existing rows. The workload view over an organization as of now reads it instead of scanning
every task and joining its assignees. The trigger DDL and the backfill are
frozen as literal SQL (``sql/0011_workload_rollup.<dialect>.<upgrade|downgrade>.sql``: what
``service.store.workload_rollup`` generated up to commit 7f1dcc5, when this revision still called
it). A later change to the triggers needs a migration of its own, with its own literal DDL.

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
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
    op.create_table('workload_rollup',
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('shares', sa.Integer(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('seconds', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('org_id', 'project_id', 'source_id', 'due_date', 'cls', 'person_id', 'shares'),
    sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    _run_frozen('upgrade')  # was workload_rollup.install(conn); workload_rollup.rebuild(conn)
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('ANALYZE workload_rollup')


def downgrade() -> None:
    _run_frozen('downgrade')  # was workload_rollup.uninstall(conn)
    op.drop_table('workload_rollup')
