"""account recovery

Placeholder for account recovery (only if it needs a schema change): the helper working on it fills it in.

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 23:30:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    pass


def downgrade():
    pass
