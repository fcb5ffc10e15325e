"""Observed estimate changes stored before this revision name their unit (issue 23 review)

A sync that saw a task's estimate change wrote one ``change`` row, ``field = 'estimate'``, holding
the points when the task had points, else the seconds, without saying which: the risk view's scope
creep read it in the unit the task has at read time, so a task whose points were removed read as
5 *seconds*, a Trello card given points after hours as 14,400 *points*. The store now writes one
row per unit that changed, named as Jira's changelog names them (``points``; ``estimate`` in
seconds). This rewrites the older observed rows of tasks that have points now as ``points`` — the
rule the view applied at read time until now, applied once; their unit cannot be known better.

Literal SQL, no application imports. Downgrade leaves the rows (older code reads ``points`` rows
as Jira's own).

Revision ID: 0032
Revises: 0031
"""
from __future__ import annotations

from alembic import op

revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE change SET field = 'points' WHERE field = 'estimate' AND origin = 'observed' AND EXISTS ("
        "SELECT 1 FROM task t WHERE t.source_id = change.source_id AND t.external_id = change.task_external_id "
        "AND t.estimate_points IS NOT NULL)"
    )


def downgrade() -> None:
    pass
