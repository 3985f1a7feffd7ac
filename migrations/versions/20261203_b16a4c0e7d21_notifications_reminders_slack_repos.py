"""notifications, notification settings, reminder claims, Slack links, repository suggestions

Revision ID: b16a4c0e7d21
Revises: b7e2c4d91f06
Create Date: 2026-12-03 06:10:00
"""
import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision = 'b16a4c0e7d21'
down_revision = 'b7e2c4d91f06'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('actor_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='SET NULL'), nullable=True),
        sa.Column('target_type', sa.String(length=40), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('read_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notifications_user_created', 'notifications', ['user_id', 'created_at'])
    op.create_index('ix_notifications_user_unread', 'notifications', ['user_id', 'read_at'])
    op.create_table(
        'notification_settings',
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('daily_enabled', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('daily_time', sa.String(length=5), server_default='17:00', nullable=False),
        sa.Column('daily_weekends', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('weekly_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('weekly_day', sa.Integer(), server_default='5', nullable=False),
        sa.Column('weekly_time', sa.String(length=5), server_default='15:00', nullable=False),
        sa.Column('leads_enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('leads_time', sa.String(length=5), server_default='09:00', nullable=False),
        sa.Column('reminder_email', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'reminder_claims',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('period', sa.String(length=10), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'kind', 'period', name='uq_reminder_claims'),
    )
    op.create_table(
        'slack_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('slack_team_id', sa.String(length=32), nullable=False),
        sa.Column('slack_user_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('slack_team_id', 'slack_user_id', name='uq_slack_links_identity'),
    )
    op.create_index('ix_slack_links_user_id', 'slack_links', ['user_id'])
    op.create_table(
        'repo_connections',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('provider', sa.String(length=10), nullable=False),
        sa.Column('base_url', sa.String(length=300), nullable=False),
        sa.Column('token_encrypted', sa.Text(), nullable=False),
        sa.Column('token_hint', sa.String(length=40), nullable=False),
        sa.Column('login', sa.String(length=100), nullable=True),
        sa.Column('etags', sa.JSON(), nullable=False),
        sa.Column('last_run_at', UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('paused_until', UTCDateTime(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'provider', name='uq_repo_connections_user_provider'),
    )
    op.create_index('ix_repo_connections_user_id', 'repo_connections', ['user_id'])
    op.create_table(
        'suggestions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), sa.ForeignKey('users.id', ondelete='CASCADE'), nullable=False),
        sa.Column('external_key', sa.String(length=300), nullable=False),
        sa.Column('url', sa.String(length=500), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('draft', sa.JSON(), nullable=False),
        sa.Column('work_date', UTCDateTime(), nullable=True),
        sa.Column('status', sa.String(length=12), server_default='suggested', nullable=False),
        sa.Column('entry_id', sa.Integer(), sa.ForeignKey('log_entries.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'external_key', name='uq_suggestions_user_key'),
    )
    op.create_index('ix_suggestions_user_status', 'suggestions', ['user_id', 'status'])


def downgrade():
    op.drop_index('ix_suggestions_user_status', table_name='suggestions')
    op.drop_table('suggestions')
    op.drop_index('ix_repo_connections_user_id', table_name='repo_connections')
    op.drop_table('repo_connections')
    op.drop_index('ix_slack_links_user_id', table_name='slack_links')
    op.drop_table('slack_links')
    op.drop_table('reminder_claims')
    op.drop_table('notification_settings')
    op.drop_index('ix_notifications_user_unread', table_name='notifications')
    op.drop_index('ix_notifications_user_created', table_name='notifications')
    op.drop_table('notifications')
