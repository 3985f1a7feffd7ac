"""The admin area. Every view carries admin_required (or admin_object_required for ids).

Users, teams, the audit log and LLM usage have modules of their own, imported at the end.
"""

import sqlalchemy as sa
from flask import current_app, render_template

from app import jobs
from app.admin import bp
from app.extensions import db
from app.models import AuditEvent, Invite, Team, User, UserSession
from app.models.base import utcnow
from app.ops.routes import current_readiness
from app.security.roles import admin_required
from app.services.ops.config_check import ConfigReport, describe
from app.services.ops.health import HEALTHY, Readiness

# Settings the console shows beside PRODUCT.md's contract ones (none of them secret).
EXTRA_SETTINGS = ("SESSION_IDLE_DAYS", "LOCKOUT_THRESHOLD", "LOCKOUT_BASE_SECONDS", "LOCKOUT_MAX_SECONDS",
                  "ADMIN_REAUTH_MINUTES", "INVITE_TTL_HOURS", "MAX_CONTENT_LENGTH", "DEBUG")


def _readiness() -> Readiness:
    """The same checks /ready runs, with the same shared database probe."""
    # End this request's transaction first: on SQLite every transaction begins IMMEDIATE, and the
    # probe's own connection would wait for our lock until it timed out.
    db.session.commit()
    return current_readiness()


@bp.get("", strict_slashes=False)
@admin_required
def index() -> str:
    """Counts, component status and the latest audit events."""
    # The readiness probe commits first (see _readiness): done before the page's own reads, so
    # the audit events are not expired by that commit and reloaded one by one while rendering.
    status = _readiness()
    now = utcnow()
    counts = db.session.execute(
        sa.select(
            sa.select(sa.func.count(User.id)).where(User.is_active).scalar_subquery(),
            sa.select(sa.func.count(Team.id)).scalar_subquery(),
            sa.select(sa.func.count(UserSession.id))
            .where(UserSession.ended_at.is_(None))
            .scalar_subquery(),
            sa.select(sa.func.count(Invite.id))
            .where(Invite.accepted_at.is_(None), Invite.revoked_at.is_(None), Invite.expires_at > now)
            .scalar_subquery(),
            sa.select(sa.func.count(User.id)).where(User.locked_until > now).scalar_subquery(),
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
        pending_invites=counts[3],
        locked_users=counts[4],
        events=events,
        status=status,
        healthy=HEALTHY,
    )


@bp.get("/system")
@admin_required
def system() -> str:
    """Version, environment, component status and the configuration with secrets masked."""
    cfg = current_app.config
    report = ConfigReport(app_env=cfg["APP_ENV"], settings=dict(cfg))
    settings = describe(report)
    settings += [(name, str(cfg.get(name))) for name in EXTRA_SETTINGS if name in cfg]
    return render_template(
        "admin/system.html",
        version=cfg["APP_VERSION"],
        environment=cfg["APP_ENV"],
        status=_readiness(),
        healthy=HEALTHY,
        settings=settings,
        database_backend=db.engine.dialect.name,
        jobs_backend=jobs.backend(),
    )


from app.admin import (  # noqa: E402,F401
    audit_log,
    identities,
    integrations,
    job_queue,
    teams,
    usage,
    users,
)
