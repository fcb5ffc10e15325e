"""rejected people-link suggestions (issue 20)

- ``person_link_rejection``: a PM's "not the same person" for two identities in different
  tools, one row per identity pair (``low_identity_id < high_identity_id``), so
  ``/api/v1/people/suggestions`` never offers that pair again, even after either person gains
  identities or is merged. Deleting an identity deletes its rejections.
- ``person_identity.username``: the tool's login name where it gives one (Jira Data Center
  ``name``, Trello ``username``), evidence for those suggestions.

Literal DDL, no application imports.

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# Keys are 64-bit on PostgreSQL from 0012 on, SQLite keeps INTEGER rowids.
_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.add_column('person_identity', sa.Column('username', sa.String(length=200), nullable=True))
    op.create_table(
        'person_link_rejection',
        sa.Column('id', _ID, nullable=False),
        sa.Column('org_id', _ID, nullable=False),
        sa.Column('low_identity_id', _ID, nullable=False),
        sa.Column('high_identity_id', _ID, nullable=False),
        sa.Column('rejected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('rejected_by', sa.String(length=200), nullable=True),
        sa.CheckConstraint('low_identity_id < high_identity_id', name='ck_link_rejection_order'),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['low_identity_id'], ['person_identity.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['high_identity_id'], ['person_identity.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('org_id', 'low_identity_id', 'high_identity_id', name='uq_link_rejection'),
    )
    op.create_index('ix_person_link_rejection_high_identity_id', 'person_link_rejection',
                    ['high_identity_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_person_link_rejection_high_identity_id', table_name='person_link_rejection')
    op.drop_table('person_link_rejection')
    op.drop_column('person_identity', 'username')
