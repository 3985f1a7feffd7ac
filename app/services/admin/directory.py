"""Admin rules for users, teams and invites: plain values in, models out; the caller commits.

Each change returns (before, after) so the route can audit both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_babel import gettext as _

from app.extensions import db
from app.models import Invite, Role, Team, User, UserSession
from app.models.base import utcnow
from app.models.user import normalize_email
from app.services.accounts.users import AccountError, create_user, generate_password
from app.services.paging import page_arg_value
from app.services.text import filter_text, like_pattern
from app.services.validation import parse_int


class AdminRuleError(ValueError):
    """An admin action that breaks a rule; the message is shown to the admin."""


# --- paging ------------------------------------------------------------------------


# --- users --------------------------------------------------------------------------


@dataclass(frozen=True)
class UserFilters:
    q: str = ""
    role: str = ""
    team: str = ""  # a team id, "none" for users without a team, "" for any
    active: str = ""  # "yes", "no" or "" for both
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> UserFilters:
        role = args.get("role", "")
        team = args.get("team", "")
        active = args.get("active", "")
        return cls(
            q=filter_text(args.get("q"), 100),
            role=role if role in {r.value for r in Role} else "",
            team=team if team == "none" or parse_int(team, minimum=1) is not None else "",
            active=active if active in ("yes", "no") else "",
            page=page_arg_value(args.get("page")),
        )

    def query_args(self, **changes: Any) -> dict[str, Any]:
        values = {"q": self.q, "role": self.role, "team": self.team, "active": self.active,
                  "page": self.page if self.page > 1 else ""}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


def users_query(filters: UserFilters) -> sa.Select[Any]:
    """Users with their team and live-session count, in one statement."""
    live_sessions = (
        sa.select(sa.func.count(UserSession.id))
        .where(UserSession.user_id == User.id, UserSession.ended_at.is_(None))
        .correlate(User)
        .scalar_subquery()
    )
    stmt = sa.select(User, live_sessions.label("live_sessions")).options(so.joinedload(User.team))
    if filters.q:
        pattern = like_pattern(filters.q.lower())
        stmt = stmt.where(sa.or_(
            sa.func.lower(User.email).like(pattern, escape="\\"),
            sa.func.lower(User.display_name).like(pattern, escape="\\"),
        ))
    if filters.role:
        stmt = stmt.where(User.role == filters.role)
    if filters.team == "none":
        stmt = stmt.where(User.team_id.is_(None))
    elif filters.team:
        stmt = stmt.where(User.team_id == int(filters.team))
    if filters.active == "yes":
        stmt = stmt.where(User.is_active)
    elif filters.active == "no":
        stmt = stmt.where(sa.not_(User.is_active))
    return stmt.order_by(User.email, User.id)


def all_teams() -> list[Team]:
    return list(db.session.scalars(sa.select(Team).order_by(Team.name)))


def get_team(team_id: int | str | None) -> Team | None:
    number = team_id if isinstance(team_id, int) else parse_int(team_id, minimum=1)
    return db.session.get(Team, number) if number is not None else None


def user_snapshot(user: User) -> dict[str, Any]:
    return {"email": user.email, "role": user.role, "team_id": user.team_id,
            "is_active": user.is_active,
            "locked_until": user.locked_until.isoformat() if user.locked_until else None}


def _lock_active_admins() -> list[int]:
    """Ids of active admins, row-locked on PostgreSQL so two admins cannot both step down."""
    stmt = sa.select(User.id).where(User.role == Role.ADMIN.value, User.is_active)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(db.session.scalars(stmt))


def _ensure_not_last_admin(user: User) -> None:
    if not (user.is_admin and user.is_active):
        return
    others = [i for i in _lock_active_admins() if i != user.id]
    if not others:
        raise AdminRuleError(_("%(email)s is the last active admin. Make someone else an admin first.",
                               email=user.email))


def _team_changed(*team_ids: int | None) -> None:
    """Who leads a team, and who is in it, decides whether its members can submit a review
    (shown on their pages): their cached pages (ETags) must not survive the change."""
    from app.services.freshness import bump_data_version

    ids = {t for t in team_ids if t is not None}
    if ids:
        bump_data_version(*db.session.scalars(sa.select(User.id).where(User.team_id.in_(ids))))


def change_role(user: User, role: str) -> None:
    try:
        new = Role(role).value
    except ValueError:
        raise AdminRuleError(_("Choose a valid role.")) from None
    if new == user.role:
        return
    if new != Role.ADMIN.value:
        _ensure_not_last_admin(user)
    user.role = new
    _team_changed(user.team_id)


def change_team(user: User, team: Team | None) -> None:
    before = user.team_id
    user.team = team
    db.session.flush()
    _team_changed(before, user.team_id)


def deactivate(actor: User, user: User) -> int:
    if user.id == actor.id:
        raise AdminRuleError(_("You cannot deactivate your own account. Ask another admin."))
    if not user.is_active:
        return 0
    _ensure_not_last_admin(user)
    ended = user.deactivate()
    _team_changed(user.team_id)
    return ended


def reactivate(user: User) -> None:
    user.is_active = True
    _team_changed(user.team_id)


def end_sessions(user: User) -> int:
    return UserSession.end_all_for(user.id, "ended_by_admin")


def check_email_free(email: str) -> str:
    email = normalize_email(email)
    local, _at, domain = email.partition("@")
    if not local or not domain or len(email) > 254 or " " in email:
        raise AdminRuleError(_("Enter an email address."))
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AdminRuleError(_("A user with this email already exists."))
    return email


def create_account(email: str, display_name: str | None, role: str, team: Team | None) -> tuple[User, str]:
    """A new user with a generated password, returned once for the admin to pass on."""
    check_email_free(email)
    password = generate_password()
    try:
        user = create_user(email, password=password, role=role, display_name=display_name, team=team)
    except AccountError as exc:
        raise AdminRuleError(str(exc)) from None
    return user, password


# --- invites ------------------------------------------------------------------------


def create_invite(email: str, display_name: str | None, role: str, team: Team | None,
                  created_by: User, ttl_hours: int) -> tuple[Invite, str]:
    email = check_email_free(email)
    return Invite.issue(email, role=role, team=team, display_name=display_name,
                        created_by=created_by, ttl_hours=ttl_hours)


def pending_invites(limit: int = 50) -> list[Invite]:
    return list(db.session.scalars(
        sa.select(Invite).options(so.joinedload(Invite.team))
        .where(Invite.accepted_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > utcnow())
        .order_by(Invite.created_at.desc(), Invite.id.desc()).limit(limit)
    ))


def revoke_invite(invite: Invite) -> bool:
    if not invite.is_pending:
        return False
    invite.revoked_at = utcnow()
    return True


def accept_invite(invite: Invite, display_name: str, password: str) -> User:
    """Create the invitee's account; the invite is claimed first, so it works only once."""
    if not invite.claim():
        raise AdminRuleError(_("This invite link is no longer valid."))
    if db.session.scalar(sa.select(User.id).where(User.email == invite.email)) is not None:
        raise AdminRuleError(_("An account with this email already exists. Sign in instead."))
    try:
        user = create_user(invite.email, password=password, role=invite.role,
                           display_name=display_name or invite.display_name, team=invite.team)
    except AccountError as exc:
        raise AdminRuleError(str(exc)) from None
    invite.accepted_user_id = user.id
    return user


# --- teams --------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamRow:
    team: Team
    members: int
    leads: list[User]


def teams_overview() -> list[TeamRow]:
    """Every team with its member count and leads: two statements however many teams."""
    counts = (
        sa.select(sa.func.count(User.id)).where(User.team_id == Team.id).correlate(Team).scalar_subquery()
    )
    rows = db.session.execute(sa.select(Team, counts).order_by(Team.name)).all()
    leads: dict[int, list[User]] = {}
    for lead in db.session.scalars(
        sa.select(User).where(User.role == Role.LEAD.value, User.team_id.is_not(None))
        .order_by(User.display_name, User.id)
    ):
        leads.setdefault(lead.team_id, []).append(lead)  # type: ignore[arg-type]
    return [TeamRow(team, count, leads.get(team.id, [])) for team, count in rows]


def _valid_team_name(name: str, team_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise AdminRuleError(_("A team name needs 1 to 100 characters."))
    clash = db.session.scalar(sa.select(Team.id).where(sa.func.lower(Team.name) == name.lower()))
    if clash is not None and clash != team_id:
        raise AdminRuleError(_("A team with this name already exists."))
    return name


def create_team(name: str) -> Team:
    team = Team(name=_valid_team_name(name))
    db.session.add(team)
    db.session.flush()
    return team


def rename_team(team: Team, name: str) -> None:
    team.name = _valid_team_name(name, team.id)


def delete_team(team: Team) -> None:
    """Delete the team only if nobody is in it and no live invite would join it, checked in the
    same statement (no race)."""
    invited = sa.exists().where(Invite.team_id == Team.id, Invite.accepted_at.is_(None),
                                Invite.revoked_at.is_(None), Invite.expires_at > utcnow())
    result = db.session.execute(
        sa.delete(Team).where(Team.id == team.id, ~sa.exists().where(User.team_id == Team.id), ~invited),
        execution_options={"synchronize_session": False},
    )
    if (result.rowcount or 0) != 1:
        raise AdminRuleError(_("Only an empty team can be deleted. Move its members and revoke its "
                               "pending invites first."))
    db.session.expunge(team)


def team_members(team: Team) -> list[User]:
    return list(db.session.scalars(
        sa.select(User).where(User.team_id == team.id).order_by(User.display_name, User.id)
    ))


def set_lead(team: Team, user: User, lead: bool) -> None:
    """Make a member of the team its lead, or a lead back a member. Admins are left alone."""
    if user.team_id != team.id:
        raise AdminRuleError(_("Only a member of this team can lead it."))
    if user.is_admin:
        raise AdminRuleError(_("Admins keep their role; change it on the user's page if needed."))
    user.role = Role.LEAD.value if lead else Role.MEMBER.value
    _team_changed(team.id)


# --- recent sign-in -----------------------------------------------------------------


def signed_in_recently(record: UserSession | None, minutes: int) -> bool:
    """Was the password typed in this session (at sign-in or again) within `minutes`?"""
    if record is None:
        return False
    last = max(filter(None, (record.authenticated_at, record.reauthenticated_at)))
    return last > utcnow() - timedelta(minutes=minutes)
