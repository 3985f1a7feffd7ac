"""The lists of reviews: an author's recent weeks and a lead's queue, each in a fixed number
of queries whatever the data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import LogEntry, ReviewStatus, User, WeeklyReview
from app.services.isoweek import IsoWeek

WEEKS_PER_PAGE = 12
MAX_WEEKS_PAGE = 1000  # 12,000 weeks back: further than anyone logs, nearer than date arithmetic ends
QUEUE_PAGE = 50
RECENT_DECISIONS = 10


def first_week(user: User) -> IsoWeek:
    """Where `user`'s weeks start: the account's creation, or an earlier entry or review."""
    earliest = [user.created_at.date() if user.created_at else user.today()]
    first_entry = db.session.scalar(
        sa.select(sa.func.min(LogEntry.work_date)).where(LogEntry.user_id == user.id))
    if first_entry is not None:
        earliest.append(first_entry)
    weeks = [IsoWeek.of(min(earliest))]
    first_review = db.session.scalar(
        sa.select(sa.func.min(WeeklyReview.week)).where(WeeklyReview.user_id == user.id))
    if first_review:  # "2026-W05" strings sort in time order
        weeks.append(IsoWeek.parse(first_review))
    return min(weeks)


def last_weeks_page(user: User) -> int:
    """The page holding the first week (pages further back would be empty)."""
    back = max(0, (IsoWeek.of(user.today()).start - first_week(user).start).days // 7)
    return min(MAX_WEEKS_PAGE, back // WEEKS_PER_PAGE + 1)


def weeks_overview(user: User, page: int) -> list[dict[str, Any]]:
    """`user`'s weeks on `page` (12 a page, newest first), not before their first week: entry
    count and review of each."""
    newest = IsoWeek.of(user.today()).shift(-(page - 1) * WEEKS_PER_PAGE)
    first = first_week(user)
    weeks = [w for w in (newest.shift(-i) for i in range(WEEKS_PER_PAGE)) if not w < first]
    if not weeks:
        return []
    oldest = weeks[-1]
    dates = db.session.execute(
        sa.select(LogEntry.work_date, sa.func.count(LogEntry.id))
        .where(LogEntry.user_id == user.id, LogEntry.deleted_at.is_(None),
               LogEntry.work_date >= oldest.start, LogEntry.work_date <= newest.end)
        .group_by(LogEntry.work_date)
    ).all()
    counts: Counter[str] = Counter()
    for day, count in dates:
        counts[str(IsoWeek.of(day))] += count
    reviews = {
        r.week: r for r in db.session.scalars(
            sa.select(WeeklyReview).where(WeeklyReview.user_id == user.id,
                                          WeeklyReview.week.in_([str(w) for w in weeks]))
        )
    }
    return [{"week": w, "entries": counts[str(w)], "review": reviews.get(str(w))} for w in weeks]


@dataclass(frozen=True)
class LeadQueue:
    waiting: list[WeeklyReview]  # submitted, oldest first
    recent: list[WeeklyReview]  # this lead's latest decisions
    counts: dict[int, int]  # review id -> entries in its week
    more: bool  # more are waiting than shown


def lead_queue(lead: User) -> LeadQueue:
    """Submitted reviews of the lead's team (not their own), oldest first, and recent decisions."""
    waiting = list(db.session.scalars(
        sa.select(WeeklyReview)
        .join(User, User.id == WeeklyReview.user_id)
        .where(WeeklyReview.status == ReviewStatus.SUBMITTED.value, User.team_id == lead.team_id,
               User.id != lead.id)
        .options(sa.orm.contains_eager(WeeklyReview.user))
        .order_by(WeeklyReview.submitted_at, WeeklyReview.id)
        .limit(QUEUE_PAGE)
    ))
    recent = list(db.session.scalars(
        sa.select(WeeklyReview)
        .join(User, User.id == WeeklyReview.user_id)
        .where(WeeklyReview.reviewer_id == lead.id,
               WeeklyReview.status.in_([ReviewStatus.APPROVED.value,
                                        ReviewStatus.CHANGES_REQUESTED.value]))
        .options(sa.orm.contains_eager(WeeklyReview.user))
        .order_by(WeeklyReview.reviewed_at.desc(), WeeklyReview.id.desc())
        .limit(RECENT_DECISIONS)
    ))
    return LeadQueue(waiting, recent, entry_counts(waiting), len(waiting) == QUEUE_PAGE)


def waiting_count(lead: User) -> int:
    """How many reviews of the lead's team wait for a decision (the navigation's badge)."""
    if not lead.leads_team:
        return 0
    return db.session.scalar(
        sa.select(sa.func.count(WeeklyReview.id))
        .join(User, User.id == WeeklyReview.user_id)
        .where(WeeklyReview.status == ReviewStatus.SUBMITTED.value, User.team_id == lead.team_id,
               User.id != lead.id)
    ) or 0


def entry_counts(reviews: list[WeeklyReview]) -> dict[int, int]:
    """Entries per review's author and week, in one query whatever the number of reviews."""
    if not reviews:
        return {}
    weeks = {r.id: IsoWeek.parse(r.week) for r in reviews}
    start = min(w.start for w in weeks.values())
    end = max(w.end for w in weeks.values())
    rows = db.session.execute(
        sa.select(LogEntry.user_id, LogEntry.work_date, sa.func.count(LogEntry.id))
        .where(LogEntry.user_id.in_({r.user_id for r in reviews}), LogEntry.deleted_at.is_(None),
               LogEntry.work_date >= start, LogEntry.work_date <= end)
        .group_by(LogEntry.user_id, LogEntry.work_date)
    ).all()
    per_user_week: Counter[tuple[int, str]] = Counter()
    for user_id, day, count in rows:
        per_user_week[(user_id, str(IsoWeek.of(day)))] += count
    return {r.id: per_user_week[(r.user_id, r.week)] for r in reviews}
