"""Recording audit events. Plain values in; the caller commits."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import AuditEvent, User


def record_event(
    action: str,
    *,
    actor: User | None = None,
    target_type: str | None = None,
    target_id: int | str | None = None,
    ip: str | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        ip=ip,
        request_id=request_id,
        details=details or {},
    )
    db.session.add(event)
    return event
