"""`flask reviews draft`: draft one week for every active user with entries and no review.

Safe to run twice at once: each user's review is claimed by inserting it (the unique
(user_id, week) constraint lets exactly one run win) before the model is called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import LogEntry, ReviewComment, User, WeeklyReview
from app.models.base import utcnow
from app.models.review import ReviewStatus
from app.services.audit import record_event
from app.services.freshness import bump_data_version
from app.services.isoweek import IsoWeek
from app.services.llm import LLMError, get_llm, weekly_review_task
from app.services.reviews.workflow import week_entries

log = logging.getLogger(__name__)


@dataclass
class BatchResult:
    week: str
    candidates: list[User] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)   # a review appeared meanwhile
    failed: list[tuple[str, str]] = field(default_factory=list)


def candidates(week: IsoWeek, email: str | None = None) -> list[User]:
    """Active users with live entries in `week` and no review of it, by email."""
    has_entries = sa.exists().where(
        LogEntry.user_id == User.id, LogEntry.deleted_at.is_(None),
        LogEntry.work_date >= week.start, LogEntry.work_date <= week.end,
    )
    has_review = sa.exists().where(WeeklyReview.user_id == User.id, WeeklyReview.week == str(week))
    stmt = sa.select(User).where(User.is_active, has_entries, ~has_review).order_by(User.email)
    if email:
        stmt = stmt.where(User.email == email.strip().lower())
    return list(db.session.scalars(stmt))


def draft_week(week: IsoWeek, *, users: list[User],
               progress: Callable[[User], None] | None = None) -> BatchResult:
    result = BatchResult(week=str(week), candidates=users)
    llm = get_llm(current_app.config)
    for user in users:
        email, user_id = user.email, user.id
        try:
            review = _claim(user, week)
            if review is None:
                result.skipped.append(email)
                continue
            entries = week_entries(user, week)
            given = [e.id for e in entries]
            task = weekly_review_task(entries, week=str(week), locale=user.locale or "en")
            try:
                text = llm.complete(task, user_id=user_id)
            except LLMError as exc:
                _release(review.id)
                result.failed.append((email, f"{exc.outcome}: {exc.code}"))
                continue
            # Only into the untouched claim: the author may have opened the week and saved or
            # submitted while the model was writing, and that must not be overwritten.
            written = db.session.execute(
                sa.update(WeeklyReview)
                .where(*_untouched(review.id))
                .values(body=text.strip() + "\n", cited_entry_ids=given, version=2, updated_at=utcnow()),
                execution_options={"synchronize_session": False},
            ).rowcount
            if written != 1:
                db.session.rollback()
                result.skipped.append(email)
                continue
            bump_data_version(user_id)  # a Core UPDATE: no session event sees it
            record_event("review.drafted", target_type="weekly_review", target_id=review.id,
                         details={"week": str(week), "user_id": user_id, "by": "batch"})
            db.session.commit()
            result.drafted.append(email)
        except Exception as exc:  # one user's failure must not stop the others
            db.session.rollback()
            log.exception("drafting failed", extra={"user_id": user_id})
            result.failed.append((email, type(exc).__name__))
        finally:
            if progress:
                progress(user)
    return result


def _claim(user: User, week: IsoWeek) -> WeeklyReview | None:
    review = WeeklyReview(user_id=user.id, week=str(week), body="", drafted_by_ai=True,
                          cited_entry_ids=[])
    db.session.add(review)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return review


def _release(review_id: int) -> None:
    """Give a claim back after a failed call, so the next run tries this user again."""
    db.session.rollback()
    owner = db.session.scalar(sa.select(WeeklyReview.user_id).where(WeeklyReview.id == review_id))
    if db.session.execute(sa.delete(WeeklyReview).where(*_untouched(review_id))).rowcount:
        bump_data_version(owner)
    db.session.commit()


def _untouched(review_id: int) -> list[sa.ColumnElement[bool]]:
    """The claim as the batch made it: an empty draft nobody has saved, submitted or commented."""
    return [WeeklyReview.id == review_id, WeeklyReview.version == 1, WeeklyReview.body == "",
            WeeklyReview.status == ReviewStatus.DRAFT.value,
            ~sa.exists().where(ReviewComment.review_id == review_id)]
