"""Single-use invite links: an admin invites an email, the invitee sets a password."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.models.user import Role, Team, User, normalize_email


def hash_invite_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invite(db.Model):
    __tablename__ = "invites"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Only the hash is stored: the link is shown to the admin once and cannot be read back.
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), index=True)
    display_name: so.Mapped[str | None] = so.mapped_column(sa.String(100))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default=Role.MEMBER.value)
    team_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    created_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), index=True)
    accepted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    accepted_user_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    team: so.Mapped[Team | None] = so.relationship()
    created_by: so.Mapped[User | None] = so.relationship(foreign_keys=[created_by_id])

    __table_args__ = (
        sa.CheckConstraint("role IN ('member', 'lead', 'admin')", name="role_valid"),
    )

    def __repr__(self) -> str:
        return f"<Invite {self.id} {self.email}>"

    @so.validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalize_email(value)

    @so.validates("role")
    def _check_role(self, _key: str, value: str) -> str:
        return Role(value).value

    @classmethod
    def issue(cls, email: str, *, role: Role | str, team: Team | None, display_name: str | None,
              created_by: User | None, ttl_hours: int) -> tuple[Invite, str]:
        """A new invite and its raw token (for the link, shown once)."""
        token = secrets.token_urlsafe(32)
        invite = cls(
            token_hash=hash_invite_token(token),
            email=email,
            role=Role(role).value,
            team=team,
            display_name=display_name or None,
            created_by=created_by,
            expires_at=utcnow() + timedelta(hours=ttl_hours),
        )
        db.session.add(invite)
        return invite, token

    @classmethod
    def find_usable(cls, token: str) -> Invite | None:
        """The invite for a token if it can still be accepted, else None."""
        return db.session.scalar(
            sa.select(cls).where(
                cls.token_hash == hash_invite_token(token),
                cls.accepted_at.is_(None),
                cls.revoked_at.is_(None),
                cls.expires_at > utcnow(),
            )
        )

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > utcnow()

    def claim(self) -> bool:
        """Mark used, atomically: only one of two racing acceptances gets True."""
        now = utcnow()
        result = db.session.execute(
            sa.update(Invite)
            .where(Invite.id == self.id, Invite.accepted_at.is_(None), Invite.revoked_at.is_(None),
                   Invite.expires_at > now)
            .values(accepted_at=now),
            execution_options={"synchronize_session": False},
        )
        if (result.rowcount or 0) != 1:
            return False
        so.attributes.set_committed_value(self, "accepted_at", now)
        return True
