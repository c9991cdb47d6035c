"""organization solver facts

An organization's solver facts (counts, type rank, sort key; money per currency) kept in
tables refreshed per organization by the ``refresh_solver_facts`` job, so the insight page
reads a page of an index instead of aggregating every proposal of the organization.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 21:10:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('organization_solver_facts_refreshes',
    sa.Column('organization_id', BIG_ID, nullable=False),
    sa.Column('computed_at', ledger.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_solver_facts_refreshes_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', name=op.f('pk_organization_solver_facts_refreshes'))
    )
    op.create_table('organization_solver_facts',
    sa.Column('organization_id', BIG_ID, nullable=False),
    sa.Column('user_id', BIG_ID, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('sort_name', sa.String(length=200), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('fewer_awards', sa.Integer(), nullable=False),
    sa.Column('fewer_proposals', sa.Integer(), nullable=False),
    sa.Column('proposals', sa.Integer(), nullable=False),
    sa.Column('needs', sa.Integer(), nullable=False),
    sa.Column('led', sa.Integer(), nullable=False),
    sa.Column('awards', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_solver_facts_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', 'user_id', name=op.f('pk_organization_solver_facts'))
    )
    with op.batch_alter_table('organization_solver_facts', schema=None) as batch_op:
        batch_op.create_index('ix_organization_solver_facts_order', ['organization_id', 'rank', 'fewer_awards', 'fewer_proposals', 'sort_name', 'user_id'], unique=False)
    op.create_table('organization_solver_money',
    sa.Column('organization_id', BIG_ID, nullable=False),
    sa.Column('user_id', BIG_ID, nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('earned', sa.BigInteger(), nullable=True),
    sa.Column('value', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_solver_money_organization_id_organizations')),
    sa.PrimaryKeyConstraint('organization_id', 'user_id', 'currency', name=op.f('pk_organization_solver_money'))
    )


def downgrade():
    op.drop_table('organization_solver_money')
    with op.batch_alter_table('organization_solver_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_organization_solver_facts_order')
    op.drop_table('organization_solver_facts')
    op.drop_table('organization_solver_facts_refreshes')
