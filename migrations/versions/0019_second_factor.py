"""second factor

Placeholder for second factor (TOTP, recovery codes): the helper working on it fills it in.

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
    pass


def downgrade():
    pass
