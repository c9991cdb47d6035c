"""audit log

The append-only audit log (``marketplace.audit``). On PostgreSQL the database keeps it
append-only, as it does ledger transfers: a trigger refuses every UPDATE, DELETE and TRUNCATE.

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

AUDIT_GUARD = """
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit events are never changed or deleted; the log is append-only'
    USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_guard();
"""


def upgrade():
    op.create_table('audit_events',
    sa.Column('id', BIG_ID, nullable=False),
    sa.Column('occurred_at', ledger.base.UTCDateTime(), nullable=False),
    sa.Column('actor_user_id', sa.BigInteger(), nullable=True),
    sa.Column('api_token_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=True),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('organization_id', sa.BigInteger(), nullable=True),
    sa.Column('ip_address', sa.String(length=45), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.CheckConstraint("outcome IN ('succeeded', 'refused', 'failed')", name=op.f('ck_audit_events_outcome_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_time', ['occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_organization', ['organization_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_actor', ['actor_user_id', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_action', ['action', 'occurred_at', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_object', ['object_type', 'object_id', 'occurred_at', 'id'], unique=False)
    if op.get_context().dialect.name == "postgresql":
        op.execute(AUDIT_GUARD)


def downgrade():
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_events_no_truncate ON audit_events")
        op.execute("DROP TRIGGER audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION audit_events_guard()")
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_object')
        batch_op.drop_index('ix_audit_events_action')
        batch_op.drop_index('ix_audit_events_actor')
        batch_op.drop_index('ix_audit_events_organization')
        batch_op.drop_index('ix_audit_events_time')
    op.drop_table('audit_events')
