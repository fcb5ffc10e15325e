"""partial indexes on the rollups' rows with a zero count

A store write takes the sums of the rows it touches away from each rollup, writes, and adds
them back, all in the database; the rows whose count ends at zero are deleted before the
transaction commits. These partial indexes hold only such rows, so finding them costs nothing
however large the source (issue 17: sync CPU).

Literal DDL, no application imports.

Revision ID: 0016
Revises: 0015
"""
from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

_EMPTIED = (("task_rollup", "n"), ("task_day_rollup", "n"), ("milestone_rollup", "tasks"),
            ("workload_rollup", "n"), ("worklog_rollup", "n"))


def upgrade() -> None:
    for table, count in _EMPTIED:
        op.execute(f"CREATE INDEX ix_{table}_emptied ON {table} (source_id) WHERE {count} = 0")


def downgrade() -> None:
    for table, _ in _EMPTIED:
        op.execute(f"DROP INDEX ix_{table}_emptied")
