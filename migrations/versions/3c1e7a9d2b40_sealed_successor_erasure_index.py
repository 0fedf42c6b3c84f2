"""partial index of the rows holding a sealed successor, for their lazy erasure after the grace window

Revision ID: 3c1e7a9d2b40
Revises: 3c7e0b1d9a42
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1e7a9d2b40'
down_revision = '3c7e0b1d9a42'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_refresh_tokens_sealed_used_at', ['used_at'], unique=False,
                              postgresql_where=sa.text('successor_sealed IS NOT NULL'),
                              sqlite_where=sa.text('successor_sealed IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('refresh_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_refresh_tokens_sealed_used_at',
                            postgresql_where=sa.text('successor_sealed IS NOT NULL'),
                            sqlite_where=sa.text('successor_sealed IS NOT NULL'))
