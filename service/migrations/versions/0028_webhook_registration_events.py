"""the events a webhook registration asked for (issue 23 leftover)

``webhook_registration.events``: the Jira events taskhub registered (Trello's webhooks have no
event list: NULL). When the events taskhub needs grow (issue 23 added ``issuelink_created`` and
``issuelink_deleted``), a registration whose events lack some is shown as outdated and registered
again (``service.webhook_registration.refresh_outdated``). Rows registered before this column:
NULL, not known, so registered again once.

Literal DDL, no application imports.

Revision ID: 0028
Revises: 0027
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.add_column('webhook_registration', sa.Column('events', _JSON, nullable=True))


def downgrade() -> None:
    op.drop_column('webhook_registration', 'events')
