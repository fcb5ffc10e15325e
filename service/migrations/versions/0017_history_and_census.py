"""status ids on changes, Trello's carried-in hours, the census's interval and findings (issue 19)

- ``change.from_id`` / ``to_id``: the tool's ids of a change's old and new value (a Jira status
  id in a changelog's ``from``/``to``), so a changed status catalogue re-categorizes stored rows
  by id; NULL on rows stored before (re-categorized by name).
- ``worklog.carried_in``: the hours a Trello card already had at its history horizon, one entry
  with no author (METRICS.md "Worklogs from Trello").
- ``source.census_interval_seconds`` (default one day; 0: never by itself): how often the worker
  runs the census that finds deletions and lost access no webhook announced.
- ``sync_run.findings``: what a run found beyond its counts (a census's tombstones).

Literal DDL, no application imports.

Revision ID: 0017
Revises: 0016
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.add_column('change', sa.Column('from_id', sa.String(length=50), nullable=True))
    op.add_column('change', sa.Column('to_id', sa.String(length=50), nullable=True))
    op.add_column('worklog', sa.Column('carried_in', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('source', sa.Column('census_interval_seconds', sa.Integer(), nullable=False,
                                      server_default='86400'))
    op.add_column('sync_run', sa.Column('findings', _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column('sync_run', 'findings')
    op.drop_column('source', 'census_interval_seconds')
    op.drop_column('worklog', 'carried_in')
    op.drop_column('change', 'to_id')
    op.drop_column('change', 'from_id')
