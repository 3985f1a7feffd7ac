"""The work log: entries in STAR form, their tags, and the versions kept on every edit."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

TITLE_MAX = 200
PART_MAX = 10_000
CATEGORY_MAX = 80
TAG_MAX = 40
TAGS_MAX = 20
STAR_PARTS = ("situation", "task", "action", "result")


class Impact(enum.StrEnum):
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class LogEntry(db.Model):
    __tablename__ = "log_entries"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    work_date: so.Mapped[date]
    title: so.Mapped[str] = so.mapped_column(sa.String(TITLE_MAX))
    situation: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    task: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    action: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    result: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    category: so.Mapped[str | None] = so.mapped_column(sa.String(CATEGORY_MAX))
    impact: so.Mapped[str] = so.mapped_column(
        sa.String(8), default=Impact.MEDIUM.value, server_default=Impact.MEDIUM.value
    )
    # Lower-cased title, STAR parts, category and tags: what substring search runs over.
    search_text: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    # The list row's one-line plain preview (of the result, else action, situation, task),
    # computed when the entry is saved so the list never renders Markdown.
    excerpt: so.Mapped[str] = so.mapped_column(sa.Text, default="", server_default=sa.text("''"))
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    deleted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship()
    tag_rows: so.Mapped[list[LogEntryTag]] = so.relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True,
        order_by="LogEntryTag.position", lazy="selectin",
    )

    __table_args__ = (
        sa.CheckConstraint("impact IN ('Low', 'Medium', 'High')", name="impact_valid"),
        # The list: one user's live entries, newest first.
        sa.Index("ix_log_entries_user_live_date", "user_id", "deleted_at", "work_date", "id"),
        sa.Index("ix_log_entries_user_category", "user_id", "category"),
        sa.Index("ix_log_entries_user_impact", "user_id", "impact"),
        # Substring search on PostgreSQL: pg_trgm, with user_id beside it (btree_gin) so a search
        # reads only the searcher's matches. SQLite uses the FTS5 trigram table instead.
        sa.Index(
            "ix_log_entries_user_search_trgm", "user_id", "search_text",
            postgresql_using="gin", postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    def __repr__(self) -> str:
        return f"<LogEntry {self.id} {self.title!r}>"

    @property
    def tags(self) -> list[str]:
        return [row.tag for row in self.tag_rows]

    @tags.setter
    def tags(self, values: list[str]) -> None:
        self.tag_rows = [LogEntryTag(tag=tag, position=i) for i, tag in enumerate(values)]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def snapshot(self) -> dict[str, Any]:
        """The editable fields as plain values, as kept in a version."""
        return {
            "work_date": self.work_date.isoformat(),
            "title": self.title,
            **{part: getattr(self, part) for part in STAR_PARTS},
            "category": self.category,
            "impact": self.impact,
            "tags": self.tags,
        }

    def refresh_search_text(self) -> None:
        pieces = [self.title, *(getattr(self, p) or "" for p in STAR_PARTS), self.category or "",
                  " ".join(self.tags)]
        self.search_text = "\n".join(pieces).lower()
        self.excerpt = entry_excerpt(self)


def entry_excerpt(entry: Any) -> str:
    """What a list row previews: the first non-empty of result, action, situation, task."""
    from app.services.markdown import plain_excerpt

    return plain_excerpt(entry.result or entry.action or entry.situation or entry.task)


class LogEntryTag(db.Model):
    __tablename__ = "log_entry_tags"

    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("log_entries.id", ondelete="CASCADE"), primary_key=True
    )
    tag: so.Mapped[str] = so.mapped_column(sa.String(TAG_MAX), primary_key=True)
    position: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    entry: so.Mapped[LogEntry] = so.relationship(back_populates="tag_rows")

    __table_args__ = (sa.Index("ix_log_entry_tags_tag", "tag", "entry_id"),)


class LogEntryVersion(db.Model):
    """The state of an entry before an edit; version N is what the entry was at version N."""

    __tablename__ = "log_entry_versions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    entry_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("log_entries.id", ondelete="CASCADE")
    )
    version: so.Mapped[int]
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    edited_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("entry_id", "version", name="uq_log_entry_versions_entry_version"),
    )
