"""lists, search and counters

Full-text search reads a stored tsvector (PostgreSQL only: a generated column, kept by the
database in the transaction that writes the need) under a GIN index, instead of rebuilding the
document for every match and again for ts_rank. The inbox reads ``(user_id, id)``; the unread
count (on every page) a partial index of unread notifications only; a solver's home finds
the invitations sent to their address by ``proposal_members.email``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 20:00:00

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

DOCUMENT = (
    "to_tsvector('english', title || ' ' || summary || ' ' || background || ' ' || tags_text)"
)


BROWSE_ORDERS = {
    "ix_challenges_status_deadline": ["status", "deadline"],
    "ix_challenges_public_by_deadline": ["status", "visibility", "deadline"],
    "ix_challenges_status_created_at": ["status", "created_at"],
    "ix_challenges_status_prize_total": ["status", "prize_total"],
}


def upgrade():
    with op.batch_alter_table('challenges', schema=None) as batch_op:
        for name, columns in BROWSE_ORDERS.items():
            batch_op.create_index(name, columns, unique=False)
    with op.batch_alter_table('proposal_members', schema=None) as batch_op:
        batch_op.create_index('ix_proposal_members_email', ['email'], unique=False)
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_user_id')
        batch_op.create_index('ix_notifications_user_id_id', ['user_id', 'id'], unique=False)
        batch_op.create_index(
            'ix_notifications_unread',
            ['user_id'],
            unique=False,
            postgresql_where=sa.text('read_at IS NULL'),
            sqlite_where=sa.text('read_at IS NULL'),
        )
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_challenges_search")
        op.execute(
            f"ALTER TABLE challenges ADD COLUMN search_vector tsvector "
            f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
        )
        op.execute("CREATE INDEX ix_challenges_search ON challenges USING gin (search_vector)")


def downgrade():
    with op.batch_alter_table('challenges', schema=None) as batch_op:
        for name in BROWSE_ORDERS:
            batch_op.drop_index(name)
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_challenges_search")
        op.execute("ALTER TABLE challenges DROP COLUMN search_vector")
        op.execute(f"CREATE INDEX ix_challenges_search ON challenges USING gin ({DOCUMENT})")
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_unread')
        batch_op.drop_index('ix_notifications_user_id_id')
        batch_op.create_index('ix_notifications_user_id', ['user_id'], unique=False)
    with op.batch_alter_table('proposal_members', schema=None) as batch_op:
        batch_op.drop_index('ix_proposal_members_email')
