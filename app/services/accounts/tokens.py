"""Personal API tokens: issue, list, revoke, authenticate. Plain values in; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import User
from app.models.base import utcnow
from app.models.token import NAME_MAX, ApiToken
from app.services.audit import record_event
from app.services.context import NO_REQUEST, RequestContext
from app.services.log.entries import one_line

EXPIRY_DAYS_MAX = 3650
# Live (not revoked, not expired) tokens one user may hold; also bounds the list page.
ACTIVE_TOKENS_MAX = 50
TOKENS_LISTED = 100


class TokenError(ValueError):
    """The request cannot be granted; `code` says why (name_required, name_too_long, ...)."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(code)
        self.code = code
        self.field = field


@dataclass
class IssuedToken:
    record: ApiToken
    raw: str  # shown once, never stored


def parse_expiry_days(raw: object) -> int | None:
    """'' or None → no expiry; otherwise a whole number of days from 1 to EXPIRY_DAYS_MAX."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        days = int(str(raw).strip())
    except ValueError as exc:
        raise TokenError("expiry_invalid", "expires_days") from exc
    if not 1 <= days <= EXPIRY_DAYS_MAX:
        raise TokenError("expiry_invalid", "expires_days")
    return days


def active_count(user_id: int) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(ApiToken).where(
            ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None),
            sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()),
        )
    ) or 0


def issue_token(owner: User, name: str | None, expires_days: int | None, *, via: str,
                actor: User | None, ctx: RequestContext = NO_REQUEST) -> IssuedToken:
    """Create a token for `owner`; the raw token is in the result and nowhere else.

    `actor` is who asked (None for an operator at the command line).
    """
    clean = one_line(name)
    if not clean:
        raise TokenError("name_required", "name")
    if len(clean) > NAME_MAX:
        raise TokenError("name_too_long", "name")
    if active_count(owner.id) >= ACTIVE_TOKENS_MAX:
        raise TokenError("too_many", "name")
    record, raw = ApiToken.issue(owner, clean, expires_days)
    db.session.flush()
    record_event(
        "api_token.created", ctx, actor=actor, target_type="api_token", target_id=record.id,
        details={"name": clean, "owner_id": owner.id, "via": via,
                 "expires_at": record.expires_at.isoformat() if record.expires_at else None})
    return IssuedToken(record, raw)


def tokens_of(user_id: int) -> list[ApiToken]:
    """The user's tokens, live ones first, newest first (bounded)."""
    return list(db.session.scalars(
        sa.select(ApiToken)
        .where(ApiToken.user_id == user_id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc())
        .limit(TOKENS_LISTED)
    ).all())


def revoke_token(owner: User, token_id: int, *, ctx: RequestContext = NO_REQUEST) -> ApiToken | None:
    """Revoke one of `owner`'s tokens; None when it is not theirs (or does not exist)."""
    record = db.session.scalar(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == owner.id)
    )
    if record is None:
        return None
    if record.revoke():
        record_event("api_token.revoked", ctx, actor=owner, target_type="api_token", target_id=record.id,
                     details={"name": record.name})
    return record


def authenticate(raw: str) -> ApiToken | None:
    """The usable token for a raw Bearer value (owner active, not revoked, not expired).

    Records the use at most once a minute, so the API does not write on every call.
    """
    record = ApiToken.find_usable(raw)
    if record is None:
        return None
    if record.touch():
        db.session.commit()
    return record
