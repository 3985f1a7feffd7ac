"""publishing to systems of record: destinations, publications, the shared rate limiter

Revision ID: b7e2c4d91f06
Revises: 7e12a4c9b3d5
Create Date: 2026-12-03 06:10:00
"""
import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

# revision identifiers, used by Alembic.
revision = 'b7e2c4d91f06'
down_revision = '7e12a4c9b3d5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'integration_destinations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('team_id', sa.Integer(), nullable=True),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('secret_encrypted', sa.Text(), nullable=True),
        sa.Column('secret_hint', sa.String(length=20), nullable=True),
        sa.Column('mirror_entries', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('notion', 'confluence')", name=op.f('ck_integration_destinations_kind_valid')),
        sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_integration_destinations_team_id_teams'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_destinations')),
        sa.UniqueConstraint('kind', 'team_id', name='uq_integration_destinations_kind_team'),
    )
    op.create_table(
        'publications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('review_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('destination', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('external_id', sa.String(length=100), nullable=True),
        sa.Column('url', sa.String(length=500), nullable=True),
        sa.Column('page_status', sa.String(length=20), nullable=True),
        sa.Column('published_version', sa.Integer(), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('last_success_at', UTCDateTime(), nullable=True),
        sa.Column('last_failure_at', UTCDateTime(), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_publications_owner_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['review_id'], ['weekly_reviews.id'], name=op.f('fk_publications_review_id_weekly_reviews'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_publications')),
        sa.UniqueConstraint('review_id', 'destination', name='uq_publications_review_destination'),
    )
    op.create_index(op.f('ix_publications_owner_id'), 'publications', ['owner_id'], unique=False)
    op.create_index('ix_publications_destination_state', 'publications', ['destination', 'state'], unique=False)
    op.create_table(
        'publish_rate',
        sa.Column('bucket', sa.String(length=100), nullable=False),
        sa.Column('recent', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('bucket', name=op.f('pk_publish_rate')),
    )
    op.create_table(
        'entry_mirrors',
        sa.Column('entry_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('external_id', sa.String(length=100), nullable=True),
        sa.Column('url', sa.String(length=500), nullable=True),
        sa.Column('last_error', sa.String(length=500), nullable=True),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('entry_id', name=op.f('pk_entry_mirrors')),
    )
    op.create_index(op.f('ix_entry_mirrors_owner_id'), 'entry_mirrors', ['owner_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_entry_mirrors_owner_id'), table_name='entry_mirrors')
    op.drop_table('entry_mirrors')
    op.drop_table('publish_rate')
    op.drop_index('ix_publications_destination_state', table_name='publications')
    op.drop_index(op.f('ix_publications_owner_id'), table_name='publications')
    op.drop_table('publications')
    op.drop_table('integration_destinations')
