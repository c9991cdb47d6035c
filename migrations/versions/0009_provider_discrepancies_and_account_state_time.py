"""provider discrepancies (what the provider said that the book does not match); payout
accounts remember the time of the provider state they hold

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 16:37:50.397297

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('provider_discrepancies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('provider', sa.String(length=12), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=True),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('object_id', sa.String(length=255), nullable=True),
    sa.Column('payout_line_id', sa.BigInteger(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('recorded_at', ledger.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_discrepancies'))
    )
    with op.batch_alter_table('provider_discrepancies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_discrepancies_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provider_discrepancies_payout_line_id'), ['payout_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_provider_discrepancies_recorded_at'), ['recorded_at'], unique=False)

    with op.batch_alter_table('payout_accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_state_at', ledger.base.UTCDateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('payout_accounts', schema=None) as batch_op:
        batch_op.drop_column('provider_state_at')

    with op.batch_alter_table('provider_discrepancies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_discrepancies_recorded_at'))
        batch_op.drop_index(batch_op.f('ix_provider_discrepancies_payout_line_id'))
        batch_op.drop_index(batch_op.f('ix_provider_discrepancies_event_id'))

    op.drop_table('provider_discrepancies')
