"""entry embeddings for ask your log

Revision ID: e4a7c2d95b18
Revises: d2f6b1c08e37
Create Date: 2026-11-23 18:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4a7c2d95b18'
down_revision = 'd2f6b1c08e37'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('entry_embeddings',
    sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('dims', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['log_entries.id'], name=op.f('fk_entry_embeddings_entry_id_log_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_entry_embeddings'))
    )


def downgrade():
    op.drop_table('entry_embeddings')
