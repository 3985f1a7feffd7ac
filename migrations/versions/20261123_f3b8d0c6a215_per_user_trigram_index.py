"""per-user trigram index for search

Revision ID: f3b8d0c6a215
Revises: e4a7c2d95b18
Create Date: 2026-11-23 19:00:00

The pg_trgm index on search_text alone made PostgreSQL find a word's matches among every
user's entries and then keep one user's (25 ms at 1,000,000 entries for `결제모듈`); with
user_id in the same GIN index (btree_gin) it reads only that user's matches (4 ms).
SQLite keeps its FTS5 table; nothing changes there.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3b8d0c6a215'
down_revision = 'e4a7c2d95b18'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    # btree_gin, like pg_trgm, is a trusted extension: the database owner may create it.
    op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
    op.create_index('ix_log_entries_user_search_trgm', 'log_entries', ['user_id', 'search_text'],
                    unique=False, postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_log_entries_search_trgm', table_name='log_entries')


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.create_index('ix_log_entries_search_trgm', 'log_entries', ['search_text'], unique=False,
                    postgresql_using='gin', postgresql_ops={'search_text': 'gin_trgm_ops'})
    op.drop_index('ix_log_entries_user_search_trgm', table_name='log_entries')
