"""ledger daily totals

Posted ledger movements summed per UTC day of posting (``ledger_daily_totals``), filled with
what was posted up to its last run by the ``fill_daily_totals`` job (every 5 minutes), so the
finance dashboard sums days instead of a million transfers; ``ledger_daily_totals_state`` says how far it goes. Transfers written after
a fill (backdated ones, pending ones posted later) are found by ``written_at``.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 21:30:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('ledger_daily_totals',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('measure', sa.String(length=20), nullable=False),
    sa.Column('account_id', BIG_ID, autoincrement=False, nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'currency', 'code', 'measure', 'account_id',
                            name=op.f('pk_ledger_daily_totals'))
    )
    op.create_index('ix_ledger_daily_totals_measure_day', 'ledger_daily_totals',
                    ['measure', 'day'], unique=False)
    op.create_table('ledger_daily_totals_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('posted_before', ledger.base.UTCDateTime(), nullable=False),
    sa.Column('written_through', ledger.base.UTCDateTime(), nullable=False),
    sa.Column('filled_at', ledger.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_daily_totals_state'))
    )
    op.create_index('ix_ledger_transfers_written_at', 'ledger_transfers', ['written_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_ledger_transfers_written_at', table_name='ledger_transfers')
    op.drop_table('ledger_daily_totals_state')
    op.drop_index('ix_ledger_daily_totals_measure_day', table_name='ledger_daily_totals')
    op.drop_table('ledger_daily_totals')
