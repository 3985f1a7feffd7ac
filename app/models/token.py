"""Personal API tokens: a user's Bearer credentials for /api, stored only as a hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User

# Recognisable in logs (app/logging_setup.py masks `wl_...`) and in secret scanners.
TOKEN_PREFIX = "wl_"  # noqa: S105 - a prefix, not a secret
NAME_MAX = 100
# What is kept in clear so people can tell their tokens apart: "wl_" and 5 random characters.
DISPLAY_PREFIX_LENGTH = 8
# Writing last_used_at on every API call would make each call a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_api_token() -> str:
    """`wl_` and 43 URL-safe characters (256 bits of randomness)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(NAME_MAX))
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    display_prefix: so.Mapped[str] = so.mapped_column(sa.String(DISPLAY_PREFIX_LENGTH))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} user={self.user_id} {self.display_prefix}…>"

    @classmethod
    def issue(cls, user: User, name: str, expires_in_days: int | None) -> tuple[ApiToken, str]:
        """A new token record for `user`; returns it with the raw token (show it once)."""
        raw = generate_api_token()
        now = utcnow()
        record = cls(
            user_id=user.id,
            name=name,
            token_hash=hash_api_token(raw),
            display_prefix=raw[:DISPLAY_PREFIX_LENGTH],
            created_at=now,
            expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
        )
        db.session.add(record)
        return record, raw

    @classmethod
    def find_usable(cls, raw: str) -> ApiToken | None:
        """The live token for `raw`, with its active owner loaded (one query), or None."""
        if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
            return None
        now = utcnow()
        stmt = (
            sa.select(cls)
            .join(cls.user)
            .options(so.contains_eager(cls.user))
            .where(
                cls.token_hash == hash_api_token(raw),
                cls.revoked_at.is_(None),
                sa.or_(cls.expires_at.is_(None), cls.expires_at > now),
                User.is_active,
            )
        )
        return db.session.scalars(stmt).first()

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired

    def touch(self) -> bool:
        """Record a use when the last recorded one is stale; True if it changed."""
        now = utcnow()
        if self.last_used_at is not None and now - self.last_used_at < LAST_USED_RESOLUTION:
            return False
        self.last_used_at = now
        return True

    def revoke(self) -> bool:
        if self.revoked_at is not None:
            return False
        self.revoked_at = utcnow()
        return True
