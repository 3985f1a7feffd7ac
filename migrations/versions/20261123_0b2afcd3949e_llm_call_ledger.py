"""llm call ledger

Revision ID: 0b2afcd3949e
Revises: 8076a150edde
Create Date: 2026-11-23 09:34:13.050146

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0b2afcd3949e'
down_revision = '8076a150edde'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('llm_calls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=100), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('completion_tokens', sa.Integer(), server_default='0', nullable=False),
    sa.Column('usage_estimated', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('latency_ms', sa.Integer(), server_default='0', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='1', nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error_message', sa.String(length=300), nullable=True),
    sa.Column('cache_hit', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_llm_calls_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_llm_calls'))
    )
    with op.batch_alter_table('llm_calls', schema=None) as batch_op:
        batch_op.create_index('ix_llm_calls_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_llm_calls_purpose_created', ['purpose', 'created_at'], unique=False)
        batch_op.create_index('ix_llm_calls_user_created', ['user_id', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('llm_calls', schema=None) as batch_op:
        batch_op.drop_index('ix_llm_calls_user_created')
        batch_op.drop_index('ix_llm_calls_purpose_created')
        batch_op.drop_index('ix_llm_calls_created_at')

    op.drop_table('llm_calls')
