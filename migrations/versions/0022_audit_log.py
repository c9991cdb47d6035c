"""audit log

Placeholder for the append-only audit log: the helper working on it fills it in.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 23:30:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    pass


def downgrade():
    pass
