"""workload rollup kept by triggers

``workload_rollup`` (open tasks summed per organization, project, source, due date, class,
assignee and share count: count, story points, estimate seconds), kept by triggers on
``task`` and ``task_assignee`` (``service.store.workload_rollup``) and filled here from the
existing rows. The workload view over an organization as of now reads it instead of scanning
every task and joining its assignees. The trigger DDL is ``service.store.workload_rollup``'s at
upgrade time: a later change to it needs a migration of its own that calls ``uninstall`` and
``install`` (and ``rebuild`` if what the rows mean changes).

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store import workload_rollup

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


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
    workload_rollup.install(conn)
    workload_rollup.rebuild(conn)
    if conn.dialect.name == 'postgresql':
        conn.exec_driver_sql('ANALYZE workload_rollup')


def downgrade() -> None:
    workload_rollup.uninstall(op.get_bind())
    op.drop_table('workload_rollup')
