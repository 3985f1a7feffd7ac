"""The job queue with real PostgreSQL and real `flask jobs worker` processes: exactly-once
effects through kills, retries honouring Retry-After, permanent failures, graceful SIGTERM,
two workers sharing the queue and periodic tasks deferred once per period."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.extensions import db
from app.models import JobEffect, JobError, Role, Team, User, WeeklyReview
from app.services.reviews.notify import TASK, queue_review_event, send_review_event
from tests.conftest import (
    _base_config,
    password_hash,
)
from tests.jobs_support import job_rows, scratch_database, start_worker, statuses, wait_for
from tests.ops_support import BIN, ROOT, SECRET, free_port, get, samples, value
from tests.test_notify import Receiver

REVIEW_URL = "http://worklog.test/reviews/r/1"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated scratch PostgreSQL database for this module's worker processes."""
    with scratch_database(tmp_path_factory, "the job-worker tests") as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as slack:
        yield slack


@pytest.fixture
def web(scratch: str, receiver: Receiver, tmp_path: Path) -> Iterator[Flask]:
    """The app (as a web process would be) on the scratch database, with a review to act on."""
    app = create_app({**_base_config(scratch, tmp_path), "SLACK_WEBHOOK_URL": receiver.url,
                      "SERVER_NAME": "worklog.test"})
    with app.app_context():
        db.session.execute(sa.text(
            "TRUNCATE procrastinate_jobs, procrastinate_workers, procrastinate_periodic_defers, "
            "procrastinate_events, job_effects, job_errors RESTART IDENTITY CASCADE"))
        if db.session.get(WeeklyReview, 1) is None:
            team = Team(name="Platform")
            member = User(email="mina@example.com", display_name="Mina Member",
                          password_hash=password_hash(), role=Role.MEMBER.value, team=team)
            lead = User(email="lee@example.com", display_name="Lee Lead",
                        password_hash=password_hash(), role=Role.LEAD.value, team=team)
            db.session.add_all([team, member, lead])
            db.session.flush()
            db.session.add(WeeklyReview(id=1, user_id=member.id, week="2026-W47", body="Shipped.",
                                        version=1, status="approved"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def engine(scratch: str) -> Iterator[sa.Engine]:
    eng = sa.create_engine(scratch)
    yield eng
    eng.dispose()


@pytest.fixture
def workers(tmp_path: Path, scratch: str, receiver: Receiver) -> Iterator:
    """Start `flask jobs worker` processes configured with the receiver as Slack webhook."""
    started: list = []

    def start(name: str = "worker", env: dict | None = None, **kwargs):
        env = {"SLACK_WEBHOOK_URL": receiver.url, **(env or {})}
        worker = start_worker(tmp_path, scratch, name=name, env=env, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.kill()


def approve(app: Flask, n: int = 1) -> None:
    """Queue `n` approval notifications, committed (as the approve route does)."""
    with app.app_context():
        lead = db.session.scalar(sa.select(User).where(User.email == "lee@example.com"))
        for _ in range(n):
            queue_review_event("approved", review_id=1, actor_id=lead.id, url=REVIEW_URL)
        db.session.commit()


def test_a_worker_delivers_a_notification_exactly_once(web, receiver, engine, workers, tmp_path):
    approve(web)
    port, beat = free_port(), tmp_path / "heartbeat"
    worker = workers(env={"JOBS_METRICS_PORT": str(port), "JOBS_HEARTBEAT_FILE": str(beat)})
    wait_for(lambda: statuses(engine) == ["succeeded"], what="the job to succeed")
    # The worker's own metrics, and its liveness by the heartbeat file.
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    assert value(samples(text), "jobs_total", task="notify.review", status="succeeded") == 1
    assert value(samples(text), "job_duration_seconds_count", task="notify.review") == 1
    alive = subprocess.run([str(BIN / "flask"), "jobs", "alive"], cwd=ROOT, capture_output=True,  # noqa: S603
                           env={**os.environ, "FLASK_APP": "wsgi.py", "SECRET_KEY": SECRET,
                                "DATABASE_URL": web.config["SQLALCHEMY_DATABASE_URI"],
                                "JOBS_HEARTBEAT_FILE": str(beat)})
    assert alive.returncode == 0, alive.stderr
    assert len(receiver.bodies) == 1 and receiver.effects == 1
    assert "Lee Lead approved Mina Member's weekly review for 2026-W47" in receiver.bodies[0]["text"]
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(JobEffect.__table__)) == 1
    assert worker.terminate() == 0
    assert '"outcome": "succeeded"' in worker.log() and '"task": "notify.review"' in worker.log()


def test_a_worker_killed_during_the_call_is_recovered_with_one_effect(web, receiver, engine,
                                                                       workers, scratch, tmp_path):
    receiver.script.append("hang")
    approve(web)
    first = workers("first", env={"JOBS_STALLED_SECONDS": "2"})
    wait_for(receiver.arrived.is_set, what="the webhook call")
    first.kill()  # SIGKILL while the receiver holds the request
    receiver.release.set()
    assert statuses(engine) == ["doing"]
    second = workers("second", env={"JOBS_STALLED_SECONDS": "2"})
    # The stalled-job recovery (a periodic task of the workers, also called here as `flask jobs
    # recover-stalled` would) re-queues it once the dead worker's heartbeat is older than
    # JOBS_STALLED_SECONDS; the second worker then runs it.
    with web.app_context():
        from app.jobs.admin import recover_stalled_jobs

        wait_for(lambda: recover_stalled_jobs(2.0) >= 0 and statuses(engine) == ["succeeded"],
                 what="the job to be recovered and succeed")
    assert len(receiver.keys) == 2 and receiver.effects == 1  # the retry carried the same key
    assert second.terminate() == 0


def test_a_job_run_again_after_its_effect_sends_nothing(web, receiver):
    approve(web)
    with web.app_context():
        args = job_rows(db.engine)[0].args
        assert send_review_event(**args) == "sent"
        assert send_review_event(**args) == "already_sent"
    assert len(receiver.bodies) == 1


def test_a_429_with_retry_after_is_retried_no_sooner(web, receiver, engine, workers):
    receiver.script.append(429)
    receiver.retry_after = "2"
    approve(web)
    workers()
    wait_for(lambda: statuses(engine) == ["succeeded"], what="the retried job to succeed")
    assert len(receiver.bodies) == 2
    assert receiver.times[1] - receiver.times[0] >= 2.0
    assert job_rows(engine)[0].attempts == 2  # procrastinate counts both runs


def test_a_receiver_down_for_good_fails_after_n_attempts_and_retry_runs_it_again(
        web, receiver, engine, workers):
    receiver.script.extend([500] * 3)
    approve(web)
    workers(env={"NOTIFY_MAX_ATTEMPTS": "3"})
    wait_for(lambda: statuses(engine) == ["failed"], what="the job to fail")
    assert len(receiver.bodies) == 3 and receiver.effects == 1
    job = job_rows(engine)[0]
    with web.app_context():
        error = db.session.get(JobError, job.id)
        assert error.attempt == 3 and "http_500" in error.error
        from app.jobs import admin

        assert [row.id for row in admin.failed()] == [job.id]
        assert admin.retry(job.id) is True
        db.session.commit()
    wait_for(lambda: statuses(engine) == ["succeeded"], what="the retried job to succeed")
    assert len(receiver.bodies) == 4 and receiver.effects == 1


def test_a_client_error_fails_at_once(web, receiver, engine, workers):
    receiver.script.append(403)
    approve(web)
    workers()
    wait_for(lambda: statuses(engine) == ["failed"], what="the job to fail")
    assert len(receiver.bodies) == 1


def test_sigterm_lets_the_running_job_finish(web, receiver, engine, workers):
    receiver.script.append("hang")
    approve(web)
    worker = workers(env={"JOBS_SHUTDOWN_GRACE_SECONDS": "20"})
    wait_for(receiver.arrived.is_set, what="the webhook call")
    worker.proc.send_signal(signal.SIGTERM)
    receiver.release.set()
    assert worker.proc.wait(timeout=60) == 0
    assert statuses(engine) == ["succeeded"] and receiver.effects == 1


def test_sigterm_past_the_bound_exits_and_the_job_is_recovered(web, receiver, engine, workers):
    receiver.script.append("hang")
    approve(web)
    worker = workers(env={"JOBS_SHUTDOWN_GRACE_SECONDS": "1", "NOTIFY_TIMEOUT_SECONDS": "30"})
    wait_for(receiver.arrived.is_set, what="the webhook call")
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) != 0  # gave up waiting (grace + 5 s), did not hang
    assert "did not stop within its bound" in worker.log()
    receiver.release.set()
    assert statuses(engine) == ["doing"]
    workers("second", env={"JOBS_STALLED_SECONDS": "2"})
    with web.app_context():
        from app.jobs.admin import recover_stalled_jobs

        wait_for(lambda: recover_stalled_jobs(2.0) >= 0 and statuses(engine) == ["succeeded"],
                 what="the job to be recovered and succeed")
    assert receiver.effects == 1


def test_two_workers_run_200_jobs_exactly_once_and_defer_periodic_tasks_once(
        web, receiver, engine, workers):
    approve(web, 200)
    workers("a", args=("--concurrency", "2"))
    workers("b", args=("--concurrency", "2"))
    wait_for(lambda: statuses(engine).count("succeeded") == 200, timeout=180,
             what="200 jobs to succeed")
    assert len(receiver.keys) == 200 and receiver.effects == 200
    # Both workers defer the periodic tasks of the tick that just passed: one job per tick.
    periodic = wait_for(lambda: job_rows(engine, "jobs.recover_stalled"), what="a periodic job")
    ticks = [row.args["timestamp"] for row in periodic]
    assert len(ticks) == len(set(ticks))
    for task in ("reviews.weekly_drafts", "maintenance.cleanup"):
        ticks = [row.args["timestamp"] for row in job_rows(engine, task)]
        assert len(ticks) == len(set(ticks))


def test_a_rolled_back_approval_leaves_no_job_and_a_committed_one_does(web, engine):
    with web.app_context():
        lead = db.session.scalar(sa.select(User).where(User.email == "lee@example.com"))
        assert queue_review_event("approved", review_id=1, actor_id=lead.id, url=REVIEW_URL) == 1
        db.session.rollback()
    assert job_rows(engine) == []
    approve(web)
    assert [row.task_name for row in job_rows(engine)] == [TASK]


def test_a_job_whose_review_was_deleted_is_a_no_op(web, receiver, engine, workers):
    approve(web)
    with web.app_context():
        args = dict(job_rows(db.engine)[0].args, review_id=999_999, key=uuid.uuid4().hex)
        assert send_review_event(**args) == "gone"
    assert receiver.bodies == []


def test_config_check_warns_in_production_until_a_worker_is_seen(scratch, engine, workers,
                                                                   monkeypatch, tmp_path):
    from click.testing import CliRunner

    from app.cli.config import config_cli

    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE procrastinate_workers CASCADE"))
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "Zq8-very-long-and-random-secret-key-value-0123456789")
    monkeypatch.setenv("DATABASE_URL", scratch)
    monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(config_cli, ["check"])
    assert "No job worker has been seen" in result.output
    worker = workers()
    wait_for(lambda: job_heartbeats(engine), what="a worker heartbeat")
    result = CliRunner().invoke(config_cli, ["check"])
    assert "No job worker has been seen" not in result.output, result.output
    assert worker.terminate() == 0


def job_heartbeats(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT count(*) FROM procrastinate_workers"))
