"""milestone counts kept by triggers

``milestone_rollup``: per milestone and task class, the alive tasks linked to it and the done
ones, kept by triggers on ``task_milestone`` and ``task`` (``service.store.rollup``) and filled
here from the existing rows. The milestones view reads it for the current state instead of
joining every link with its task.
The trigger DDL and the backfill are frozen as literal SQL
(``sql/0004_milestone_rollup.<dialect>.<upgrade|downgrade>.sql``: what ``service.store.rollup``
generated up to commit 7f1dcc5, when this revision still called it).

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
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
    op.create_table('milestone_rollup',
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('cls', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('tasks', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('milestone_id', 'cls'),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_milestone_rollup_org', 'milestone_rollup', ['org_id'], unique=False)
    _run_frozen('upgrade')  # was rollup.install(conn, tasks=False); rollup.rebuild(conn, tasks=False)


def downgrade() -> None:
    _run_frozen('downgrade')  # was rollup.uninstall(conn, tasks=False)
    op.drop_index('ix_milestone_rollup_org', table_name='milestone_rollup')
    op.drop_table('milestone_rollup')
