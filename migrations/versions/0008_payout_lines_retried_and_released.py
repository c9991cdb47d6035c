"""payout lines: tries, next try, idempotency key version; release by finance

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 16:37:20.343345

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('reserved', 'sending', 'paid', 'failed', 'voided', 'reversed')"
NEW_STATUSES = (
    "status IN ('reserved', 'sending', 'paid', 'failed', 'voided', 'reversed', 'released')"
)


def upgrade():
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('key_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('next_try_at', ledger.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('released_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.add_column(sa.Column('released_at', ledger.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('release_reason', sa.Text(), server_default='', nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_payout_lines_released_by_id_users'), 'users', ['released_by_id'], ['id'])
        batch_op.create_check_constraint(
            batch_op.f('ck_payout_lines_tries_counted'), 'key_version >= 1 AND attempts >= 0'
        )
        batch_op.drop_constraint(batch_op.f('ck_payout_lines_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_payout_lines_status_known'), NEW_STATUSES)


def downgrade():
    with op.batch_alter_table('payout_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_payout_lines_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_payout_lines_status_known'), OLD_STATUSES)
        batch_op.drop_constraint(batch_op.f('ck_payout_lines_tries_counted'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_payout_lines_released_by_id_users'), type_='foreignkey')
        batch_op.drop_column('release_reason')
        batch_op.drop_column('released_at')
        batch_op.drop_column('released_by_id')
        batch_op.drop_column('next_try_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('key_version')
