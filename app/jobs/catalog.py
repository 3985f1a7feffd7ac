"""The app's tasks. Importing this module registers them (app.jobs.registry.tasks()).

Periodic tasks are deferred by the workers' procrastinate scheduler once per period whatever
the number of workers (a unique row per task and tick in procrastinate_periodic_defers); the
cron expressions are in UTC. The weekly drafting follows REVIEWS_DRAFT_SCHEDULE in
APP_TIMEZONE: a tick every 15 minutes (every real time zone is a multiple of 15 minutes from
UTC) drafts when the schedule fell within the tick's window, so daylight-saving changes need
no restart. In-process mode (SQLite) has no periodic tasks: run `flask reviews draft` by cron.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from croniter import croniter
from flask import current_app
from sqlalchemy.exc import IntegrityError

import app.services.mail  # noqa: F401 - registers mail.send
import app.services.publishing  # noqa: F401 - registers publish.review
import app.services.publishing.entries  # noqa: F401 - registers publish.entry
import app.services.reminders  # noqa: F401 - registers reminders.scan, slack.dm
import app.services.repos  # noqa: F401 - registers repos.fetch, repos.scan
import app.services.reviews.notify  # noqa: F401 - registers notify.review
import app.services.slack  # noqa: F401 - registers slack.capture, slack.reply
from app.extensions import db
from app.jobs.registry import task

log = logging.getLogger("app.jobs")

TICK_SECONDS = 15 * 60
DEFAULT_DRAFT_SCHEDULE = "0 6 * * 1"  # Monday 06:00


def schedule_due(schedule: str, tz: str, start: datetime, end: datetime) -> datetime | None:
    """The local time the cron `schedule` fired in (start, end], if it did."""
    zone = ZoneInfo(tz)
    it = croniter(schedule, start.astimezone(zone))
    fired = it.get_next(datetime)
    return fired if fired <= end.astimezone(zone) else None


@task("reviews.weekly_drafts", queue="llm", max_attempts=3, cron="*/15 * * * *")
def weekly_drafts(timestamp: int) -> str:
    """Draft last week's reviews (what `flask reviews draft` does) when the schedule is due."""
    from app.models import JobEffect
    from app.services.isoweek import IsoWeek
    from app.services.reviews.batch import candidates, draft_week

    cfg = current_app.config
    end = datetime.fromtimestamp(timestamp, UTC)
    fired = schedule_due(cfg.get("REVIEWS_DRAFT_SCHEDULE") or DEFAULT_DRAFT_SCHEDULE,
                         cfg.get("APP_TIMEZONE") or "UTC", end - timedelta(seconds=TICK_SECONDS), end)
    if fired is None:
        return "not_due"
    week = IsoWeek.of(fired.date()).shift(-1)
    key = f"reviews.weekly_drafts:{week}"
    if db.session.get(JobEffect, key) is not None:
        return "already_done"
    result = draft_week(week, users=candidates(week))
    log.info("weekly drafts for %s: %d drafted, %d skipped, %d failed", week,
             len(result.drafted), len(result.skipped), len(result.failed))
    if result.failed:
        # Those users are tried again on the retry; drafted ones are not redone.
        raise RuntimeError(f"{len(result.failed)} draft(s) failed for {week}")
    db.session.add(JobEffect(key=key, task="reviews.weekly_drafts"))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return "drafted"


@task("maintenance.cleanup", queue="default", max_attempts=3, cron="17 * * * *")
def cleanup(timestamp: int | None = None) -> dict[str, int]:
    """Delete sessions ended or idle for long, invites long expired, old idempotency keys."""
    from app.models import Invite, JobEffect, UserSession

    cfg = current_app.config
    now = datetime.now(UTC)
    keep = timedelta(days=int(cfg.get("CLEANUP_KEEP_DAYS", 30)))
    idle = timedelta(days=int(cfg.get("SESSION_IDLE_DAYS", 14)))
    sessions = db.session.execute(sa.delete(UserSession).where(sa.or_(
        UserSession.ended_at < now - keep, UserSession.last_seen_at < now - idle - keep))).rowcount
    invites = db.session.execute(sa.delete(Invite).where(
        Invite.accepted_at.is_(None), Invite.expires_at < now - keep)).rowcount
    effects = db.session.execute(sa.delete(JobEffect).where(
        JobEffect.created_at < now - timedelta(days=90))).rowcount
    from app.models import Notification, ReminderClaim

    notifications = db.session.execute(sa.delete(Notification).where(
        Notification.read_at < now - timedelta(days=180))).rowcount

    # Claims are per day or week: older ones can never be claimed again.
    claims = db.session.execute(sa.delete(ReminderClaim).where(
        ReminderClaim.created_at < now - timedelta(days=90))).rowcount
    db.session.commit()
    counts = {"sessions": sessions or 0, "invites": invites or 0, "job_effects": effects or 0,
              "reminder_claims": claims or 0, "notifications": notifications or 0}
    log.info("clean-up done", extra=counts)
    return counts


@task("jobs.recover_stalled", queue="default", max_attempts=1, cron="* * * * *")
def recover_stalled(timestamp: int | None = None) -> int:
    """Put back in the queue the jobs of workers that stopped heartbeating (killed, lost)."""
    from app.jobs.admin import recover_stalled_jobs

    return recover_stalled_jobs(float(current_app.config.get("JOBS_STALLED_SECONDS", 30)))
