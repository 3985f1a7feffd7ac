"""/admin/audit: the audit log, filtered and paginated, or streamed as CSV."""

from __future__ import annotations

from flask import Response, render_template, request, stream_with_context

from app.admin import bp
from app.extensions import db
from app.models.base import utcnow
from app.security.roles import admin_required
from app.services.admin import audit_log as admin_audit
from app.services.admin.audit_log import AuditFilters
from app.services.paging import paginate
from app.web import audit

AUDIT_PAGE_SIZE = 50


@bp.get("/audit")
@admin_required
def audit_log() -> str | Response:
    """Who did what, when: filter by actor, action and dates; ?format=csv downloads the rows."""
    filters = AuditFilters.from_args(request.args)
    stmt = admin_audit.audit_query(filters)
    if request.args.get("format") == "csv":
        # Taking a copy of the audit log is itself worth a line in it.
        audit("admin.audit_exported", details={"filters": filters.query_args(page="")})
        db.session.commit()
        response = Response(stream_with_context(admin_audit.audit_csv(stmt)), mimetype="text/csv")
        response.headers["Content-Disposition"] = (
            f'attachment; filename="worklog-audit-{utcnow().date().isoformat()}.csv"'
        )
        response.headers["Cache-Control"] = "no-store"
        return response
    page = paginate(stmt, filters.page, AUDIT_PAGE_SIZE, rows=True)
    return render_template(
        "admin/audit.html", filters=filters, page=page, events=[row[0] for row in page.items],
        actions=admin_audit.known_actions(),
    )
