"""Weekly reviews: the workflow and citation checking (who may do what: app/access.py).

The caller commits. Every transition writes an audit event; notifications are sent by the
routes after the commit (a notification must never be sent for a change that was rolled back).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.access import can_review, is_reviewer_for
from app.extensions import db
from app.models import LogEntry, ReviewComment, ReviewStatus, Role, User, WeeklyReview
from app.models.base import utcnow
from app.models.review import BODY_MAX, COMMENT_MAX
from app.services.audit import record_event
from app.services.context import NO_REQUEST, RequestContext
from app.services.freshness import bump_data_version
from app.services.isoweek import IsoWeek
from app.services.markdown import cited_ids

EDITABLE = (ReviewStatus.DRAFT.value, ReviewStatus.CHANGES_REQUESTED.value)
SUBMITTABLE = EDITABLE


class ReviewError(Exception):
    """A refused workflow step. `code` is stable (tests and the JSON API use it)."""

    def __init__(self, code: str, review: WeeklyReview | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.review = review


# --- reading -------------------------------------------------------------------------


def week_entries(user: User, week: IsoWeek) -> list[LogEntry]:
    """`user`'s live entries dated in `week`, oldest first: what a draft may be built from."""
    return list(db.session.scalars(
        sa.select(LogEntry)
        .where(LogEntry.user_id == user.id, LogEntry.deleted_at.is_(None),
               LogEntry.work_date >= week.start, LogEntry.work_date <= week.end)
        .order_by(LogEntry.work_date, LogEntry.id)
    ))


def find_review(user: User, week: IsoWeek) -> WeeklyReview | None:
    return db.session.scalar(
        sa.select(WeeklyReview).where(WeeklyReview.user_id == user.id, WeeklyReview.week == str(week))
    )


def entry_count(user_id: int, week: IsoWeek) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(LogEntry.id)).where(
            LogEntry.user_id == user_id, LogEntry.deleted_at.is_(None),
            LogEntry.work_date >= week.start, LogEntry.work_date <= week.end,
        )
    ) or 0


def verified_ids(review: WeeklyReview, reader: User) -> set[int]:
    """Cited ids that may be rendered as links for `reader`.

    An id counts only when the entry was among those the draft was built from (or, for text the
    author wrote by hand, is one of the author's own entries of that week) and `reader` may
    still see it: live, and the author's (the author and their lead both read those).
    """
    wanted = set(cited_ids(review.body))
    if not wanted or not can_review(reader, review):
        return set()
    week = IsoWeek.parse(review.week)
    rows = db.session.execute(
        sa.select(LogEntry.id, LogEntry.work_date).where(
            LogEntry.id.in_(wanted), LogEntry.user_id == review.user_id,
            LogEntry.deleted_at.is_(None),
        )
    ).all()
    given = set(review.cited_entry_ids or [])
    return {row.id for row in rows if row.id in given or week.start <= row.work_date <= week.end}


# --- the workflow --------------------------------------------------------------------


def save_body(author: User, week: IsoWeek, body: str, expected_version: int, *,
              info: RequestContext = NO_REQUEST, drafted_by_ai: bool = False,
              given_ids: list[int] | None = None) -> WeeklyReview:
    """Save the author's text. `expected_version` 0 means "there was no review yet".

    Refuses (ReviewError "stale") when someone saved since the page was loaded, and
    ("not_editable") while the review is submitted or approved.
    """
    body = body.replace("\r\n", "\n")
    if len(body) > BODY_MAX:
        raise ReviewError("too_long")
    review = find_review(author, week)
    if review is None:
        if expected_version != 0:
            raise ReviewError("stale")
        review = WeeklyReview(user_id=author.id, week=str(week), body=body, version=1,
                              drafted_by_ai=drafted_by_ai, cited_entry_ids=given_ids or [])
        db.session.add(review)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise ReviewError("stale", find_review(author, week)) from None
        record_event("review.created", info, actor=author, target_type="weekly_review",
                     target_id=review.id, details={"week": review.week, "drafted_by_ai": drafted_by_ai})
        return review
    if review.status not in EDITABLE:
        raise ReviewError("not_editable", review)
    if review.version != expected_version:
        raise ReviewError("stale", review)
    if review.body == body and not drafted_by_ai:
        return review
    # The version check is in the UPDATE itself, so two saves from one version cannot both win.
    values: dict = {"version": expected_version + 1, "body": body, "updated_at": utcnow()}
    if drafted_by_ai:
        values |= {"drafted_by_ai": True, "cited_entry_ids": given_ids or []}
    claimed = db.session.execute(
        sa.update(WeeklyReview)
        .where(WeeklyReview.id == review.id, WeeklyReview.version == expected_version,
               WeeklyReview.status.in_(EDITABLE))
        .values(**values),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise ReviewError("stale", db.session.get(WeeklyReview, review.id))
    bump_data_version(review.user_id)  # a Core UPDATE: no session event sees it
    db.session.expire(review)
    record_event("review.saved", info, actor=author, target_type="weekly_review", target_id=review.id,
                 details={"version": expected_version + 1, "drafted_by_ai": drafted_by_ai})
    return review


def _transition(review: WeeklyReview, expected: tuple[str, ...], new_status: str,
                **values: object) -> None:
    claimed = db.session.execute(
        sa.update(WeeklyReview)
        .where(WeeklyReview.id == review.id, WeeklyReview.status.in_(expected))
        .values(status=new_status, updated_at=utcnow(), **values),
        execution_options={"synchronize_session": False},
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise ReviewError("wrong_status", db.session.get(WeeklyReview, review.id))
    bump_data_version(review.user_id)  # a Core UPDATE: no session event sees it
    db.session.expire(review)


def has_reviewer(author: User) -> bool:
    """The rule for submitting: a review goes to a lead of the author's team other than the
    author. Without one nobody could ever read it, so it cannot be submitted (it can still be
    written and saved); an admin makes someone the team's lead, or puts the author in a team."""
    if author.team_id is None:
        return False
    return bool(db.session.scalar(
        sa.select(sa.func.count(User.id)).where(
            User.team_id == author.team_id, User.id != author.id, User.role == Role.LEAD.value,
            User.is_active.is_(True))
    ))


def submit(author: User, review: WeeklyReview, expected_version: int, *,
           info: RequestContext = NO_REQUEST) -> None:
    if review.user_id != author.id:
        raise ReviewError("not_found")
    if not has_reviewer(author):
        raise ReviewError("no_reviewer", review)
    if review.status not in SUBMITTABLE:
        raise ReviewError("wrong_status", review)
    if review.version != expected_version:
        raise ReviewError("stale", review)
    if not review.body.strip():
        raise ReviewError("empty", review)
    before = review.status
    _transition(review, SUBMITTABLE, ReviewStatus.SUBMITTED.value, submitted_at=utcnow(),
                reviewer_id=None, reviewed_at=None)
    record_event("review.submitted", info, actor=author, target_type="weekly_review",
                 target_id=review.id,
                 details={"week": review.week, "from": before, "to": ReviewStatus.SUBMITTED.value})


def decide(lead: User, review: WeeklyReview, approve: bool, comment: str, *,
           info: RequestContext = NO_REQUEST) -> None:
    """Approve, or request changes (which needs a comment). Only the author's lead."""
    if not is_reviewer_for(lead, review.user):
        raise ReviewError("not_found")
    comment = comment.strip()
    if not approve and not comment:
        raise ReviewError("comment_required", review)
    if len(comment) > COMMENT_MAX:
        raise ReviewError("too_long", review)
    if review.status != ReviewStatus.SUBMITTED.value:
        raise ReviewError("wrong_status", review)
    new_status = ReviewStatus.APPROVED.value if approve else ReviewStatus.CHANGES_REQUESTED.value
    _transition(review, (ReviewStatus.SUBMITTED.value,), new_status, reviewer_id=lead.id,
                reviewed_at=utcnow())
    if comment:
        db.session.add(ReviewComment(review_id=review.id, author_id=lead.id, kind=new_status,
                                     body=comment))
    record_event(f"review.{'approved' if approve else 'changes_requested'}", info, actor=lead,
                 target_type="weekly_review", target_id=review.id,
                 details={"week": review.week, "from": ReviewStatus.SUBMITTED.value, "to": new_status,
                          "author_id": review.user_id})


def add_comment(user: User, review: WeeklyReview, body: str, *,
                info: RequestContext = NO_REQUEST) -> ReviewComment:
    if not can_review(user, review):
        raise ReviewError("not_found")
    body = body.strip()
    if not body:
        raise ReviewError("comment_required", review)
    if len(body) > COMMENT_MAX:
        raise ReviewError("too_long", review)
    comment = ReviewComment(review_id=review.id, author_id=user.id, body=body)
    db.session.add(comment)
    db.session.flush()
    record_event("review.commented", info, actor=user, target_type="weekly_review", target_id=review.id,
                 details={"comment_id": comment.id})
    return comment


def comments_of(review: WeeklyReview) -> list[ReviewComment]:
    return list(db.session.scalars(
        sa.select(ReviewComment)
        .where(ReviewComment.review_id == review.id)
        .options(sa.orm.joinedload(ReviewComment.author))
        .order_by(ReviewComment.created_at, ReviewComment.id)
    ))
