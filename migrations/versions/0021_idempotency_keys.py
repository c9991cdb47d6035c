"""idempotency keys

The API's Idempotency-Key records (``marketplace.idempotency``): one row per user and key,
holding the first request's fingerprint and, once answered, its answer for replays.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 23:30:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('idempotency_keys',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('user_id', BIG_ID, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('holder', sa.String(length=32), nullable=True),
    sa.Column('locked_until', ledger.base.UTCDateTime(), nullable=True),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('response_headers', sa.JSON(), nullable=True),
    sa.Column('created_at', ledger.base.UTCDateTime(), nullable=False),
    sa.Column('completed_at', ledger.base.UTCDateTime(), nullable=True),
    sa.Column('work_committed_at', ledger.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('user_id', 'key', name=op.f('uq_idempotency_keys_user_id_key'))
    )
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_keys_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_keys_created_at'))
    op.drop_table('idempotency_keys')
