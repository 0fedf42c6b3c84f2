"""admin clients, a rotated secret's overlap, a client's tokens-not-before (the admin API)

Revision ID: c4d8e2a61f07
Revises: 5e1f0c2d7a83
Create Date: 2026-12-02 14:00:00.000000

Expand only: four nullable or defaulted columns, so servers of the previous release run against it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d8e2a61f07'
down_revision = '5e1f0c2d7a83'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_expires_at', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('admin', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('tokens_not_before', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('tokens_not_before')
        batch_op.drop_column('admin')
        batch_op.drop_column('previous_secret_expires_at')
        batch_op.drop_column('previous_secret_hash')
