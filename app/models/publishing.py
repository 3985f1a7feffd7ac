"""Publishing approved reviews to systems of record (Notion, Confluence).

- `IntegrationDestination`: an admin's settings for one destination kind, org-wide (team_id
  NULL) or a per-team override of where pages go. The token is stored encrypted
  (app/security/secrets.py) and never shown again. Environment variables win over these rows.
- `Publication`: one row per (review, destination): the external page id and link, the state
  of the last publish, and its last error. It is what makes publishing idempotent (a re-approval
  updates this page) and what the review page and /admin/integrations show.
- `PublishRate`: the shared request log of the Notion rate limiter (PostgreSQL; see
  app/services/publishing/ratelimit.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow

KINDS = ("notion", "confluence")


class IntegrationDestination(db.Model):
    __tablename__ = "integration_destinations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(20))
    # NULL: the organisation's destination; a team id: that team's override.
    team_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"))
    # Non-secret settings (database id, base URL, e-mail, space key, parent page id...).
    settings: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    secret_encrypted: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # "••••abcd": what a page may show of the stored secret (secrets.hint).
    secret_hint: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    mirror_entries: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.text("false"))
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("kind", "team_id", name="uq_integration_destinations_kind_team"),
        sa.CheckConstraint("kind IN ('notion', 'confluence')", name="kind_valid"),
    )


class Publication(db.Model):
    __tablename__ = "publications"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    review_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("weekly_reviews.id", ondelete="CASCADE"))
    # The review's author (who may see this row; the ETag data version is keyed on it).
    owner_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                                index=True)
    destination: so.Mapped[str] = so.mapped_column(sa.String(20))
    # queued | creating | published | failed
    state: so.Mapped[str] = so.mapped_column(sa.String(20), default="queued")
    external_id: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    url: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    # The review status last written to the page (approved, changes_requested...).
    page_status: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    published_version: so.Mapped[int | None] = so.mapped_column()
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    last_success_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_failure_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("review_id", "destination", name="uq_publications_review_destination"),
        sa.Index("ix_publications_destination_state", "destination", "state"),
    )


class PublishRate(db.Model):
    __tablename__ = "publish_rate"

    bucket: so.Mapped[str] = so.mapped_column(sa.String(100), primary_key=True)
    # Completion times (epoch seconds) of the last requests, newest last.
    recent: so.Mapped[list[float]] = so.mapped_column(sa.JSON, default=list)


class EntryMirror(db.Model):
    """An entry's page in the Notion entries database (optional mirroring). No foreign key:
    the row must outlive a purged entry so its page can be trashed."""

    __tablename__ = "entry_mirrors"

    entry_id: so.Mapped[int] = so.mapped_column(primary_key=True, autoincrement=False)
    owner_id: so.Mapped[int] = so.mapped_column(index=True)
    # queued | creating | published | trashed | failed
    state: so.Mapped[str] = so.mapped_column(sa.String(20), default="queued")
    external_id: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    url: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    updated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
