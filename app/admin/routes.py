"""The admin area. Every view carries admin_required."""

import sqlalchemy as sa
from flask import render_template

from app.admin import bp
from app.extensions import db
from app.models import AuditEvent, Team, User, UserSession
from app.security.roles import admin_required


@bp.get("", strict_slashes=False)
@admin_required
def index() -> str:
    """Counts and the latest audit events."""
    counts = db.session.execute(
        sa.select(
            sa.select(sa.func.count(User.id)).where(User.is_active).scalar_subquery(),
            sa.select(sa.func.count(Team.id)).scalar_subquery(),
            sa.select(sa.func.count(UserSession.id))
            .where(UserSession.ended_at.is_(None))
            .scalar_subquery(),
        )
    ).one()
    events = db.session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(20)
    ).all()
    return render_template(
        "admin/index.html",
        active_users=counts[0],
        teams=counts[1],
        active_sessions=counts[2],
        events=events,
    )
