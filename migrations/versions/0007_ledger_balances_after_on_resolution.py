"""ledger: posting or voiding a pending transfer rewrites its balances after

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 17:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The guard of 0001 with one change: when a pending transfer is posted or voided, its
# debit_balance_after and credit_balance_after may change with its status, to the accounts'
# balances at that moment (see ledger.models.Transfer). A transfer that is not pending still
# cannot change at all, and nothing but a resolution can change a pending one.
GUARD = """
CREATE OR REPLACE FUNCTION ledger_transfers_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'ledger transfers are never deleted; post a reversal instead'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status <> 'pending'
     OR NEW.status NOT IN ('posted', 'voided')
     OR (NEW.id, NEW.journal_id, NEW.key, NEW.debit_account_id, NEW.credit_account_id,
         NEW.currency, NEW.amount, NEW.code, NEW.reference, NEW.two_phase, NEW.reverses_id,
         NEW.recorded_by, NEW.effective_at, NEW.recorded_at)
        IS DISTINCT FROM
        (OLD.id, OLD.journal_id, OLD.key, OLD.debit_account_id, OLD.credit_account_id,
         OLD.currency, OLD.amount, OLD.code, OLD.reference, OLD.two_phase, OLD.reverses_id,
         OLD.recorded_by, OLD.effective_at, OLD.recorded_at)
  THEN
    RAISE EXCEPTION 'ledger transfer % is immutable; only a pending transfer may be posted or voided', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$$;
"""

# The guard as 0001 created it: the balances after never change.
GUARD_0001 = """
CREATE OR REPLACE FUNCTION ledger_transfers_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'TRUNCATE') THEN
    RAISE EXCEPTION 'ledger transfers are never deleted; post a reversal instead'
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF OLD.status <> 'pending'
     OR NEW.status NOT IN ('posted', 'voided')
     OR (NEW.id, NEW.journal_id, NEW.key, NEW.debit_account_id, NEW.credit_account_id,
         NEW.currency, NEW.amount, NEW.code, NEW.reference, NEW.two_phase, NEW.reverses_id,
         NEW.recorded_by, NEW.effective_at, NEW.recorded_at, NEW.debit_balance_after,
         NEW.credit_balance_after)
        IS DISTINCT FROM
        (OLD.id, OLD.journal_id, OLD.key, OLD.debit_account_id, OLD.credit_account_id,
         OLD.currency, OLD.amount, OLD.code, OLD.reference, OLD.two_phase, OLD.reverses_id,
         OLD.recorded_by, OLD.effective_at, OLD.recorded_at, OLD.debit_balance_after,
         OLD.credit_balance_after)
  THEN
    RAISE EXCEPTION 'ledger transfer % is immutable; only a pending transfer may be posted or voided', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$$;
"""


def upgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(GUARD)


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute(GUARD_0001)
