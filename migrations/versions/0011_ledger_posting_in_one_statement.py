"""ledger posting in one statement; transfers record their write order per account

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 20:00:00

Transfers get debit_version / credit_version (the account's version after the row's last
write) and written_at (the moment of that write), indexed per account, so that a statement
reads running balances in write order and a balance as of a time is one index lookup (see
ledger.models.Transfer and ledger.statements). Rows already in the book get versions numbered
per account in the order of their last write (resolution, else recording), and each account's
version is raised to at least that count so that new writes come after them.

On PostgreSQL the migration also installs ledger_post() and ledger_post_journal(), which post
a journal in one statement (see ledger.pg_posting).
"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BACKFILL = [
    "UPDATE ledger_transfers SET written_at = COALESCE(resolved_at, recorded_at)",
    """
    UPDATE ledger_transfers SET debit_version = numbered.n
    FROM (SELECT id, account_id, is_debit, row_number() OVER (
              PARTITION BY account_id ORDER BY written_at, id) AS n
          FROM (SELECT id, debit_account_id AS account_id, 1 AS is_debit, written_at
                FROM ledger_transfers
                UNION ALL
                SELECT id, credit_account_id, 0, written_at FROM ledger_transfers) AS legs
         ) AS numbered
    WHERE numbered.id = ledger_transfers.id AND numbered.is_debit = 1
    """,
    """
    UPDATE ledger_transfers SET credit_version = numbered.n
    FROM (SELECT id, account_id, is_debit, row_number() OVER (
              PARTITION BY account_id ORDER BY written_at, id) AS n
          FROM (SELECT id, debit_account_id AS account_id, 1 AS is_debit, written_at
                FROM ledger_transfers
                UNION ALL
                SELECT id, credit_account_id, 0, written_at FROM ledger_transfers) AS legs
         ) AS numbered
    WHERE numbered.id = ledger_transfers.id AND numbered.is_debit = 0
    """,
    """
    UPDATE ledger_accounts SET version = (
        SELECT CASE WHEN count(*) > ledger_accounts.version THEN count(*)
                    ELSE ledger_accounts.version END
        FROM ledger_transfers AS t
        WHERE t.debit_account_id = ledger_accounts.id OR t.credit_account_id = ledger_accounts.id)
    """,
]


def upgrade():
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('debit_version', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('credit_version', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('written_at', ledger.base.UTCDateTime(timezone=True), nullable=True))
    for statement in BACKFILL:
        op.execute(statement)
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.alter_column('debit_version', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('credit_version', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('written_at', existing_type=ledger.base.UTCDateTime(timezone=True), nullable=False)
        batch_op.drop_index('ix_ledger_transfers_debit_account')
        batch_op.drop_index('ix_ledger_transfers_credit_account')
        batch_op.create_index('ix_ledger_transfers_debit_version', ['debit_account_id', 'debit_version', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_credit_version', ['credit_account_id', 'credit_version', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit_written_at', ['debit_account_id', 'written_at'], unique=False)
        batch_op.create_index('ix_ledger_transfers_credit_written_at', ['credit_account_id', 'written_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ledger_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_transfers_credit_written_at')
        batch_op.drop_index('ix_ledger_transfers_debit_written_at')
        batch_op.drop_index('ix_ledger_transfers_credit_version')
        batch_op.drop_index('ix_ledger_transfers_debit_version')
        batch_op.create_index('ix_ledger_transfers_credit_account', ['credit_account_id', 'id'], unique=False)
        batch_op.create_index('ix_ledger_transfers_debit_account', ['debit_account_id', 'id'], unique=False)
        batch_op.drop_column('written_at')
        batch_op.drop_column('credit_version')
        batch_op.drop_column('debit_version')
