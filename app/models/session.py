"""Server-side login sessions: the cookie holds a token, this table decides if it is valid."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

# Writing last_seen on every request would turn each page view into a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserSession(db.Model):
    __tablename__ = "user_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    authenticated_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # When the password was last typed again for a guarded admin action (admin console).
    reauthenticated_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_seen_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    ended_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime(), index=True)
    end_reason: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    # How this sign-in was made: "password", or "oidc:<provider>" for company sign-in.
    method: so.Mapped[str] = so.mapped_column(
        sa.String(40), default="password", server_default="password"
    )

    user: so.Mapped[User] = so.relationship(back_populates="sessions")

    def __repr__(self) -> str:
        return f"<UserSession {self.id} user={self.user_id}>"

    @classmethod
    def start(cls, user: User, ip: str | None, user_agent: str | None,
              method: str = "password") -> tuple[UserSession, str]:
        """Create a session record; returns it with the raw token for the cookie."""
        token = secrets.token_urlsafe(32)
        record = cls(
            user=user,
            method=method,
            token_hash=hash_token(token),
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
        )
        db.session.add(record)
        return record, token

    @classmethod
    def find_active(cls, token: str, idle_days: int) -> UserSession | None:
        """The live session for a token, with its user, or None."""
        stmt = (
            sa.select(cls)
            .join(cls.user)
            .options(so.contains_eager(cls.user))
            .where(cls.token_hash == hash_token(token), cls.ended_at.is_(None), User.is_active)
        )
        record = db.session.scalars(stmt).first()
        if record is None:
            return None
        if record.last_seen_at < utcnow() - timedelta(days=idle_days):
            record.end("expired")
            db.session.commit()
            return None
        return record

    @property
    def is_active(self) -> bool:
        return self.ended_at is None

    def touch(self) -> bool:
        """Refresh last_seen when it is stale; returns True if it changed."""
        now = utcnow()
        if now - self.last_seen_at < LAST_SEEN_RESOLUTION:
            return False
        self.last_seen_at = now
        return True

    def end(self, reason: str) -> None:
        if self.ended_at is None:
            self.ended_at = utcnow()
            self.end_reason = reason

    @staticmethod
    def end_all_for(user_id: int, reason: str, *, except_id: int | None = None) -> int:
        """End every live session of a user (but one); returns how many ended."""
        stmt = (
            sa.update(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
            .values(ended_at=utcnow(), end_reason=reason)
        )
        if except_id is not None:
            stmt = stmt.where(UserSession.id != except_id)
        result = db.session.execute(stmt, execution_options={"synchronize_session": False})
        return result.rowcount or 0

    @staticmethod
    def active_count() -> int:
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(UserSession).where(UserSession.ended_at.is_(None))
        ) or 0
