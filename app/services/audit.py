"""Recording audit events. Services call this beside the change they audit; the caller commits."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import AuditEvent, User
from app.services.context import NO_REQUEST, RequestContext


def record_event(
    action: str,
    ctx: RequestContext = NO_REQUEST,
    *,
    actor: User | None = None,
    target_type: str | None = None,
    target_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit row for `action`; the actor is `actor`, else the context's actor."""
    who = actor if actor is not None else ctx.actor
    event = AuditEvent(
        action=action,
        actor_id=who.id if who is not None else None,
        actor_email=who.email if who is not None else None,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=ctx.ip,
        request_id=ctx.request_id,
        details=details or {},
    )
    db.session.add(event)
    return event
