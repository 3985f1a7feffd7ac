"""Idempotency keys of background jobs: one row per outside effect that has happened.

A job that may run twice (its worker was killed after the outside call and before the job was
marked done) looks its key up first; the key is written right after the effect succeeded.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class JobEffect(db.Model):
    __tablename__ = "job_effects"

    key: so.Mapped[str] = so.mapped_column(sa.String(200), primary_key=True)
    task: so.Mapped[str] = so.mapped_column(sa.String(100))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<JobEffect {self.key}>"


class JobError(db.Model):
    """The last error of a queued job (procrastinate keeps statuses, not exceptions)."""

    __tablename__ = "job_errors"

    job_id: so.Mapped[int] = so.mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    task: so.Mapped[str] = so.mapped_column(sa.String(100))
    attempt: so.Mapped[int] = so.mapped_column()
    error: so.Mapped[str] = so.mapped_column(sa.String(500))
    at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
