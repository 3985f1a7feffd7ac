"""ask questions, answers and feedback

Revision ID: c9e5a8b36d71
Revises: b7d3f2a91c44
Create Date: 2026-11-23 14:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9e5a8b36d71'
down_revision = 'b7d3f2a91c44'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ask_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('question', sa.String(length=500), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('cited_entry_ids', sa.JSON(), nullable=False),
    sa.Column('entries_used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('include_team', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=True),
    sa.Column('model', sa.String(length=100), nullable=True),
    sa.Column('cache_hit', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('cache_key', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rating', sa.SmallInteger(), nullable=True),
    sa.Column('feedback_comment', sa.Text(), nullable=True),
    sa.Column('feedback_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('rating IS NULL OR rating IN (-1, 1)', name=op.f('ck_ask_questions_rating_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ask_questions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ask_questions'))
    )
    with op.batch_alter_table('ask_questions', schema=None) as batch_op:
        batch_op.create_index('ix_ask_questions_feedback_at', ['feedback_at'], unique=False)
        batch_op.create_index('ix_ask_questions_rating_feedback', ['rating', 'feedback_at'], unique=False)
        batch_op.create_index('ix_ask_questions_user_cache_key', ['user_id', 'cache_key'], unique=False)
        batch_op.create_index('ix_ask_questions_user_created', ['user_id', 'created_at'], unique=False)
        batch_op.create_index('ix_ask_questions_user_feedback', ['user_id', 'feedback_at'], unique=False)


def downgrade():
    with op.batch_alter_table('ask_questions', schema=None) as batch_op:
        batch_op.drop_index('ix_ask_questions_user_feedback')
        batch_op.drop_index('ix_ask_questions_user_created')
        batch_op.drop_index('ix_ask_questions_user_cache_key')
        batch_op.drop_index('ix_ask_questions_rating_feedback')
        batch_op.drop_index('ix_ask_questions_feedback_at')

    op.drop_table('ask_questions')
