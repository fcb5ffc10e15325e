"""update triggers: old and new rows paired by grouping

The PostgreSQL statement triggers on updates paired the old and new transition rows with a
join. In ``service.store.worklog_task``'s trigger on task, which runs with hash and merge
joins off (to probe the worklog index), that join was a nested loop: quadratic in the rows one
statement updates (2,000 tasks took 3 s, 8,000 a minute). The rollups' triggers could be
planned the same way, and are whenever such a function's writes fire them (its settings hold
for the triggers it fires). All of them now pair the versions with a GROUP BY
(``store.common.pg_signed_rows``). The trigger DDL is the modules' at upgrade time; SQLite's
row triggers are unchanged and reinstalled as they are.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

from alembic import op

from service.store import rollup, worklog_task

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    worklog_task.uninstall(conn)
    worklog_task.install(conn)
    rollup.uninstall(conn)
    rollup.install(conn)


def downgrade() -> None:
    pass  # the pairing is an implementation detail: the older joins give the same rows, slowly
