"""flask demo seed: an idempotent demo organisation."""

import os
from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.models import LogEntry, ReviewComment, Role, User, WeeklyReview
from app.models.base import utcnow
from app.services.accounts.users import create_user, generate_password, get_or_create_team
from app.services.audit import record_event
from app.services.isoweek import IsoWeek
from app.services.llm import OfflineLLM, weekly_review_task
from app.services.ops.demo_data import seed_entries
from app.services.reviews.workflow import week_entries

demo_cli = AppGroup("demo", help="Demo data for trying Worklog out.")

DEMO_TEAM = "Platform"
# (email, display name, role, in the demo team?, timezone, locale)
DEMO_USERS = [
    ("admin@example.com", "Avery Admin", Role.ADMIN, False, "UTC", "en"),
    ("lead@example.com", "김지현 (Lead)", Role.LEAD, True, "Asia/Seoul", "ko"),
    ("member@example.com", "Mina Park", Role.MEMBER, True, "Asia/Seoul", None),
    ("teammate@example.com", "Tom Lee", Role.MEMBER, True, "Europe/Berlin", "en"),
    ("solo@example.com", "Sam Solo", Role.MEMBER, False, "America/New_York", "en"),
]
LOGINS_FILE = "demo-logins.txt"


@demo_cli.command("seed")
def seed() -> None:
    """Create the demo team and users if missing; print new passwords once."""
    team = get_or_create_team(DEMO_TEAM)
    created: list[tuple[str, str, str]] = []
    for email, name, role, in_team, tz, locale in DEMO_USERS:
        if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            continue
        password = generate_password()
        user = create_user(email, password=password, role=role, display_name=name,
                           team=team if in_team else None, timezone=tz, locale=locale)
        record_event("user.created", target_type="user", target_id=user.id,
                     details={"via": "demo seed", "role": role.value})
        created.append((email, role.value, password))
    db.session.commit()
    entries = _seed_log_entries()
    if entries:
        click.echo(f"Added {entries} demo log entries over the past 8 weeks.")
    reviews = _seed_reviews()
    if reviews:
        click.echo(f"Added {reviews} demo weekly reviews (draft, submitted, approved, changes requested).")
    if not created:
        if not entries:
            click.echo("Demo data already present; nothing to do.")
        return
    lines = [f"  {role:<7} {email:<24} {password}" for email, role, password in created]
    text = "Demo logins (role, email, password):\n" + "\n".join(lines)
    click.echo(text)
    # Kept beside the database (git-ignored, owner-only) so `make run` can show them again.
    path = Path(current_app.instance_path) / LOGINS_FILE
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def _seed_log_entries() -> int:
    """Eight weeks of entries for each demo member and lead who has none yet."""
    emails = [email for email, _n, role, *_rest in DEMO_USERS if role != Role.ADMIN]
    users = db.session.scalars(sa.select(User).where(User.email.in_(emails))).all()
    with_entries = set(db.session.scalars(
        sa.select(LogEntry.user_id).where(LogEntry.user_id.in_([u.id for u in users])).distinct()
    ))
    total = 0
    for user in users:
        if user.id not in with_entries:
            total += seed_entries(user, date.today())
    db.session.commit()
    return total


# (email, weeks ago, status, lead's comment): a review in every state for the demo team.
DEMO_REVIEWS = [
    ("member@example.com", 3, "approved",
     "Great week — the payment refactor write-up is exactly what I need."),
    ("member@example.com", 2, "changes_requested", "Please add the numbers for the latency work."),
    ("member@example.com", 1, "submitted", None),
    ("teammate@example.com", 2, "approved", None),
    ("teammate@example.com", 1, "submitted", None),
    ("lead@example.com", 1, "draft", None),
]


def _seed_reviews() -> int:
    """Reviews in several states, drafted by the offline model, for users who have none."""
    emails = {email for email, *_rest in DEMO_REVIEWS}
    users = {u.email: u for u in db.session.scalars(sa.select(User).where(User.email.in_(emails)))}
    lead = users.get("lead@example.com")
    with_reviews = set(db.session.scalars(
        sa.select(WeeklyReview.user_id).where(WeeklyReview.user_id.in_([u.id for u in users.values()]))
    ))
    llm = OfflineLLM(chunk_delay=0)
    this_week = IsoWeek.of(date.today())
    made = 0
    for email, weeks_ago, status, comment in DEMO_REVIEWS:
        user = users.get(email)
        if user is None or user.id in with_reviews:
            continue
        week = this_week.shift(-weeks_ago)
        entries = week_entries(user, week)
        if not entries:
            continue
        body = llm.complete(weekly_review_task(entries, week=str(week), locale=user.locale or "en"),
                            user_id=user.id)
        review = WeeklyReview(user_id=user.id, week=str(week), body=body.strip() + "\n",
                              status=status, version=2, drafted_by_ai=True,
                              cited_entry_ids=[e.id for e in entries])
        if status != "draft":
            review.submitted_at = utcnow()
        if status in ("approved", "changes_requested") and lead is not None:
            review.reviewer_id = lead.id
            review.reviewed_at = utcnow()
        db.session.add(review)
        db.session.flush()
        if comment and lead is not None:
            db.session.add(ReviewComment(review_id=review.id, author_id=lead.id, kind=status,
                                         body=comment))
        record_event("review.created", target_type="weekly_review", target_id=review.id,
                     details={"via": "demo seed", "status": status})
        db.session.commit()  # each review on its own: the next model call holds no open writes
        made += 1
    return made
