"""/admin/jobs: the background-job queue — depth per queue, workers, running, waiting and failed
jobs (arguments with secrets masked, attempts, last error), with Retry and Cancel (audited,
password re-entry like other destructive admin actions)."""

from __future__ import annotations

from flask import abort, current_app, flash, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app import jobs
from app.admin import bp
from app.admin.guard import admin_object_required, recent_login_required
from app.extensions import db
from app.security.roles import admin_required
from app.web import audit, redirect_for


@bp.get("/jobs")
@admin_required
def jobs_page() -> str:
    if jobs.backend() != "queue":
        return render_template("admin/jobs.html", queue=False)
    from app.jobs import admin as job_admin

    return render_template(
        "admin/jobs.html", queue=True, depths=job_admin.queue_depths(),
        workers=job_admin.workers(), running=job_admin.running(), waiting=job_admin.waiting(),
        failed=job_admin.failed(), recent=job_admin.recent(20),
        stalled_after=float(current_app.config.get("JOBS_STALLED_SECONDS", 30)),
        as_json=job_admin.as_json,
    )


def _act(job_id: int, action: str) -> Response:
    if jobs.backend() != "queue":
        abort(404)
    from app.jobs import admin as job_admin

    job = job_admin.get(job_id)
    if job is None:
        abort(404)
    done = job_admin.retry(job_id) if action == "retry" else job_admin.cancel(job_id)
    if not done:
        db.session.rollback()
        flash(_("Job %(id)d is %(status)s now; nothing was changed.", id=job_id,
                status=job.status), "error")
        return redirect_for(url_for("admin.jobs_page"))
    audit(f"admin.job_{'retried' if action == 'retry' else 'cancelled'}", target_type="job",
          target_id=job_id, details={"task": job.task, "before": job.status,
                                     "attempts": job.attempts})
    db.session.commit()
    flash(_("Job %(id)d queued again.", id=job_id) if action == "retry"
          else _("Job %(id)d cancelled.", id=job_id), "success")
    return redirect_for(url_for("admin.jobs_page"))


@bp.post("/jobs/<int:job_id>/retry")
@admin_object_required
@recent_login_required
def retry_job(job_id: int) -> Response:
    """Run a failed job again now."""
    return _act(job_id, "retry")


@bp.post("/jobs/<int:job_id>/cancel")
@admin_object_required
@recent_login_required
def cancel_job(job_id: int) -> Response:
    """Cancel a waiting job or dismiss a failed one."""
    return _act(job_id, "cancel")
