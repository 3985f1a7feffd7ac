"""/admin/feedback: every rated or commented answer of Ask your log, in detail, for admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import render_template, request

from app.admin import bp
from app.ask.rendering import rendered_answers
from app.extensions import db
from app.models import User
from app.models.ask import AskQuestion, Rating
from app.models.log import LogEntry
from app.models.user import normalize_email
from app.security.roles import admin_required
from app.services.paging import page_arg_value, paginate
from app.web import me

PAGE_SIZE = 20


@dataclass(frozen=True)
class FeedbackFilters:
    rating: str = ""  # "up", "down" or "" for any
    user: str = ""  # an email, matched exactly (case-insensitive)
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def from_args(cls, args: Any) -> FeedbackFilters:
        def as_date(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, "").strip()) if args.get(name) else None
            except ValueError:
                return None

        page = page_arg_value(args.get("page"))
        rating = args.get("rating", "")
        return cls(rating=rating if rating in ("up", "down") else "",
                   user=(args.get("user") or "").strip()[:254], date_from=as_date("from"),
                   date_to=as_date("to"), page=page)

    def as_args(self, **changes: Any) -> dict[str, Any]:
        """The filters as query arguments (for url_for), without empty ones or page 1."""
        values: dict[str, Any] = {"rating": self.rating, "user": self.user,
                                  "from": self.date_from.isoformat() if self.date_from else "",
                                  "to": self.date_to.isoformat() if self.date_to else "", "page": self.page}
        values.update(changes)
        if values["page"] == 1:
            values["page"] = ""
        return {k: v for k, v in values.items() if v}


def feedback_select(filters: FeedbackFilters) -> sa.Select[Any]:
    stmt = sa.select(AskQuestion).where(AskQuestion.feedback_at.is_not(None))
    if filters.rating:
        stmt = stmt.where(AskQuestion.rating == (Rating.UP if filters.rating == "up" else Rating.DOWN))
    if filters.user:
        stmt = stmt.where(AskQuestion.user_id.in_(
            sa.select(User.id).where(User.email == normalize_email(filters.user))))
    if filters.date_from:
        stmt = stmt.where(AskQuestion.feedback_at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), time(), UTC)
        stmt = stmt.where(AskQuestion.feedback_at < end)
    return stmt.order_by(AskQuestion.feedback_at.desc(), AskQuestion.id.desc())


@bp.get("/feedback")
@admin_required
def feedback() -> str:
    """Rated answers: question, answer, citations, rating, comment and who asked; filterable."""
    filters = FeedbackFilters.from_args(request.args)
    page = paginate(feedback_select(filters).options(so.joinedload(AskQuestion.user)), filters.page,
                    PAGE_SIZE)
    rows = page.items
    cited = {i for row in rows for i in (row.cited_entry_ids or [])}
    titles = dict(db.session.execute(
        sa.select(LogEntry.id, LogEntry.title).where(LogEntry.id.in_(cited))).all()) if cited else {}
    totals = dict(db.session.execute(
        sa.select(AskQuestion.rating, sa.func.count()).where(AskQuestion.feedback_at.is_not(None))
        .group_by(AskQuestion.rating)).all())
    return render_template("admin/feedback.html", rows=rows, filters=filters, titles=titles,
                           totals=totals, rendered=rendered_answers(me(), rows), page=page,
                           endpoint="admin.feedback", args=filters.as_args)

