"""app.jobs inside the web app, on SQLite (in-process) and PostgreSQL (the queue): jobs exist
only when their transaction commits, the in-process runner delivers, /ready and /metrics
report the queue, and the periodic tasks (weekly drafts, clean-up) do their work once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from app import jobs
from app.extensions import db
from app.jobs.catalog import cleanup, schedule_due, weekly_drafts
from app.models import JobEffect, User, UserSession, WeeklyReview
from app.models.base import utcnow
from app.services.reviews.notify import queue_review_event
from tests.log_support import make_entry
from tests.test_notify import Receiver

URL = "http://worklog.test/reviews/r/1"


@pytest.fixture(scope="module")
def hook() -> Any:
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def config_overrides(hook: Receiver) -> dict:
    return {"SLACK_WEBHOOK_URL": hook.url, "SERVER_NAME": "worklog.test",
            "JOBS_RETRY_BASE_SECONDS": 0.05}


@pytest.fixture(autouse=True)
def _fresh_hook(hook: Receiver) -> None:
    hook.bodies.clear()
    hook.keys.clear()
    hook.script.clear()


def review_of(app, member) -> int:
    with app.app_context():
        review = WeeklyReview(user_id=member.id, week="2026-W47", body="Shipped.", version=1,
                              status="submitted")
        db.session.add(review)
        db.session.commit()
        return review.id


def queued(app) -> int:
    with app.app_context():
        if jobs.backend() != "queue":
            return 0
        return db.session.scalar(sa.text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'notify.review'"))


def runs(task: str, status: str) -> float:
    return REGISTRY.get_sample_value("jobs_total", {"task": task, "status": status}) or 0.0


def test_a_rolled_back_change_sends_nothing_and_a_committed_one_is_delivered(app, actors, hook):
    review_id = review_of(app, actors.member)
    with app.app_context():
        queue_review_event("approved", review_id=review_id, actor_id=actors.lead.id, url=URL)
        db.session.rollback()
        assert jobs.drain(app)
    assert hook.bodies == [] and queued(app) == 0
    before = runs("notify.review", "succeeded")
    with app.app_context():
        queue_review_event("approved", review_id=review_id, actor_id=actors.lead.id, url=URL)
        db.session.commit()
        assert jobs.drain(app)
    assert len(hook.bodies) == 1 and "approved" in hook.bodies[0]["text"]
    assert runs("notify.review", "succeeded") == before + 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(JobEffect)) == 1


@pytest.mark.backends("sqlite")
def test_in_process_retries_a_500_and_then_delivers(app, actors, hook):
    review_id = review_of(app, actors.member)
    hook.script.extend([500, 503])
    with app.app_context():
        queue_review_event("submitted", review_id=review_id, actor_id=actors.member.id, url=URL)
        db.session.commit()
    assert jobs.drain(app)
    assert len(hook.bodies) == 3 and hook.effects == 1


def test_ready_reports_jobs_without_failing(app, client):
    with app.app_context():
        backend = jobs.backend()
    body = client.get("/ready").get_json()
    assert client.get("/ready").status_code == 200
    if backend == "inprocess":
        assert body["components"]["jobs"] == "in-process"
        return
    assert body["components"]["jobs"] == "degraded (no worker heartbeat)"
    with app.app_context():
        db.session.execute(sa.text("INSERT INTO procrastinate_workers (last_heartbeat) "
                                   "VALUES (now() - interval '5 minutes')"))
        db.session.commit()
    body = client.get("/ready").get_json()
    assert body["status"] == "ready"
    assert body["components"]["jobs"].startswith("degraded (no worker heartbeat for 3")
    with app.app_context():
        db.session.execute(sa.text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
        db.session.commit()
    assert client.get("/ready").get_json()["components"]["jobs"] == "ok"


@pytest.mark.backends("postgresql")
def test_metrics_show_queue_depth_and_heartbeat_age(app, actors, client):
    review_id = review_of(app, actors.member)
    with app.app_context():
        queue_review_event("approved", review_id=review_id, actor_id=actors.lead.id, url=URL)
        db.session.execute(sa.text("INSERT INTO procrastinate_workers DEFAULT VALUES"))
        db.session.commit()
    text = client.get("/metrics").get_data(as_text=True)
    assert 'jobs_queued{queue="notifications"} 1.0' in text
    assert 'jobs_queued{queue="default"} 0.0' in text
    assert "job_worker_heartbeat_age_seconds " in text


def test_the_schedule_fires_in_the_app_timezone():
    tick = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)  # Monday 06:00 in Seoul
    window = timedelta(minutes=15)
    fired = schedule_due("0 6 * * 1", "Asia/Seoul", tick - window, tick)
    assert fired is not None and fired.hour == 6 and fired.date() == date(2026, 11, 30)
    # The next tick's window does not include it again; in UTC it is still Sunday.
    assert schedule_due("0 6 * * 1", "Asia/Seoul", tick, tick + window) is None
    assert schedule_due("0 6 * * 1", "UTC", tick - window, tick) is None


def test_the_weekly_tick_drafts_last_week_once(app, actors):
    make_entry(app, actors.member, "Shipped the importer", work_date=date(2026, 11, 25))
    due = int(datetime(2026, 11, 30, 6, 0, tzinfo=UTC).timestamp())
    with app.app_context():
        assert weekly_drafts(timestamp=due - 900) == "not_due"
        assert weekly_drafts(timestamp=due) == "drafted"
        review = db.session.scalar(sa.select(WeeklyReview).where(
            WeeklyReview.user_id == actors.member.id))
        assert review.week == "2026-W48" and review.drafted_by_ai
        assert weekly_drafts(timestamp=due) == "already_done"


def test_cleanup_deletes_long_ended_sessions_only(app, actors):
    with app.app_context():
        user = db.session.get(User, actors.member.id)
        old, _ = UserSession.start(user, None, None)
        live, _ = UserSession.start(user, None, None)
        old.ended_at = utcnow() - timedelta(days=40)
        db.session.commit()
        old_id, live_id = old.id, live.id
        assert cleanup()["sessions"] >= 1
        assert db.session.get(UserSession, old_id) is None
        assert db.session.get(UserSession, live_id) is not None
