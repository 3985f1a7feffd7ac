"""Users, their roles and teams."""

from __future__ import annotations

import enum
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow
from app.security.passwords import hash_password, needs_rehash, verify_password

if TYPE_CHECKING:
    from app.models.session import UserSession


class Role(enum.StrEnum):
    MEMBER = "member"
    LEAD = "lead"
    ADMIN = "admin"


def normalize_email(email: str) -> str:
    return email.strip().lower()


class Team(db.Model):
    __tablename__ = "teams"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(100), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    members: so.WriteOnlyMapped[User] = so.relationship(back_populates="team")

    def __repr__(self) -> str:
        return f"<Team {self.name}>"


class User(db.Model):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Stored normalised (lower case), so the unique constraint is case-insensitive.
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    display_name: so.Mapped[str] = so.mapped_column(sa.String(100))
    password_hash: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(
        sa.String(16), default=Role.MEMBER.value, server_default=Role.MEMBER.value
    )
    team_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    is_active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.text("true"))
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="UTC", server_default="UTC")
    locale: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    failed_login_count: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    last_failed_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    locked_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_login_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    password_changed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Bumped in the same transaction as any write that changes what this user's pages show
    # (app/services/freshness.py); part of the pages' ETags.
    data_version: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0, server_default="0")

    team: so.Mapped[Team | None] = so.relationship(back_populates="members")
    sessions: so.WriteOnlyMapped[UserSession] = so.relationship(
        back_populates="user", passive_deletes=True
    )

    __table_args__ = (
        sa.CheckConstraint("role IN ('member', 'lead', 'admin')", name="role_valid"),
    )

    # Flask-Login reads these; the session token is set per request by the user loader.
    _session_token = None

    def __repr__(self) -> str:
        return f"<User {self.email}>"

    @so.validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return normalize_email(value)

    @so.validates("role")
    def _check_role(self, _key: str, value: str) -> str:
        return Role(value).value

    # --- Flask-Login protocol -------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        # The Flask session holds the server-side session token, never the user id,
        # so ending the record ends the login everywhere.
        return self._session_token

    # --- behaviour ------------------------------------------------------------
    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        ok = verify_password(self.password_hash, password)
        if ok and needs_rehash(self.password_hash):
            self.password_hash = hash_password(password)
        return ok

    def has_role(self, *roles: Role | str) -> bool:
        return self.role in {Role(r).value for r in roles}

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def is_lead(self) -> bool:
        return self.role == Role.LEAD.value

    @property
    def leads_team(self) -> bool:
        """An active lead with a team: reads that team's entries and reviews its members."""
        return bool(self.is_active and self.is_lead and self.team_id is not None)

    def today(self) -> date:
        """Today's date where the user is (their timezone; UTC when it is unset or unknown)."""
        return today_in(self.timezone)

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    def record_failed_login(self, threshold: int, base_seconds: int, max_seconds: int) -> bool:
        """Count a failure; returns True when this failure (re)locks the account."""
        now = utcnow()
        self.failed_login_count += 1
        self.last_failed_login_at = now
        over = self.failed_login_count - threshold
        if over < 0:
            return False
        # Each failure past the threshold doubles the wait, up to the cap.
        seconds = min(base_seconds * (2 ** min(over, 20)), max_seconds)
        self.locked_until = now + timedelta(seconds=seconds)
        return True

    def record_successful_login(self) -> None:
        self.failed_login_count = 0
        self.locked_until = None
        self.last_login_at = utcnow()

    def deactivate(self) -> int:
        """Switch the account off and end its sessions at once; returns how many ended."""
        from app.models.session import UserSession

        self.is_active = False
        return UserSession.end_all_for(self.id, "deactivated")

    def unlock(self) -> None:
        self.failed_login_count = 0
        self.locked_until = None


def today_in(timezone: str | None) -> date:
    """Today's date in `timezone` (UTC when it is unset or unknown)."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()
