"""background jobs: procrastinate's queue (PostgreSQL) and job idempotency keys

Revision ID: 5c1d9e7a2b40
Revises: 5c1e7a9d2b40
Create Date: 2026-12-02 23:10:00

On PostgreSQL the job queue is procrastinate's own schema (tables, types, functions and
triggers), applied from the schema file of the installed procrastinate so that
`flask db upgrade` stays the one step. The version is pinned in pyproject.toml; upgrading
procrastinate means a new migration running the library's files in its sql/migrations/.
SQLite has no queue table: jobs run in-process there (see app/jobs).
"""
from importlib import resources

import sqlalchemy as sa
from alembic import context, op

from app.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = '5c1d9e7a2b40'
down_revision = '5c1e7a9d2b40'
branch_labels = None
depends_on = None

QUEUE_TABLES = ('procrastinate_events', 'procrastinate_periodic_defers', 'procrastinate_jobs',
                'procrastinate_workers')


def upgrade():
    op.create_table(
        'job_effects',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('task', sa.String(length=100), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index(op.f('ix_job_effects_created_at'), 'job_effects', ['created_at'], unique=False)
    op.create_table(
        'job_errors',
        sa.Column('job_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('task', sa.String(length=100), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=False),
        sa.Column('at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('job_id'),
    )
    if op.get_bind().dialect.name != 'postgresql':
        return
    schema = resources.files('procrastinate').joinpath('sql/schema.sql').read_text('utf-8')
    if context.is_offline_mode():  # `flask db upgrade --sql`: the file as it is
        op.execute(schema)
        return
    # The raw DB-API cursor: the file is many statements with `%` and `:` that neither
    # SQLAlchemy nor psycopg must read as parameters.
    op.get_bind().connection.dbapi_connection.cursor().execute(schema)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in QUEUE_TABLES:
            op.execute(f'DROP TABLE IF EXISTS {table} CASCADE')
        op.execute("""
            DO $$ DECLARE f record; BEGIN
              FOR f IN SELECT oid::regprocedure AS sig FROM pg_proc
                       WHERE proname LIKE 'procrastinate%' LOOP
                EXECUTE 'DROP FUNCTION IF EXISTS ' || f.sig || ' CASCADE';
              END LOOP;
              FOR f IN SELECT typname FROM pg_type
                       WHERE typname LIKE 'procrastinate%' AND typtype IN ('e', 'c') LOOP
                EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(f.typname) || ' CASCADE';
              END LOOP;
            END $$""")
    op.drop_table('job_errors')
    op.drop_index(op.f('ix_job_effects_created_at'), table_name='job_effects')
    op.drop_table('job_effects')
