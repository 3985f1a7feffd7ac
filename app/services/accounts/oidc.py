"""Company sign-in (OpenID Connect): who gets in once the provider has vouched for them.

The protocol (redirects, tokens, signatures) is Authlib's, in app/auth/oidc.py; this module
gets the validated claims as plain values and decides: a known identity signs in its user; a
new one is linked to the user with the same *verified* email (if allowed) or gets an account
just in time (if its domain is allowed); everything else is refused with a reason. Every
outcome is audited and counted in auth_attempts_total{method="oidc"}; the caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.metrics import count_auth_attempt
from app.models import Role, Team, User, UserIdentity, UserSession
from app.models.base import utcnow
from app.services.accounts.auth import LoginResult, find_user_by_email
from app.services.audit import record_event
from app.services.context import RequestContext

log = logging.getLogger("worklog.auth")
ROLE_RANK = {Role.MEMBER.value: 0, Role.LEAD.value: 1, Role.ADMIN.value: 2}
# Reasons a sign-in is refused; each has its own page (app/auth/oidc.py) and audit detail.
POLICY_REASONS = ("inactive", "email_missing", "email_unverified", "domain_not_allowed",
                  "link_not_allowed")


@dataclass(frozen=True)
class OidcPolicy:
    allowed_domains: tuple[str, ...]
    link_by_email: bool


@dataclass(frozen=True)
class ProviderClaims:
    """What a provider said about the person, after the ID token was validated."""

    provider: str
    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None = None
    groups: tuple[str, ...] | None = None


@dataclass
class OidcOutcome:
    result: LoginResult
    reason: str | None = None
    created: bool = False
    linked: bool = False
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.result.ok


def record_failure(provider: str, reason: str, client: RequestContext, *, user: User | None = None,
                   detail: str | None = None) -> None:
    """Audit, log and count a refused company sign-in; the caller commits."""
    details: dict[str, Any] = {"provider": provider, "reason": reason}
    if detail:
        details["detail"] = detail[:200]
    record_event("auth.oidc_login_failed", client, actor=user, target_type="user" if user else None,
                 target_id=user.id if user else None, details=details)
    count_auth_attempt("inactive" if reason == "inactive" else "failure", method="oidc")
    log.warning("auth_failed", extra={"event": "auth_failed", "method": "oidc", "provider": provider,
                                      "reason": reason, "client_ip": client.ip,
                                      "user_id": user.id if user else None})


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].lower()


def _display_name(claims: ProviderClaims, email: str) -> str:
    name = (claims.name or "").strip() or email.partition("@")[0]
    return name[:100]


def _find_or_make_user(claims: ProviderClaims, policy: OidcPolicy) -> tuple[User | None, str | None, bool]:
    """(user, refusal reason, created) for an identity seen for the first time."""
    if not claims.email:
        return None, "email_missing", False
    if not claims.email_verified:
        return None, "email_unverified", False
    user = find_user_by_email(claims.email)
    if user is not None:
        return (user, None, False) if policy.link_by_email else (None, "link_not_allowed", False)
    if email_domain(claims.email) not in policy.allowed_domains:
        return None, "domain_not_allowed", False
    user = User(email=claims.email, display_name=_display_name(claims, claims.email),
                role=Role.MEMBER.value, password_hash=None)
    db.session.add(user)
    db.session.flush()
    return user, None, True


def apply_group_mapping(user: User, provider: dict[str, Any],
                        groups: tuple[str, ...] | None) -> dict[str, Any]:
    """Set role and team from the provider's groups claim; returns {field: [before, after]}.

    Role: the highest role any of the person's groups maps to, or member when none does (so
    leaving the admin group takes admin away at the next sign-in) — but never the last active
    admin's. Team: the first mapped group's team, if that team exists; unchanged otherwise.
    """
    if groups is None or not provider.get("roles_claim"):
        return {}
    changes: dict[str, Any] = {}
    role_map: dict[str, str] = provider.get("role_map") or {}
    if role_map:
        roles = [role_map[g] for g in groups if g in role_map]
        role = max(roles, key=ROLE_RANK.__getitem__) if roles else Role.MEMBER.value
        if role != user.role and not (user.is_admin and role != Role.ADMIN.value and _last_admin(user)):
            changes["role"] = [user.role, role]
            user.role = role
    team_map: dict[str, str] = provider.get("team_map") or {}
    for group, team_name in team_map.items():
        if group not in groups:
            continue
        team = db.session.scalar(sa.select(Team).where(Team.name == team_name))
        if team is not None and team.id != user.team_id:
            changes["team"] = [user.team.name if user.team else None, team.name]
            user.team = team
        break
    return changes


def _last_admin(user: User) -> bool:
    others = db.session.scalar(
        sa.select(sa.func.count()).select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active, User.id != user.id)
    )
    return not others


def complete_sign_in(provider: dict[str, Any], claims: ProviderClaims, policy: OidcPolicy,
                     client: RequestContext) -> OidcOutcome:
    """Sign in (linking or creating as the policy allows) or refuse; audited, the caller commits."""
    identity = UserIdentity.find(claims.issuer, claims.subject)
    created = linked = False
    if identity is not None:
        user: User | None = identity.user
    else:
        user, reason, created = _find_or_make_user(claims, policy)
        if user is None:
            record_failure(claims.provider, reason or "refused", client)
            return OidcOutcome(LoginResult(None, None, None), reason=reason)
        if not user.is_active:
            record_failure(claims.provider, "inactive", client, user=user)
            return OidcOutcome(LoginResult(None, None, None), reason="inactive")
        identity = UserIdentity(user=user, provider=claims.provider, issuer=claims.issuer,
                                subject=claims.subject, email=claims.email)
        db.session.add(identity)
        db.session.flush()
        linked = True
        if created:
            record_event("auth.oidc_user_created", client, actor=user, target_type="user", target_id=user.id,
                         details={"provider": claims.provider, "email": user.email})
        record_event("auth.oidc_linked", client, actor=user, target_type="user", target_id=user.id,
                     details={"provider": claims.provider, "identity_id": identity.id,
                              "subject": claims.subject, "email": claims.email,
                              "created_account": created})
    assert user is not None
    if not user.is_active:
        record_failure(claims.provider, "inactive", client, user=user)
        return OidcOutcome(LoginResult(None, None, None), reason="inactive")
    changes = apply_group_mapping(user, provider, claims.groups)
    if changes:
        record_event("auth.oidc_groups_applied", client, actor=user, target_type="user", target_id=user.id,
                     details={"provider": claims.provider, "changes": changes,
                              "claim": provider.get("roles_claim")})
    identity.last_login_at = utcnow()
    user.last_login_at = identity.last_login_at
    record, token = UserSession.start(user, client.ip, client.user_agent, method=f"oidc:{claims.provider}")
    db.session.flush()
    record_event("auth.oidc_login_succeeded", client, actor=user, target_type="session", target_id=record.id,
                 details={"provider": claims.provider, "identity_id": identity.id})
    count_auth_attempt("success", method="oidc")
    return OidcOutcome(LoginResult(user, record, token), created=created, linked=linked, changes=changes)


def unlink_identity(user: User, identity_id: int, actor: User, client: RequestContext, *,
                    password_login: bool) -> UserIdentity | None:
    """Remove one of `user`'s identities if they keep a way in; None if it is not theirs.

    Raises ValueError when it is their last way in (no other identity, and no password they
    may use). The caller commits.
    """
    identity = db.session.scalar(sa.select(UserIdentity).where(
        UserIdentity.id == identity_id, UserIdentity.user_id == user.id))
    if identity is None:
        return None
    others = db.session.scalar(sa.select(sa.func.count()).select_from(UserIdentity).where(
        UserIdentity.user_id == user.id, UserIdentity.id != identity.id)) or 0
    password_usable = bool(user.password_hash) and (password_login or user.is_admin)
    if not others and not password_usable:
        raise ValueError("last way in")
    db.session.delete(identity)
    record_event("auth.oidc_unlinked", client, actor=actor, target_type="user", target_id=user.id,
                 details={"provider": identity.provider, "issuer": identity.issuer,
                          "subject": identity.subject, "email": identity.email,
                          "by_admin": actor.id != user.id})
    return identity
