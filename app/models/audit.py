"""The append-only audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.base import UTCDateTime, utcnow


class AuditEvent(db.Model):
    __tablename__ = "audit_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow, index=True)
    # The actor's id is kept even if the user row goes away, so history stays readable.
    actor_id: so.Mapped[int | None] = so.mapped_column(index=True)
    actor_email: so.Mapped[str | None] = so.mapped_column(sa.String(254))
    action: so.Mapped[str] = so.mapped_column(sa.String(64), index=True)
    target_type: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    target_id: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    ip: so.Mapped[str | None] = so.mapped_column(sa.String(45))
    request_id: so.Mapped[str | None] = so.mapped_column(sa.String(128))
    details: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)

    __table_args__ = (sa.Index("ix_audit_events_target", "target_type", "target_id"),)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.action} by {self.actor_id}>"


@sa.event.listens_for(AuditEvent, "before_update")
@sa.event.listens_for(AuditEvent, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise ValueError(f"audit events are append-only (tried to change event {target.id})")
