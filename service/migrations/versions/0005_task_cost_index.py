"""a partial index on the tasks with a direct cost

The budget view reads the tasks' cost field per project and per creation day. Few tasks
have one (a mapped cost field, mostly on Trello cards), so an index on ``org_id`` restricted
to them lets that pass read those rows only instead of every task.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_task_org_cost',
        'task',
        ['org_id'],
        unique=False,
        postgresql_where=sa.text('cost IS NOT NULL'),
        sqlite_where=sa.text('cost IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index('ix_task_org_cost', table_name='task')
