"""Jira Flagged change rows stored before issue 23 read as the ``flagged`` field (issue 23 review)

Before 0025's mapping, a Jira changelog item of the Flagged field was stored under its display
name, ``field = 'Flagged'``, with the option's text (``to_value = 'Impediment'``, cleared: null).
Changes are inserted once per (source, external id), so a re-sync never rewrites them, and the
risk view reads only ``field = 'flagged'`` with ``'true'`` / ``'false'``: a flag set before the
upgrade had no ``blocked_since`` and ``as_of`` in the past ignored its set and clear. This
migration rewrites those rows as the changelog reader now writes them (any value set: ``'true'``,
null / empty / ``[]``: ``'false'``) and sets ``task.flagged`` on the Jira tasks whose latest such
row sets it (0025 added the column as false; a task's next sync or ``taskhub remap`` confirms it).

Literal SQL, no application imports. Downgrade leaves the rows (older code reads neither spelling).

Revision ID: 0027
Revises: 0026
"""
from __future__ import annotations

from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

_SET = "CASE WHEN {c} IS NULL OR TRIM({c}) IN ('', '[]') THEN 'false' ELSE 'true' END"
_JIRA = "source_id IN (SELECT id FROM source WHERE kind = 'jira')"


def upgrade() -> None:
    op.execute(
        f"UPDATE task SET flagged = TRUE WHERE {_JIRA} AND ("
        "SELECT c.to_value FROM change c WHERE c.source_id = task.source_id "
        "AND c.task_external_id = task.external_id AND c.field = 'Flagged' "
        "ORDER BY c.changed_at DESC, c.id DESC LIMIT 1) NOT IN ('', '[]')"
    )
    op.execute(
        f"UPDATE change SET field = 'flagged', from_value = {_SET.format(c='from_value')}, "
        f"to_value = {_SET.format(c='to_value')} WHERE field = 'Flagged' AND {_JIRA}"
    )


def downgrade() -> None:
    pass
