"""scoped expiring api tokens

API tokens get scopes (what they may do), an expiry, and the address of their last use.

Tokens made before this migration had no limits. They keep working, but safely: with every
read scope and no write scope, expiring 90 days after the migration runs. Their owners make new
tokens with the scopes they need (README, "API tokens").

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 23:30:00

"""
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa

import ledger.base


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

#: Every read scope, written out: a migration does not import the app's current list.
EXISTING_TOKEN_SCOPES = (
    'needs:read proposals:read judging:read value:read payouts:read finance:read'
)
EXISTING_TOKEN_LIFETIME = timedelta(days=90)


def upgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scopes', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('expires_at', ledger.base.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_used_address', sa.String(length=45), nullable=True))
    tokens = sa.table(
        'api_tokens',
        sa.column('scopes', sa.String()),
        sa.column('expires_at', ledger.base.UTCDateTime()),
    )
    op.execute(
        tokens.update().values(
            scopes=EXISTING_TOKEN_SCOPES,
            expires_at=datetime.now(UTC) + EXISTING_TOKEN_LIFETIME,
        )
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.alter_column('scopes', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('expires_at', existing_type=ledger.base.UTCDateTime(), nullable=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('last_used_address')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('scopes')
