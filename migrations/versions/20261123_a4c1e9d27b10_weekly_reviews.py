"""weekly reviews and review comments

Revision ID: a4c1e9d27b10
Revises: 0b2afcd3949e
Create Date: 2026-11-23 14:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4c1e9d27b10'
down_revision = '0b2afcd3949e'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('weekly_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('cited_entry_ids', sa.JSON(), nullable=False),
    sa.Column('drafted_by_ai', sa.Boolean(), server_default=sa.text('(false)'), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'approved', 'changes_requested')", name=op.f('ck_weekly_reviews_status_valid')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_weekly_reviews_reviewer_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_weekly_reviews_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weekly_reviews')),
    sa.UniqueConstraint('user_id', 'week', name='uq_weekly_reviews_user_week')
    )
    with op.batch_alter_table('weekly_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_weekly_reviews_status_submitted', ['status', 'submitted_at'], unique=False)

    op.create_table('review_comments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), server_default='comment', nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_review_comments_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['review_id'], ['weekly_reviews.id'], name=op.f('fk_review_comments_review_id_weekly_reviews'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_comments'))
    )
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.create_index('ix_review_comments_review_created', ['review_id', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('review_comments', schema=None) as batch_op:
        batch_op.drop_index('ix_review_comments_review_created')

    op.drop_table('review_comments')
    with op.batch_alter_table('weekly_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_weekly_reviews_status_submitted')

    op.drop_table('weekly_reviews')
