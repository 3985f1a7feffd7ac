"""/admin/jobs: the queue as operators see it, Retry and Cancel (admin only, CSRF, re-auth,
audited), and the in-process notice on SQLite. Jobs are made by the app's own enqueue."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask

from app import jobs
from app.extensions import db
from app.models import AuditEvent, JobError
from tests.conftest import PASSWORD
from tests.test_admin_access import backdate_sign_in, signed_in

SECRET_HOOK = "https://hooks.slack.com/services/T000/B000/s3cr3t-token"


def failed_job(app: Flask) -> int:
    """A notification job that failed for good, with its last error, as a worker leaves it."""
    with app.test_request_context():
        job_id = jobs.enqueue("notify.review", review_id=1, event="approved", actor_id=1,
                              url=SECRET_HOOK, service="slack", key="review.approved:1:x:slack")
        db.session.execute(sa.text(
            "UPDATE procrastinate_jobs SET status = 'failed', attempts = 5 WHERE id = :id"),
            {"id": job_id})
        db.session.add(JobError(job_id=job_id, task="notify.review", attempt=5,
                                error="RetryLater: http_503"))
        db.session.commit()
        return job_id


def status(app: Flask, job_id: int) -> str:
    with app.app_context():
        return db.session.scalar(sa.text(
            "SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": job_id})


@pytest.mark.backends("postgresql")
def test_failed_jobs_show_with_masked_arguments_and_their_last_error(app, actors):
    job_id = failed_job(app)
    page = signed_in(app, actors.admin).get("/admin/jobs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'id="job-{job_id}"' in html and "notify.review" in html
    assert "RetryLater: http_503" in html
    assert "s3cr3t" not in html and "***" in html
    assert "No worker is running" in html


@pytest.mark.backends("postgresql")
def test_retry_and_cancel_are_audited(app, actors):
    job_id = failed_job(app)
    admin = signed_in(app, actors.admin)
    response = admin.post_form(f"/admin/jobs/{job_id}/retry")
    assert response.status_code == 302
    assert status(app, job_id) == "todo"
    assert admin.post_form(f"/admin/jobs/{job_id}/cancel").status_code == 302
    assert status(app, job_id) == "cancelled"
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.target_type == "job").order_by(AuditEvent.id)).all()
    assert actions == ["admin.job_retried", "admin.job_cancelled"]
    # Finished now: a second cancel changes nothing and says so.
    again = admin.post_form(f"/admin/jobs/{job_id}/cancel")
    assert "nothing was changed" in admin.get(again.headers["Location"]).get_data(as_text=True)


@pytest.mark.backends("postgresql")
def test_retry_needs_a_recent_password(app, actors):
    job_id = failed_job(app)
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin)
    asked = admin.post_form(f"/admin/jobs/{job_id}/retry")
    assert asked.status_code == 200 and "reauth_password" in asked.get_data(as_text=True)
    assert status(app, job_id) == "failed"
    done = admin.post_form(f"/admin/jobs/{job_id}/retry", {"reauth_password": PASSWORD})
    assert done.status_code == 302 and status(app, job_id) == "todo"


@pytest.mark.backends("postgresql")
def test_only_admins_may_act_and_only_with_csrf(app, actors):
    job_id = failed_job(app)
    for name in ("member", "lead"):
        client = signed_in(app, getattr(actors, name))
        assert client.get("/admin/jobs").status_code == 403
        assert client.post_form(f"/admin/jobs/{job_id}/retry").status_code == 404
        assert client.post_form(f"/admin/jobs/{job_id}/cancel").status_code == 404
    admin = signed_in(app, actors.admin)
    assert admin.post(f"/admin/jobs/{job_id}/retry").status_code == 400  # no CSRF token
    assert admin.post_form("/admin/jobs/999999/retry").status_code == 404
    assert status(app, job_id) == "failed"


@pytest.mark.backends("sqlite")
def test_sqlite_says_jobs_run_in_process(app, actors):
    admin = signed_in(app, actors.admin)
    assert "lost when the app restarts" in admin.get("/admin/jobs").get_data(as_text=True)
    assert "do not survive a restart" in admin.get("/admin/system").get_data(as_text=True)
    assert admin.post_form("/admin/jobs/1/retry").status_code == 404
