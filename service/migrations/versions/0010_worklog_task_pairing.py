"""update triggers: old and new rows paired by grouping

The PostgreSQL statement triggers on updates paired the old and new transition rows with a
join. In ``service.store.worklog_task``'s trigger on task, which runs with hash and merge
joins off (to probe the worklog index), that join was a nested loop: quadratic in the rows one
statement updates (2,000 tasks took 3 s, 8,000 a minute). The rollups' triggers could be
planned the same way, and are whenever such a function's writes fire them (its settings hold
for the triggers it fires). All of them now pair the versions with a GROUP BY
(``store.common.pg_signed_rows``). The trigger DDL is frozen as literal SQL
(``sql/0010_worklog_task_pairing.<dialect>.<upgrade|downgrade>.sql``: what
``service.store.worklog_task`` and ``rollup`` generated up to commit 7f1dcc5, when this revision still called it).
A later change to the triggers needs a migration of its own, with its own literal DDL.
SQLite's row triggers are unchanged and reinstalled as they are.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

import re
from pathlib import Path

from alembic import op

revision = '0010'
down_revision = '0009'
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
    # was worklog_task.uninstall(conn); worklog_task.install(conn); rollup.uninstall(conn); rollup.install(conn)
    _run_frozen('upgrade')


def downgrade() -> None:
    pass  # the pairing is an implementation detail: the older joins give the same rows, slowly
