"""Reminders: due in each user's time zone, once per period whatever the number of workers,
none on days already logged; by e-mail (a real SMTP server) and Slack DM (a local Web API)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app, jobs
from app.extensions import db
from app.models import (
    LogEntry,
    NotificationSettings,
    ReminderClaim,
    Role,
    SlackLink,
    Team,
    User,
    WeeklyReview,
)
from app.services.reminders import scan
from tests.conftest import (
    _base_config,
    password_hash,
)
from tests.jobs_support import job_rows, scratch_database, start_worker, wait_for
from tests.mail_support import Mailbox, text_of
from tests.slack_support import SlackStandIn

# ISO week 2026-W47: Monday 16 to Sunday 22 November 2026.
WEEK_START = datetime(2026, 11, 16, tzinfo=UTC)
HOURS = [WEEK_START + timedelta(hours=h) for h in range(7 * 24)]


def people(app: Flask) -> dict[str, int]:
    """Seoul (daily 18:00, logged on Wednesday), New York (daily 09:00 with weekends) and a
    Berlin lead with one review waiting; everybody else's reminders are off."""
    with app.app_context():
        team = Team(name="Platform")
        seoul = User(email="mina@example.com", display_name="Mina", timezone="Asia/Seoul", locale="ko",
                     password_hash=password_hash(), role=Role.MEMBER.value, team=team)
        ny = User(email="nick@example.com", display_name="Nick", timezone="America/New_York",
                  password_hash=password_hash(), role=Role.MEMBER.value, team=team)
        lead = User(email="lee@example.com", display_name="Lee", timezone="Europe/Berlin",
                    password_hash=password_hash(), role=Role.LEAD.value, team=team)
        db.session.add_all([team, seoul, ny, lead])
        db.session.flush()
        db.session.add_all([
            NotificationSettings(user_id=seoul.id, channels={}, daily_enabled=True, daily_time="18:00"),
            NotificationSettings(user_id=ny.id, channels={}, daily_enabled=True, daily_time="09:00",
                                 daily_weekends=True, weekly_enabled=False),
            NotificationSettings(user_id=lead.id, channels={}, weekly_enabled=False, leads_time="09:00"),
            LogEntry(user_id=seoul.id, work_date=date(2026, 11, 18), title="Logged Wednesday"),
            WeeklyReview(user_id=ny.id, week="2026-W46", body="Done.", status="submitted",
                         submitted_at=WEEK_START - timedelta(days=2)),
        ])
        db.session.commit()
        return {"seoul": seoul.id, "ny": ny.id, "lead": lead.id}


def claims(app: Flask) -> Counter:
    with app.app_context():
        return Counter((r.user_id, r.kind, r.period) for r in db.session.scalars(sa.select(ReminderClaim)))


# --- the rules, on both databases (the scan run in this process) ---------------------------------


def test_each_reminder_is_due_once_in_the_users_time_zone(app):
    ids = people(app)
    with app.app_context():
        for moment in HOURS:
            scan(moment)
            scan(moment)  # a second worker's scan of the same tick
        scan(HOURS[-1], lookback=timedelta(days=7))  # a late catch-up over the whole week
    got = claims(app)
    assert all(n == 1 for n in got.values())
    seoul_days = {p for (u, k, p) in got if u == ids["seoul"] and k == "daily"}
    # Monday to Friday in Seoul, not Wednesday (logged), not the weekend.
    assert seoul_days == {"2026-11-16", "2026-11-17", "2026-11-19", "2026-11-20"}
    assert (ids["seoul"], "weekly", "2026-W47") in got  # Friday 15:00 KST
    ny_days = {p for (u, k, p) in got if u == ids["ny"] and k == "daily"}
    assert ny_days == {f"2026-11-{d}" for d in range(16, 23)}  # weekends chosen
    assert {k for (u, k, p) in got if u == ids["lead"]} == {"leads"}
    assert (ids["ny"], "weekly", "2026-W47") not in got


def test_the_daily_reminder_fires_at_the_local_time(app):
    ids = people(app)
    with app.app_context():
        # 18:00 in Seoul is 09:00 UTC: nothing at 08:00 UTC, the reminder by 09:00 UTC.
        scan(datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
        assert (ids["seoul"], "daily", "2026-11-16") not in claims(app)
        scan(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    assert (ids["seoul"], "daily", "2026-11-16") in claims(app)


# --- on PostgreSQL with two worker processes -----------------------------------------------------


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "the reminder worker tests") as url:
        yield url


def test_two_workers_send_each_reminder_once_across_a_week(scratch, tmp_path: Path):
    with Mailbox() as mailbox, SlackStandIn() as slack:
        settings = {"SMTP_URL": mailbox.url, "SLACK_BOT_TOKEN": "xoxb-test",
                    "SLACK_API_BASE_URL": slack.api_url, "BASE_URL": "http://worklog.test"}
        app = create_app({**_base_config(scratch, tmp_path), **settings})
        ids = people(app)
        with app.app_context():
            db.session.add(SlackLink(user_id=ids["seoul"], slack_team_id="T0001", slack_user_id="U0SEOUL"))
            for moment in HOURS:  # the frozen clock: one scan per hour of the week, twice
                for _ in range(2):
                    jobs.enqueue("reminders.scan", timestamp=int(moment.timestamp()))
            db.session.commit()
        env = {**{k: str(v) for k, v in settings.items()}, "SECRET_KEY": app.config["SECRET_KEY"]}
        first = start_worker(tmp_path, scratch, name="w1", env=env)
        second = start_worker(tmp_path, scratch, name="w2", env=env)
        engine = sa.create_engine(scratch)
        try:
            def settled() -> bool:
                rows = job_rows(engine)
                return bool(rows) and all(r.status in ("succeeded", "failed") for r in rows) and \
                    len(mailbox.messages) >= 13
            wait_for(settled, timeout=240, what="the scans and the sends")
            # A restart: one worker killed, the Friday scans deferred again, a new worker.
            first.kill()
            with app.app_context():
                for moment in HOURS[4 * 24:5 * 24]:
                    jobs.enqueue("reminders.scan", timestamp=int(moment.timestamp()))
                db.session.commit()
            third = start_worker(tmp_path, scratch, name="w3", env=env)
            wait_for(lambda: all(r.status in ("succeeded", "failed") for r in job_rows(engine)),
                     timeout=120, what="the repeated scans")
            assert [r for r in job_rows(engine) if r.status == "failed"] == []
            second.terminate()
            third.terminate()
        finally:
            engine.dispose()
            for w in (first, second):
                if w.proc.poll() is None:
                    w.kill()

        def subjects(address: str) -> Counter:
            week = re.compile(r"2026-11-(1[6-9]|2[0-2])|2026-W47|reviews waiting")
            return Counter(str(m["Subject"]) for m in mailbox.to(address) if week.search(str(m["Subject"])))

        seoul = subjects("mina@example.com")
        assert all(n == 1 for n in seoul.values()), seoul
        assert len(seoul) == 5  # four days (Wednesday was logged) and the weekly review
        assert any("2026-W47" in s and "리뷰" in s for s in seoul)  # in Korean, her language
        assert not any("2026-11-18" in s for s in seoul)
        ny = subjects("nick@example.com")
        assert len(ny) == 7 and all(n == 1 for n in ny.values())
        assert list(subjects("lee@example.com")) == ["1 reviews waiting"]
        dms = [b for b in slack.posted("chat.postMessage") if b["channel"] == "U0SEOUL"]
        assert len([d for d in dms if re.search(r"2026-11-(1[6-9]|20)|2026-W47", d["text"])]) == 5
        message = mailbox.to("mina@example.com")[0]
        assert "http://worklog.test/notifications/unsubscribe/" in text_of(message)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
