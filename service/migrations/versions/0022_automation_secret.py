"""automation secret (issue 22)

- ``source.automation_secret_enc``: the per-source secret a Jira Automation "Send web request"
  (or any sender that cannot sign) puts in the ``X-Taskhub-Secret`` header. Separate from the
  webhook secret, which signs Jira's HMAC: a leaked header must not let anyone forge a signed
  webhook. NULL: the automation door of the source is closed.
- ``automation_secret_prev_enc`` / ``automation_secret_prev_until``: the one a rotation replaced,
  accepted until the end of the overlap (the webhook secret's rule, 0013).

Literal DDL, no application imports. ADD/DROP COLUMN works on SQLite 3.35+ and PostgreSQL.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('source', sa.Column('automation_secret_enc', sa.Text(), nullable=True))
    op.add_column('source', sa.Column('automation_secret_prev_enc', sa.Text(), nullable=True))
    op.add_column('source', sa.Column('automation_secret_prev_until', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('source', 'automation_secret_prev_until')
    op.drop_column('source', 'automation_secret_prev_enc')
    op.drop_column('source', 'automation_secret_enc')
