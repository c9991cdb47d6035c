"""scoped expiring api tokens

Placeholder for API token scopes, expiry, last-use address: the helper working on it fills it in.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 23:30:00

"""
from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    pass


def downgrade():
    pass
