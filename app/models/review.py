"""Weekly reviews: one per user per ISO week, drafted (by hand or AI), submitted, reviewed."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

BODY_MAX = 50_000
COMMENT_MAX = 5_000
WEEK_PATTERN = r"^\d{4}-W\d{2}$"


class ReviewStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class WeeklyReview(db.Model):
    __tablename__ = "weekly_reviews"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    # ISO week, e.g. "2026-W47" (sorts chronologically as text).
    week: so.Mapped[str] = so.mapped_column(sa.String(8))
    body: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    status: so.Mapped[str] = so.mapped_column(
        sa.String(20), default=ReviewStatus.DRAFT.value, server_default=ReviewStatus.DRAFT.value
    )
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    # Ids of the entries the last AI draft was given: the only ids a citation may link to.
    cited_entry_ids: so.Mapped[list[int]] = so.mapped_column(sa.JSON, default=list)
    drafted_by_ai: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    reviewer_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    reviewed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship(foreign_keys=[user_id])
    reviewer: so.Mapped[User | None] = so.relationship(foreign_keys=[reviewer_id])

    __table_args__ = (
        # One review per user and week; also what makes concurrent batch runs safe.
        sa.UniqueConstraint("user_id", "week", name="uq_weekly_reviews_user_week"),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'changes_requested')",
            name="status_valid",
        ),
        # The lead's queue: submitted reviews, oldest first.
        sa.Index("ix_weekly_reviews_status_submitted", "status", "submitted_at"),
    )

    def __repr__(self) -> str:
        return f"<WeeklyReview {self.id} {self.week} {self.status}>"


class ReviewComment(db.Model):
    __tablename__ = "review_comments"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    review_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("weekly_reviews.id", ondelete="CASCADE")
    )
    author_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # comment | approved | changes_requested: a decision's comment is marked as such.
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), default="comment", server_default="comment")
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    author: so.Mapped[User | None] = so.relationship()

    __table_args__ = (sa.Index("ix_review_comments_review_created", "review_id", "created_at"),)
