"""Ask your log: each question asked, the answer given, and the asker's feedback on it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

QUESTION_MAX = 500  # characters, not bytes: 500 Hangul syllables fit
COMMENT_MAX = 1000
CACHE_KEY_MAX = 64  # a SHA-256 in hex


class Rating:
    UP = 1
    DOWN = -1


class AskQuestion(db.Model):
    """One question and its answer. Feedback lives on the row: one rating per answer."""

    __tablename__ = "ask_questions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    question: so.Mapped[str] = so.mapped_column(sa.String(QUESTION_MAX))
    answer: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # Ids the answer cites that were among the entries sent to the model (never any other id).
    cited_entry_ids: so.Mapped[list[int]] = so.mapped_column(sa.JSON, default=list)
    # How many entries the model was given (0: nothing matched and no model was asked).
    entries_used: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    include_team: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    provider: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    model: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    cache_hit: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    # user, include-team flag, normalised question and the visible data's fingerprint, hashed.
    cache_key: so.Mapped[str | None] = so.mapped_column(sa.String(CACHE_KEY_MAX))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    rating: so.Mapped[int | None] = so.mapped_column(sa.SmallInteger)
    feedback_comment: so.Mapped[str | None] = so.mapped_column(sa.Text)
    feedback_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship()

    __table_args__ = (
        sa.CheckConstraint("rating IS NULL OR rating IN (-1, 1)", name="rating_valid"),
        # A user's recent questions, newest first.
        sa.Index("ix_ask_questions_user_created", "user_id", "created_at"),
        # The database answer cache: this user's latest answer under this key.
        sa.Index("ix_ask_questions_user_cache_key", "user_id", "cache_key"),
        # Admin feedback list: newest feedback first, by rating, by user.
        sa.Index("ix_ask_questions_feedback_at", "feedback_at"),
        sa.Index("ix_ask_questions_rating_feedback", "rating", "feedback_at"),
        sa.Index("ix_ask_questions_user_feedback", "user_id", "feedback_at"),
    )

    def __repr__(self) -> str:
        return f"<AskQuestion {self.id} by {self.user_id}>"

    @property
    def has_feedback(self) -> bool:
        return self.rating is not None or bool(self.feedback_comment)

    def give_feedback(self, rating: int | None, comment: str | None, now: datetime | None = None) -> None:
        if rating not in (None, Rating.UP, Rating.DOWN):
            raise ValueError("rating must be 1, -1 or None")
        self.rating = rating
        self.feedback_comment = (comment or "").strip()[:COMMENT_MAX] or None
        self.feedback_at = (now or utcnow()) if self.has_feedback else None

    def cache_value(self) -> dict[str, Any]:
        return {"answer": self.answer, "cited": list(self.cited_entry_ids or []),
                "entries_used": self.entries_used, "provider": self.provider, "model": self.model}
