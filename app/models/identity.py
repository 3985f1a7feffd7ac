"""Company sign-in identities: an (issuer, subject) pair from an OpenID provider, owned by a user."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import User


class UserIdentity(db.Model):
    __tablename__ = "user_identities"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The configured provider's name (OIDC_PROVIDERS), for showing; the issuer is what counts.
    provider: so.Mapped[str] = so.mapped_column(sa.String(32))
    issuer: so.Mapped[str] = so.mapped_column(sa.String(255))
    subject: so.Mapped[str] = so.mapped_column(sa.String(255))
    # The email the provider gave when the identity was linked (shown, never used to match).
    email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship()

    __table_args__ = (sa.UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer_subject"),)

    def __repr__(self) -> str:
        return f"<UserIdentity {self.provider} {self.subject} user={self.user_id}>"

    @classmethod
    def find(cls, issuer: str, subject: str) -> UserIdentity | None:
        return db.session.scalar(sa.select(cls).where(cls.issuer == issuer, cls.subject == subject))

    @classmethod
    def for_user(cls, user_id: int) -> list[UserIdentity]:
        return list(db.session.scalars(
            sa.select(cls).where(cls.user_id == user_id).order_by(cls.created_at, cls.id)
        ))
