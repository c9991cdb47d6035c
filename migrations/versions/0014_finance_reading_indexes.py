"""finance reading: indexes for the journal's keyset pages and its filters

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 20:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
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


def downgrade():
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        for name in reversed(list(INDEXES)):
            batch_op.drop_index(name)
