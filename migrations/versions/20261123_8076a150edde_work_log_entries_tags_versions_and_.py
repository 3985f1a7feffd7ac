"""work log entries, tags, versions and search index

Revision ID: 8076a150edde
Revises: 2db6c36b3cf1
Create Date: 2026-11-23 09:22:02.364858

"""
from alembic import op
import sqlalchemy as sa

from app.models.search_index import POSTGRES_CREATE, SQLITE_CREATE, SQLITE_DROP


# revision identifiers, used by Alembic.
revision = '8076a150edde'
down_revision = '2db6c36b3cf1'
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for statement in POSTGRES_CREATE:  # pg_trgm, for the substring-search index
            op.execute(statement)
    op.create_table('log_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('work_date', sa.Date(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('situation', sa.Text(), nullable=False),
    sa.Column('task', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=80), nullable=True),
    sa.Column('impact', sa.String(length=8), server_default='Medium', nullable=False),
    sa.Column('search_text', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("impact IN ('Low', 'Medium', 'High')", name=op.f('ck_log_entries_impact_valid')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_log_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_entries'))
    )
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        if dialect == "postgresql":
            batch_op.create_index('ix_log_entries_search_trgm', ['search_text'], unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
        batch_op.create_index('ix_log_entries_user_category', ['user_id', 'category'], unique=False)
        batch_op.create_index('ix_log_entries_user_impact', ['user_id', 'impact'], unique=False)
        batch_op.create_index('ix_log_entries_user_live_date', ['user_id', 'deleted_at', 'work_date', 'id'], unique=False)

    op.create_table('log_entry_tags',
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['log_entries.id'], name=op.f('fk_log_entry_tags_entry_id_log_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('entry_id', 'tag', name=op.f('pk_log_entry_tags'))
    )
    with op.batch_alter_table('log_entry_tags', schema=None) as batch_op:
        batch_op.create_index('ix_log_entry_tags_tag', ['tag', 'entry_id'], unique=False)

    op.create_table('log_entry_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('edited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['edited_by_id'], ['users.id'], name=op.f('fk_log_entry_versions_edited_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['entry_id'], ['log_entries.id'], name=op.f('fk_log_entry_versions_entry_id_log_entries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_log_entry_versions')),
    sa.UniqueConstraint('entry_id', 'version', name='uq_log_entry_versions_entry_version')
    )
    if dialect == "sqlite":
        for statement in SQLITE_CREATE:  # FTS5 trigram index over log_entries.search_text
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_DROP:
            op.execute(statement)
    op.drop_table('log_entry_versions')
    with op.batch_alter_table('log_entry_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_log_entry_tags_tag')

    op.drop_table('log_entry_tags')
    with op.batch_alter_table('log_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_log_entries_user_live_date')
        batch_op.drop_index('ix_log_entries_user_impact')
        batch_op.drop_index('ix_log_entries_user_category')
        if dialect == "postgresql":
            batch_op.drop_index('ix_log_entries_search_trgm', postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})

    op.drop_table('log_entries')
