"""The LLM call ledger: one row per call to a language model, success or failure."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

PURPOSE_MAX = 32
OUTCOME_MAX = 16
ERROR_CODE_MAX = 40
ERROR_MESSAGE_MAX = 300


class LLMCall(db.Model):
    __tablename__ = "llm_calls"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Kept when the user is deleted (SET NULL), so usage totals stay right.
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    purpose: so.Mapped[str] = so.mapped_column(sa.String(PURPOSE_MAX))
    provider: so.Mapped[str] = so.mapped_column(sa.String(16))
    model: so.Mapped[str] = so.mapped_column(sa.String(100))
    prompt_tokens: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    completion_tokens: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # True when the server reported no usage and the counts above are our estimate.
    usage_estimated: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    latency_ms: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    attempts: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    # ok | error | timeout | deadline | too_long | rate_limited | unavailable | malformed |
    # interrupted | cancelled
    outcome: so.Mapped[str] = so.mapped_column(sa.String(OUTCOME_MAX))
    error_code: so.Mapped[str | None] = so.mapped_column(sa.String(ERROR_CODE_MAX))
    error_message: so.Mapped[str | None] = so.mapped_column(sa.String(ERROR_MESSAGE_MAX))
    cache_hit: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    # In the answer of a call that was given entries to cite (drafts, Ask): distinct `[#id]`
    # citations of ids not given, and Markdown links written (none is ever rendered live).
    unverified_citations: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    stripped_links: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    __table_args__ = (
        # Admin usage charts: per day, per user per day, per purpose per day.
        sa.Index("ix_llm_calls_created_at", "created_at"),
        sa.Index("ix_llm_calls_user_created", "user_id", "created_at"),
        sa.Index("ix_llm_calls_purpose_created", "purpose", "created_at"),
    )

    def __repr__(self) -> str:
        return f"<LLMCall {self.id} {self.purpose} {self.outcome}>"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens
