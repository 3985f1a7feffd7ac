"""Reminders in each user's time zone: log today, draft/submit the week's review, reviews waiting.

The periodic task `reminders.scan` runs every 15 minutes (procrastinate defers it once per tick
whatever the number of workers). A scan at time t looks at what fell due in the last
REMINDERS_LOOKBACK_MINUTES (60 by default, so a missed tick is caught up) and, for each due
reminder, first inserts a row in `reminder_claims` (unique per user, kind and period: the
user's local date, or ISO week). Only the scan that inserted the row queues the e-mail and the
Slack message, in the same transaction; a repeated or concurrent scan, or one after a worker
restart, finds the row and sends nothing.

- daily (off by default): at the chosen local time, Monday to Friday unless weekends are
  chosen, and only when the user has no entry dated that local day;
- weekly (on, Friday 15:00 by default): "your review for 2026-W47 is ready to draft/submit",
  unless it is already submitted or approved;
- leads (on, Monday 09:00): "N reviews waiting", only when N > 0.

Channels: e-mail (when SMTP is configured and reminder e-mails are not unsubscribed) and a
Slack direct message when the user linked their Slack identity and SLACK_BOT_TOKEN is set.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import LogEntry, ReminderClaim, ReviewStatus, SlackLink, User, WeeklyReview
from app.services.isoweek import IsoWeek

log = logging.getLogger("app.reminders")

SLACK_TASK = "slack.dm"


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _at(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    try:
        hour, minute = (int(x) for x in (hhmm or "00:00").split(":", 1))
        clock = time(hour % 24, minute % 60)
    except ValueError:
        clock = time(0, 0)
    return datetime.combine(day, clock, tzinfo=zone)


def _fired(start: datetime, end: datetime, zone: ZoneInfo, hhmm: str) -> datetime | None:
    """The local time `hhmm` that fell in (start, end], if one did."""
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    day = first
    while day <= last:
        at = _at(day, hhmm, zone)
        if start < at <= end:
            return at
        day += timedelta(days=1)
    return None


def due_reminders(user: User, start: datetime, end: datetime) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, period, context) of the reminders that fell due for `user` in (start, end]."""
    from app.services.notifications import settings_for

    prefs = settings_for(user.id)
    zone = _zone(user)
    due: list[tuple[str, str, dict[str, Any]]] = []
    if prefs.daily_enabled:
        at = _fired(start, end, zone, prefs.daily_time)
        if at is not None and (prefs.daily_weekends or at.isoweekday() <= 5):
            day = at.date()
            logged = db.session.scalar(sa.select(sa.func.count(LogEntry.id)).where(
                LogEntry.user_id == user.id, LogEntry.work_date == day, LogEntry.deleted_at.is_(None)))
            if not logged:
                due.append(("daily", day.isoformat(), {"date": day.isoformat()}))
    if prefs.weekly_enabled:
        at = _fired(start, end, zone, prefs.weekly_time)
        if at is not None and at.isoweekday() == prefs.weekly_day:
            week = IsoWeek.of(at.date())
            status = db.session.scalar(sa.select(WeeklyReview.status).where(
                WeeklyReview.user_id == user.id, WeeklyReview.week == str(week)))
            if status not in (ReviewStatus.SUBMITTED.value, ReviewStatus.APPROVED.value):
                due.append(("weekly", str(week), {"week": str(week), "status": status or "none"}))
    if prefs.leads_enabled and user.leads_team:
        at = _fired(start, end, zone, prefs.leads_time)
        if at is not None and at.isoweekday() == 1:
            waiting = db.session.scalar(sa.select(sa.func.count(WeeklyReview.id)).join(
                User, User.id == WeeklyReview.user_id).where(
                User.team_id == user.team_id, User.id != user.id,
                WeeklyReview.status == ReviewStatus.SUBMITTED.value)) or 0
            if waiting:
                due.append(("leads", str(IsoWeek.of(at.date())), {"count": int(waiting)}))
    return due


def reminder_text(kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, body, link) in the current locale."""
    from app.services.mail import absolute

    if kind == "daily":
        return (_("Log today's work (%(date)s)", date=context.get("date", "")),
                _("You have no entry for %(date)s yet. A line or two now keeps your week easy to "
                  "review.", date=context.get("date", "")),
                absolute("log.index"))
    if kind == "weekly":
        week = context.get("week", "")
        return (_("Your review for %(week)s is ready to draft/submit", week=week),
                _("Your weekly review for %(week)s is ready to draft and submit.", week=week),
                absolute("reviews.week", week=week))
    count = int(context.get("count") or 0)
    return (_("%(n)d reviews waiting", n=count),
            _("%(n)d weekly reviews of your team are waiting for you.", n=count),
            absolute("reviews.queue"))


def _claim(user_id: int, kind: str, period: str) -> bool:
    try:
        with db.session.begin_nested():
            db.session.add(ReminderClaim(user_id=user_id, kind=kind, period=period))
            db.session.flush()
    except IntegrityError:
        return False
    return True


def scan(end: datetime, lookback: timedelta | None = None) -> int:
    """Queue the reminders due in (end - lookback, end]; returns how many were claimed."""
    from app.models import NotificationSettings
    from app.services.mail import queue_reminder_email

    if lookback is None:
        lookback = timedelta(minutes=int(current_app.config.get("REMINDERS_LOOKBACK_MINUTES", 60)))
    start = end - lookback
    queued = 0
    users = db.session.scalars(sa.select(User).where(User.is_active.is_(True)).order_by(User.id)).all()
    bot = bool(current_app.config.get("SLACK_BOT_TOKEN"))
    for user in users:
        for kind, period, context in due_reminders(user, start, end):
            if not _claim(user.id, kind, period):
                continue
            key = f"reminder:{kind}:{user.id}:{period}"
            prefs = db.session.get(NotificationSettings, user.id)
            if prefs is None or prefs.reminder_email:
                queue_reminder_email(user, kind, context, key)
            if bot:
                link = db.session.scalar(sa.select(SlackLink).where(SlackLink.user_id == user.id)
                                         .order_by(SlackLink.id.desc()).limit(1))
                if link is not None:
                    jobs.enqueue(SLACK_TASK, user_id=user.id, slack_user_id=link.slack_user_id,
                                 kind=kind, values=context, key=f"slack:{key}")
            queued += 1
        db.session.commit()
    return queued


@jobs.task("reminders.scan", queue="default", max_attempts=3, cron="*/15 * * * *")
def scan_task(timestamp: int) -> int:
    return scan(datetime.fromtimestamp(timestamp, UTC))


@jobs.task(SLACK_TASK, queue="notifications", max_attempts=5, attempts_setting="NOTIFY_MAX_ATTEMPTS")
def send_slack_dm(*, user_id: int, slack_user_id: str, kind: str, values: dict, key: str) -> str:
    """A reminder as a Slack direct message (chat.postMessage to the user's id)."""
    from flask_babel import force_locale
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from app.models import JobEffect
    from app.services.mail import locale_of

    if db.session.get(JobEffect, key) is not None:
        return "already_sent"
    user = db.session.get(User, user_id)
    token = current_app.config.get("SLACK_BOT_TOKEN")
    if user is None or not user.is_active or not token:
        return "skipped"
    with force_locale(locale_of(user)):
        subject, body, link = reminder_text(kind, values)
    client = WebClient(token=token, base_url=current_app.config.get("SLACK_API_BASE_URL")
                       or "https://slack.com/api/", timeout=10)
    try:
        client.chat_postMessage(channel=slack_user_id, text=f"*{subject}*\n{body}\n<{link}>",
                                unfurl_links=False)
    except SlackApiError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status == 429 or status >= 500:
            raise jobs.RetryLater(f"slack_{status}") from None
        raise jobs.GiveUp(f"slack_error: {exc.response.get('error') if exc.response else '?'}") from None
    except OSError as exc:
        raise jobs.RetryLater(f"slack_connection: {type(exc).__name__}") from None
    db.session.add(JobEffect(key=key, task=SLACK_TASK))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
    return "sent"
