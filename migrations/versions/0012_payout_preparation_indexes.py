"""payout preparation indexes

Payout preparation sums the value-share payments of every value report (by
payments.value_report_id); a batch's page, its progress and the completion check after each
settled line read its lines by (batch_id, status) and (batch_id, id).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 20:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_value_report_id'), ['value_report_id'], unique=False)
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.create_index('ix_payout_lines_batch_id_status', ['batch_id', 'status'], unique=False)
        batch_op.create_index('ix_payout_lines_batch_id_id', ['batch_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_payout_lines_batch_id_id')
        batch_op.drop_index('ix_payout_lines_batch_id_status')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_value_report_id'))
