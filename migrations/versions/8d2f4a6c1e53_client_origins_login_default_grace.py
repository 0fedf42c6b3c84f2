"""client origins (the JSON API's cookie mode), the login-default client, per-client grace seconds

Revision ID: 8d2f4a6c1e53
Revises: 3c1e7a9d2b40
Create Date: 2026-12-02 12:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8d2f4a6c1e53'
down_revision = '3c1e7a9d2b40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('client_origins',
    sa.Column('origin', sa.String(length=300), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('origin')
    )
    with op.batch_alter_table('client_origins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_origins_client_id'), ['client_id'], unique=False)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('login_default', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('grace_seconds', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('grace_seconds')
        batch_op.drop_column('login_default')
    with op.batch_alter_table('client_origins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_origins_client_id'))
    op.drop_table('client_origins')
