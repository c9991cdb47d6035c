"""second factor

A user's TOTP authenticator (``second_factors``: the secret, when it was confirmed, the last
time step accepted so that no code is accepted twice) and its single-use recovery codes
(``recovery_codes``: their SHA-256 only).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 23:30:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('second_factors',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('user_id', BIG_ID, nullable=False),
    sa.Column('secret', sa.String(length=64), nullable=False),
    sa.Column('created_at', ledger.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', ledger.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                            name=op.f('fk_second_factors_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_second_factors')),
    sa.UniqueConstraint('user_id', name=op.f('uq_second_factors_user_id'))
    )
    op.create_table('recovery_codes',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('second_factor_id', BIG_ID, nullable=False),
    sa.Column('code_sha256', sa.String(length=64), nullable=False),
    sa.Column('used_at', ledger.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['second_factor_id'], ['second_factors.id'],
                            name=op.f('fk_recovery_codes_second_factor_id_second_factors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    sa.UniqueConstraint('code_sha256', name=op.f('uq_recovery_codes_code_sha256'))
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_second_factor_id'),
                              ['second_factor_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_second_factor_id'))
    op.drop_table('recovery_codes')
    op.drop_table('second_factors')
