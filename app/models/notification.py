"""In-app notifications, per-user notification and reminder settings, reminder claims, Slack
links and repository suggestions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

# Event kinds a person can be notified of, and the reminder kinds.
EVENT_KINDS = ("review_submitted", "review_approved", "review_changes_requested", "review_comment",
               "publish_failed", "invite_accepted")
REMINDER_KINDS = ("daily", "weekly", "leads")
CHANNELS = ("in_app", "email", "both")


class Notification(db.Model):
    __tablename__ = "notifications"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(40))
    actor_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # What it is about: ("weekly_review", id) or ("user", id); the link is built from it.
    target_type: so.Mapped[str] = so.mapped_column(sa.String(40))
    target_id: so.Mapped[int] = so.mapped_column()
    # Short facts for the line (week, destination label, reason); never entry text.
    details: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    read_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship(foreign_keys=[user_id])
    actor: so.Mapped[User | None] = so.relationship(foreign_keys=[actor_id])

    __table_args__ = (
        sa.Index("ix_notifications_user_created", "user_id", "created_at"),
        sa.Index("ix_notifications_user_unread", "user_id", "read_at"),
    )


class NotificationSettings(db.Model):
    """One row per user who changed something; absent means the defaults."""

    __tablename__ = "notification_settings"

    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # {event kind: "in_app" | "email" | "both"}; a missing kind is "both".
    channels: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    daily_enabled: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    daily_time: so.Mapped[str] = so.mapped_column(sa.String(5), default="17:00", server_default="17:00")
    daily_weekends: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    weekly_enabled: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.text("true"))
    # ISO weekday (1 Monday … 7 Sunday) and local time of the weekly review reminder.
    weekly_day: so.Mapped[int] = so.mapped_column(default=5, server_default="5")
    weekly_time: so.Mapped[str] = so.mapped_column(sa.String(5), default="15:00", server_default="15:00")
    leads_enabled: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.text("true"))
    leads_time: so.Mapped[str] = so.mapped_column(sa.String(5), default="09:00", server_default="09:00")
    # Reminder e-mails; off after an unsubscribe from a reminder.
    reminder_email: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.text("true"))
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class ReminderClaim(db.Model):
    """One row per reminder sent: (user, kind, period) is unique, so however many workers scan
    and however often a scan is repeated, a reminder is queued once."""

    __tablename__ = "reminder_claims"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    # The user's local date (daily) or ISO week (weekly, leads).
    period: so.Mapped[str] = so.mapped_column(sa.String(10))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (sa.UniqueConstraint("user_id", "kind", "period", name="uq_reminder_claims"),)


class SlackLink(db.Model):
    """A Slack user (workspace + user id) linked to one Worklog account by a signed link."""

    __tablename__ = "slack_links"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    slack_team_id: so.Mapped[str] = so.mapped_column(sa.String(32))
    slack_user_id: so.Mapped[str] = so.mapped_column(sa.String(32))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    user: so.Mapped[User] = so.relationship()

    __table_args__ = (sa.UniqueConstraint("slack_team_id", "slack_user_id", name="uq_slack_links_identity"),)


class RepoConnection(db.Model):
    """A user's GitHub or GitLab connection: token encrypted (app/security/secrets.py)."""

    __tablename__ = "repo_connections"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    provider: so.Mapped[str] = so.mapped_column(sa.String(10))  # github | gitlab
    base_url: so.Mapped[str] = so.mapped_column(sa.String(300))
    token_encrypted: so.Mapped[str] = so.mapped_column(sa.Text)
    token_hint: so.Mapped[str] = so.mapped_column(sa.String(40), default="")
    login: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    # {request key: etag} and the time of the last complete run.
    etags: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    last_run_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(300))
    # Not before this time (the rate limit's reset).
    paused_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (sa.UniqueConstraint("user_id", "provider", name="uq_repo_connections_user_provider"),)


class Suggestion(db.Model):
    """A merged PR/MR or closed issue proposed as an entry; never an entry until accepted."""

    __tablename__ = "suggestions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # e.g. "github:octo/app#pr-12": dismissed or accepted ones stay, so they never come back.
    external_key: so.Mapped[str] = so.mapped_column(sa.String(300))
    url: so.Mapped[str] = so.mapped_column(sa.String(500))
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    draft: so.Mapped[dict] = so.mapped_column(sa.JSON, default=dict)
    work_date: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default="suggested", server_default="suggested")
    entry_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("log_entries.id", ondelete="SET NULL"))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("user_id", "external_key", name="uq_suggestions_user_key"),
        sa.Index("ix_suggestions_user_status", "user_id", "status"),
    )
