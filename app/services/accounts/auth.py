"""Signing in and out, password changes and session ending: the rules, without HTTP.

These functions change the session and write their audit rows; the caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.metrics import count_auth_attempt
from app.models import User, UserSession
from app.models.user import normalize_email
from app.security.passwords import burn_verification_time
from app.services.audit import record_event
from app.services.context import RequestContext


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    base_seconds: int
    max_seconds: int


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    session: UserSession | None
    token: str | None

    @property
    def ok(self) -> bool:
        return self.user is not None and self.token is not None


FAILED = LoginResult(None, None, None)
log = logging.getLogger("worklog.auth")


def _failed(client: RequestContext, reason: str, user: User | None = None) -> LoginResult:
    """Count and log a refused sign-in (the email typed is never logged)."""
    count_auth_attempt(reason if reason in ("locked", "inactive") else "failure")
    log.warning("auth_failed", extra={"event": "auth_failed", "reason": reason, "client_ip": client.ip,
                                      "user_id": user.id if user else None})
    return FAILED


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))


def sign_in(email: str, password: str, client: RequestContext, policy: LockoutPolicy,
            *, admins_only: bool = False) -> LoginResult:
    """Check credentials and open a session. Every outcome is audited; the caller commits
    whatever the outcome (a failure counts toward the lockout).

    `admins_only` (PASSWORD_LOGIN=false): only admins may use a password (break-glass).
    """
    user = find_user_by_email(email)
    if user is None:
        burn_verification_time(password)
        record_event("auth.login_failed", client, details={"reason": "unknown_email"})
        return _failed(client, "unknown_email")
    if user.is_locked():
        burn_verification_time(password)
        record_event("auth.login_failed", client, actor=user, target_type="user", target_id=user.id,
                     details={"reason": "locked"})
        return _failed(client, "locked", user)
    if not user.check_password(password) or not user.is_active:
        reason = "inactive" if user.is_active is False else "bad_password"
        locked = False
        if reason == "bad_password":
            locked = user.record_failed_login(
                policy.threshold, policy.base_seconds, policy.max_seconds
            )
        record_event("auth.login_failed", client, actor=user, target_type="user", target_id=user.id,
                     details={"reason": reason})
        if locked:
            record_event("auth.locked", client, actor=user, target_type="user", target_id=user.id,
                         details={
                             "failed_attempts": user.failed_login_count,
                             "locked_until": user.locked_until.isoformat() if user.locked_until else None,
                         })
        return _failed(client, reason, user)
    if admins_only and not user.is_admin:
        record_event("auth.login_failed", client, actor=user, target_type="user", target_id=user.id,
                     details={"reason": "password_login_disabled"})
        return _failed(client, "password_login_disabled", user)
    user.record_successful_login()
    record, token = UserSession.start(user, client.ip, client.user_agent)
    db.session.flush()
    record_event("auth.login_succeeded", client, actor=user, target_type="session", target_id=record.id)
    count_auth_attempt("success")
    return LoginResult(user, record, token)


def sign_out(user: User, record: UserSession | None, client: RequestContext) -> None:
    if record is not None:
        record.end("logout")
    record_event("auth.logout", client, actor=user, target_type="session",
                 target_id=record.id if record else None)


def change_password(
    user: User, current_session: UserSession | None, new_password: str, client: RequestContext
) -> int:
    """Set a new password and end every other session; returns how many ended."""
    user.set_password(new_password)
    ended = UserSession.end_all_for(
        user.id, "password_changed", except_id=current_session.id if current_session else None
    )
    record_event("auth.password_changed", client, actor=user, target_type="user", target_id=user.id,
                 details={"sessions_ended": ended})
    return ended


def end_session(user: User, session_id: int, client: RequestContext) -> bool:
    """End one of the user's own sessions; False if it is not theirs or already ended."""
    record = db.session.scalar(
        sa.select(UserSession).where(
            UserSession.id == session_id,
            UserSession.user_id == user.id,
            UserSession.ended_at.is_(None),
        )
    )
    if record is None:
        return False
    record.end("ended_by_user")
    record_event("session.ended", client, actor=user, target_type="session", target_id=record.id)
    return True


def end_other_sessions(user: User, current_session: UserSession | None, client: RequestContext) -> int:
    ended = UserSession.end_all_for(
        user.id, "ended_by_user", except_id=current_session.id if current_session else None
    )
    record_event("session.ended_others", client, actor=user, target_type="user", target_id=user.id,
                 details={"sessions_ended": ended})
    return ended
