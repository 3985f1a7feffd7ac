"""Creating users and teams: shared by the CLI, the demo seed and (later) the admin console."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from app.extensions import db
from app.models import Role, Team, User
from app.models.user import normalize_email
from app.security.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH


class AccountError(ValueError):
    """A request to create or change an account that breaks a rule."""


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def get_or_create_team(name: str) -> Team:
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("team name must be 1 to 100 characters")
    team = db.session.scalar(sa.select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        db.session.add(team)
        db.session.flush()
    return team


def create_user(
    email: str,
    *,
    password: str,
    role: Role | str = Role.MEMBER,
    display_name: str | None = None,
    team: Team | None = None,
    timezone: str = "UTC",
    locale: str | None = None,
) -> User:
    email = normalize_email(email)
    if "@" not in email or len(email) > 254 or email.startswith("@") or email.endswith("@"):
        raise AccountError(f"{email!r} is not an email address")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user with email {email} already exists")
    validate_password(password)
    user = User(
        email=email,
        display_name=(display_name or email.split("@")[0])[:100],
        role=Role(role).value,
        team=team,
        timezone=timezone,
        locale=locale,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user
