"""Ask your log: a question box, answers citing your entries, your recent questions, feedback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_required

from app.ask import bp
from app.ask.rendering import rendered_answers
from app.errors import retry_after_seconds
from app.extensions import db, limiter
from app.metrics import count_rate_limit_exceeded
from app.models import User
from app.models.ask import COMMENT_MAX, QUESTION_MAX, AskQuestion, Rating
from app.services.ask import answer as ask_service
from app.services.llm import LLMError
from app.web import (
    audit,
    is_htmx,
    json_error,
    me,
    page_arg,
    parse_int,
    redirect_for,
    trigger,
    wants_fragment,
    wants_json,
)

log = logging.getLogger(__name__)
HISTORY_PAGE_SIZE = 10


def _ask_limit() -> str:
    return current_app.config["ASK_RATE_LIMIT"]


def _user_key() -> str:
    return f"user:{current_user.id}"


def _counts(response: Response) -> bool:
    """Only questions that were looked into use up the limit: not refused or malformed ones."""
    return response.status_code not in (400, 422, 429)


def _context(user: User, *, answer: AskQuestion | None = None, error: str | None = None,
             question: str = "", include_team: bool = False, page: int = 1) -> dict[str, Any]:
    history, has_next = ask_service.recent_questions(user, page, HISTORY_PAGE_SIZE)
    shown = history + ([answer] if answer is not None else [])
    return {
        "answer": answer, "error": error, "question": question, "include_team": include_team,
        "history": history, "page": page, "has_next": has_next,
        "rendered": rendered_answers(user, shown),
        "can_include_team": user.is_lead and user.team_id is not None,
        "question_max": QUESTION_MAX, "comment_max": COMMENT_MAX,
    }


def _answer_fragment(user: User, answer: AskQuestion | None = None, error: str | None = None,
                     status: int = 200) -> tuple[str, int]:
    rendered = rendered_answers(user, [answer]) if answer is not None else {}
    return render_template("ask/_answer.html", answer=answer, error=error, rendered=rendered,
                           comment_max=COMMENT_MAX), status


@bp.get("", strict_slashes=False)
@login_required
def index() -> str:
    """The question box, the answer asked for (?a=<id>) and your recent questions."""
    user = me()
    page = page_arg()
    if wants_fragment("ask-history"):
        history, has_next = ask_service.recent_questions(user, page, HISTORY_PAGE_SIZE)
        return render_template("ask/_history.html", history=history, page=page, has_next=has_next,
                               rendered=rendered_answers(user, history), comment_max=COMMENT_MAX)
    answer = None
    asked = parse_int(request.args.get("a"), minimum=1)
    if asked is not None:
        answer = ask_service.question_for(user, asked)
    return render_template("ask/index.html", **_context(user, answer=answer, page=page))


@bp.post("", strict_slashes=False)
@login_required
@limiter.limit(_ask_limit, key_func=_user_key, methods=["POST"], scope="ask", deduct_when=_counts)
def ask() -> str | Response | tuple[str, int]:
    """Answer a question (the answer fragment for htmx; otherwise back to the page, answered)."""
    user = me()
    raw = request.form.get("question", "")
    include_team = request.form.get("include_team") == "1"
    try:
        row = ask_service.ask_question(user, raw, include_team=include_team, locale=str(get_locale()))
        # The answer is rendered before the commit: after it, the question and the user would be
        # expired and loaded again just to be shown.
        fragment = None
        if is_htmx():
            db.session.flush()
            fragment = _answer_fragment(user, row.question)[0]
        db.session.commit()
    except ask_service.QuestionInvalid as refused:
        return _refuse(user, refused.message, 422, raw, include_team)
    except LLMError as failed:
        db.session.rollback()
        return _refuse(user, str(failed.user_message), 503, raw, include_team)
    if fragment is not None:
        return trigger(Response(fragment), "ask-answered")
    return redirect(url_for("ask.index", a=row.question.id) + "#answer", 303)


def _refuse(user: User, message: str, status: int, question: str, include_team: bool) -> Any:
    """The message in the answer area; the question stays in the box, nothing is lost."""
    if wants_json():
        return json_error(status, {422: "validation_error", 429: "rate_limited"}.get(
            status, "llm_unavailable"), message)
    if is_htmx():
        return _answer_fragment(user, error=message, status=status)
    return render_template("ask/index.html", **_context(
        user, error=message, question=question, include_team=include_team)), status


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded) -> Any:
    """Over the question limit: said in the answer area (not a toast), with when to retry."""
    retry = retry_after_seconds()
    log.warning("rate_limit_exceeded", extra={
        "event": "rate_limit_exceeded", "client_ip": request.remote_addr,
        "limit": str(error.description), "endpoint": request.endpoint})
    count_rate_limit_exceeded(request.url_rule.rule if request.url_rule else None)
    if retry:
        message = _("You have asked as many questions as allowed for now (%(limit)s). "
                    "Try again in %(seconds)d seconds.", limit=_limit_text(), seconds=retry)
    else:
        message = _("You have asked as many questions as allowed for now. Try again in a minute.")
    response = _refuse(me(), message, 429, request.form.get("question", ""),
                       request.form.get("include_team") == "1")
    if not isinstance(response, Response):
        body, status = response
        response = Response(body, status=status, mimetype="text/html")
    if retry:
        response.headers["Retry-After"] = str(retry)
    return response


def _limit_text() -> str:
    """The limit that was hit, e.g. "10 per minute"."""
    limit = limiter.current_limit
    if limit is None:
        return ""
    item = limit.limit
    if item.multiples != 1:
        return str(item)
    per = {"second": _("%(n)d per second", n=item.amount), "minute": _("%(n)d per minute", n=item.amount),
           "hour": _("%(n)d per hour", n=item.amount), "day": _("%(n)d per day", n=item.amount)}
    return per.get(item.GRANULARITY.name, str(item))


@bp.post("/<int:question_id>/feedback")
@login_required
def feedback(question_id: int) -> str | Response:
    """Rate an answer (thumbs up or down) and say why; only the asker may."""
    user = me()
    row = ask_service.question_for(user, question_id)
    if row is None:
        abort(404)
    rating = {"up": Rating.UP, "down": Rating.DOWN}.get(request.form.get("rating", ""), row.rating)
    comment = request.form.get("comment", row.feedback_comment or "")
    error = None
    if len(comment.strip()) > COMMENT_MAX:
        error = _("At most %(n)s characters.", n=COMMENT_MAX)
    else:
        row.give_feedback(rating, comment)
        audit("ask.feedback", target_type="ask_question", target_id=row.id,
              details={"rating": row.rating, "comment": bool(row.feedback_comment)})
        db.session.commit()
    if is_htmx():
        where = request.form.get("where", "answer")
        body = render_template("ask/_feedback.html", row=row, where=where, saved=error is None,
                               error=error, comment=comment, comment_max=COMMENT_MAX)
        return Response(body, status=422 if error else 200)
    return redirect_for(url_for("ask.index", a=row.id) + "#answer")
