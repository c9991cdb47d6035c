"""finance reading: indexes for the journal's keyset pages and its filters; book exports of
a period

Revision ID: 0014
Revises: 0012
Create Date: 2026-11-30 20:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_ledger_transfers_effective_at': ['effective_at', 'id'],
    'ix_ledger_transfers_code_effective_at': ['code', 'effective_at', 'id'],
    'ix_ledger_transfers_reference_effective_at': ['reference', 'effective_at', 'id'],
}


def upgrade():
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table('book_exports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('end', sa.Date(), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_book_exports_period_ordered'), 'start IS NULL OR "end" IS NULL OR start <= "end"'
        )


def downgrade():
    with op.batch_alter_table('book_exports', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_book_exports_period_ordered'), type_='check')
        batch_op.drop_column('end')
        batch_op.drop_column('start')
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        for name in reversed(list(INDEXES)):
            batch_op.drop_index(name)
