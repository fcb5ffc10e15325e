"""risk, quality and status reports (issue 23)

- ``task.flagged``: marked blocked in the tool (Jira Flagged, a Trello label the profile names).
- ``task.affected_versions``: Jira ``versions`` (escaped defects).
- ``task_link``: Jira issue links as each side holds them, with their role and tombstone.
- ``project.risk_thresholds``: per-project overrides of the risk view's thresholds.
- ``risk_item``: a project's risk register.
- ``status_report``: weekly status reports, stored as snapshots.

Literal DDL, no application imports.

Revision ID: 0025
Revises: 0024
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column('task', sa.Column('flagged', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('task', sa.Column('affected_versions', _JSON, nullable=True))
    op.add_column('project', sa.Column('risk_thresholds', _JSON, nullable=True))
    op.create_table(
        'task_link',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('source_id', _ID, nullable=False),
        sa.Column('task_external_id', sa.String(length=100), nullable=False),
        sa.Column('external_id', sa.String(length=100), nullable=False),
        sa.Column('link_type', sa.String(length=100), nullable=False),
        sa.Column('direction', sa.String(length=10), nullable=False),
        sa.Column('phrase', sa.String(length=100), nullable=True),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('other_external_id', sa.String(length=100), nullable=False),
        sa.Column('other_key', sa.String(length=100), nullable=True),
        sa.Column('other_status_category', sa.String(length=20), nullable=True),
        sa.Column('created_at', _TS, nullable=False),
        sa.Column('deleted_at', _TS, nullable=True),
        sa.Column('synced_at', _TS, nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_id'], ['source.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source_id', 'task_external_id', 'external_id', name='uq_task_link'),
    )
    op.create_index('ix_task_link_org_role', 'task_link', ['org_id', 'role'])
    op.create_table(
        'risk_item',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('project_id', _ID, nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('owner_person_id', _ID, nullable=True),
        sa.Column('owner_name', sa.String(length=300), nullable=True),
        sa.Column('probability', sa.Integer(), nullable=False),
        sa.Column('impact', sa.Integer(), nullable=False),
        sa.Column('mitigation', sa.Text(), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('review_date', sa.Date(), nullable=True),
        sa.Column('created_at', _TS, nullable=False),
        sa.Column('updated_at', _TS, nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('updated_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['owner_person_id'], ['person.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_risk_item_org_id', 'risk_item', ['org_id'])
    op.create_index('ix_risk_item_project_id', 'risk_item', ['project_id'])
    op.create_index('ix_risk_item_owner_person_id', 'risk_item', ['owner_person_id'])
    op.create_table(
        'status_report',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('scope_id', _ID, nullable=False),
        sa.Column('scope_name', sa.String(length=300), nullable=False),
        sa.Column('week_start', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('commentary', sa.Text(), nullable=True),
        sa.Column('data', _JSON, nullable=False),
        sa.Column('html', sa.Text(), nullable=True),
        sa.Column('pdf', sa.LargeBinary(), nullable=True),
        sa.Column('generated_at', _TS, nullable=False),
        sa.Column('published_at', _TS, nullable=True),
        sa.Column('published_by', sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('org_id', 'scope', 'scope_id', 'week_start', name='uq_status_report_week'),
    )
    op.create_index('ix_status_report_org_id', 'status_report', ['org_id'])


def downgrade() -> None:
    op.drop_index('ix_status_report_org_id', table_name='status_report')
    op.drop_table('status_report')
    op.drop_index('ix_risk_item_owner_person_id', table_name='risk_item')
    op.drop_index('ix_risk_item_project_id', table_name='risk_item')
    op.drop_index('ix_risk_item_org_id', table_name='risk_item')
    op.drop_table('risk_item')
    op.drop_index('ix_task_link_org_role', table_name='task_link')
    op.drop_table('task_link')
    op.drop_column('project', 'risk_thresholds')
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of ``task`` would drop the old table and
    # cascade the delete to its assignees and milestone links.
    op.drop_column('task', 'affected_versions')
    op.drop_column('task', 'flagged')
