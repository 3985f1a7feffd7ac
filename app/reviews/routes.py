"""Weekly reviews: the author's weeks, the week page with the (AI) draft, the lead's queue."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import (
    Response,
    abort,
    flash,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.extensions import db
from app.log.routes import user_today
from app.models import LogEntry, ReviewStatus, User, WeeklyReview
from app.models.review import BODY_MAX, COMMENT_MAX
from app.reviews import bp
from app.services.isoweek import IsoWeek
from app.services.llm import LLMError
from app.services.markdown import render_with_citations
from app.services.reviews import workflow as service
from app.services.reviews.drafting import start_draft
from app.web import client_info, form_int, json_error, redirect_for

WEEKS_PER_PAGE = 12
MAX_PAGE = 1000  # 12,000 weeks back: further than anyone logs, nearer than date arithmetic ends
QUEUE_PAGE = 50


def _me() -> User:
    return current_user._get_current_object()


def _htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def _info() -> service.RequestInfo:
    info = client_info()
    return service.RequestInfo(ip=info.ip, request_id=info.request_id)


def _week_or_404(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except ValueError:
        abort(404)


def _review_or_404(review_id: int) -> WeeklyReview:
    review = service.get_review_for(_me(), review_id)
    if review is None:
        abort(404)
    return review


def error_message(code: str, review: WeeklyReview | None = None) -> str:
    version = review.version if review is not None else 0
    return {
        "stale": _("This review was changed elsewhere (it is now at version %(v)d) after you "
                   "opened it, so your text was not saved. It is still in the editor: copy what "
                   "you need, reload the page and apply it again.", v=version),
        "not_editable": _("This review has been submitted and cannot be edited until the lead "
                          "has reviewed it."),
        "wrong_status": _("This review is no longer in a state that allows this; reload the page "
                          "to see where it stands."),
        "empty": _("Write the review before submitting it."),
        "comment_required": _("Say what should change: a comment is required."),
        "too_long": _("That is too long to save."),
        "no_entries": _("There are no entries in this week to draft from. Add entries to your "
                        "work log first."),
    }.get(code, _("That could not be done."))


def render_review(review: WeeklyReview, reader: User) -> Any:
    """The review as HTML: verified citations link to their entries; others are marked."""
    allowed = service.verified_ids(review, reader)
    base = url_for("log.detail", entry_id=0)[:-1]
    return render_with_citations(
        review.body, lambda i: f"{base}{i}" if i in allowed else None,
        _("Unverified citation: not one of the entries this review may cite"),
    )


def _notify(review: WeeklyReview, event: str, actor: User, comment: str | None = None) -> None:
    """Queue the Slack/Teams notification jobs in the transition's transaction (before the
    commit): they exist if and only if the change commits (app.jobs)."""
    from app.services.reviews.notify import queue_review_event

    queue_review_event(event, review_id=review.id, actor_id=actor.id, comment=comment,
                       url=url_for("reviews.review", review_id=review.id, _external=True))


# --- the author's weeks ---------------------------------------------------------------


@bp.get("", strict_slashes=False)
@login_required
def index() -> str:
    """The user's recent weeks (12 a page, newest first) with entry counts and review status."""
    user = _me()
    try:
        page = max(1, min(int(request.args.get("page", "1")), MAX_PAGE))
    except ValueError:
        page = 1
    newest = IsoWeek.of(user_today(user)).shift(-(page - 1) * WEEKS_PER_PAGE)
    weeks = [newest.shift(-i) for i in range(WEEKS_PER_PAGE)]
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
    rows = [{"week": w, "entries": counts[str(w)], "review": reviews.get(str(w))} for w in weeks]
    return render_template("reviews/index.html", rows=rows, page=page,
                           current_week=IsoWeek.of(user_today(user)),
                           is_lead=user.is_lead and user.team_id is not None)


@bp.get("/<week>")
@login_required
def week(week: str) -> str:
    user = _me()
    iso = _week_or_404(week)
    return render_template("reviews/week.html", **_week_context(user, iso))


def _week_context(user: User, iso: IsoWeek, **extra: Any) -> dict[str, Any]:
    review = service.find_review(user, iso)
    context: dict[str, Any] = {
        "iso": iso, "entries": service.week_entries(user, iso), "review": review,
        "body": review.body if review else "", "version": review.version if review else 0,
        "editable": review is None or review.status in service.EDITABLE,
        "rendered": render_review(review, user) if review and review.body else None,
        "comments": service.comments_of(review) if review else [],
        "this_week": IsoWeek.of(user_today(user)), "body_max": BODY_MAX, "comment_max": COMMENT_MAX,
    }
    context.update(extra)
    return context


@bp.post("/<week>")
@login_required
def save(week: str) -> str | Response | tuple[str, int]:
    """Save the author's text; a save from an old version is refused and the text kept."""
    user = _me()
    iso = _week_or_404(week)
    body = request.form.get("body", "")
    expected = form_int("version")
    submitting = request.form.get("action") == "submit"
    try:
        review = service.save_body(user, iso, body, expected, info=_info())
        if submitting:
            service.submit(user, review, review.version, info=_info())
            _notify(review, "submitted", user)
        db.session.commit()
    except service.ReviewError as exc:
        db.session.rollback()
        status = 409 if exc.code in ("stale", "not_editable", "wrong_status") else 422
        context = _week_context(user, iso, body=body, version=expected,
                                save_error=error_message(exc.code, exc.review))
        if _htmx():
            return render_template("reviews/_editor.html", **context), status
        return render_template("reviews/week.html", **context), status
    if submitting:
        return _after_action(review, _("Review submitted to your lead."))
    flash(_("Review saved."), "success")
    if _htmx():
        return render_template("reviews/_editor.html", **_week_context(user, iso))
    return redirect_for(url_for("reviews.week", week=str(iso)))


@bp.post("/<week>/preview")
@login_required
def preview(week: str) -> str:
    """The editor's text rendered as it will read, citations checked (nothing is saved)."""
    user = _me()
    iso = _week_or_404(week)
    body = request.form.get("body", "")[:BODY_MAX]
    saved = service.find_review(user, iso)
    draft = WeeklyReview(user_id=user.id, week=str(iso), body=body,
                         cited_entry_ids=(saved.cited_entry_ids if saved else None) or [])
    return render_template("reviews/_preview.html", rendered=render_review(draft, user))


@bp.post("/<week>/draft")
@login_required
def draft(week: str) -> Response:
    """Draft the review with AI. With `Accept: text/event-stream` the text is streamed as
    `chunk` events and ends with `done` (saved: new version and review id) or `failed`
    (nothing saved; the editor keeps what it had). Without it, the draft is saved and the page
    reloaded."""
    user = _me()
    iso = _week_or_404(week)
    expected = form_int("version")
    streaming = "text/event-stream" in request.headers.get("Accept", "")
    locale = str(get_locale() or "en")
    try:
        job = start_draft(user, iso, locale)
    except service.ReviewError as exc:
        status = 409 if exc.code == "not_editable" else 422
        if streaming or request.accept_mimetypes.best == "application/json":
            return json_error(status, exc.code, error_message(exc.code, exc.review))
        flash(error_message(exc.code, exc.review), "error")
        return redirect_for(url_for("reviews.week", week=str(iso)))
    info = _info()
    if not streaming:
        try:
            for _chunk in job.chunks():
                pass
            job.save(expected, info)
            db.session.commit()
        except LLMError as exc:
            flash(str(exc.user_message), "error")
        except service.ReviewError as exc:
            db.session.rollback()
            flash(error_message(exc.code, exc.review), "error")
        else:
            flash(_("Draft written from %(n)d entries. Read it through before submitting.",
                    n=len(job.entries)), "success")
        return redirect_for(url_for("reviews.week", week=str(iso)))

    def events() -> Iterator[str]:
        try:
            for chunk in job.chunks():
                yield _event("chunk", chunk)
            review = job.save(expected, info)
            db.session.commit()
            yield _event("done", {"version": review.version, "review_id": review.id,
                                  "entries": len(job.entries),
                                  "message": _("Draft written from %(n)d entries and saved.",
                                               n=len(job.entries))})
        except LLMError as exc:
            yield _event("failed", {"message": str(exc.user_message)})
        except service.ReviewError as exc:
            db.session.rollback()
            yield _event("failed", {"message": error_message(exc.code, exc.review)})

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
    return response


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- one review: author and lead --------------------------------------------------------


@bp.get("/r/<int:review_id>")
@login_required
def review(review_id: int) -> str:
    user = _me()
    item = _review_or_404(review_id)
    return render_template("reviews/review.html", **_review_context(user, item))


def _review_context(user: User, item: WeeklyReview, **extra: Any) -> dict[str, Any]:
    iso = IsoWeek.parse(item.week)
    context: dict[str, Any] = {
        "review": item, "iso": iso, "is_author": item.user_id == user.id,
        "can_decide": service.is_reviewer_for(user, item.user)
        and item.status == ReviewStatus.SUBMITTED.value,
        "rendered": render_review(item, user) if item.body else None,
        "entries": service.week_entries(item.user, iso),
        "comments": service.comments_of(item), "comment_max": COMMENT_MAX,
    }
    context.update(extra)
    return context


def _after_action(item: WeeklyReview, message: str) -> Response:
    flash(message, "success")
    return redirect_for(url_for("reviews.review", review_id=item.id))


def _refused(user: User, item: WeeklyReview, exc: service.ReviewError) -> tuple[str, int]:
    db.session.rollback()
    if exc.code == "not_found":
        abort(404)
    status = 409 if exc.code in ("stale", "wrong_status") else 422
    db.session.refresh(item)
    context = _review_context(user, item, action_error=error_message(exc.code, exc.review),
                              comment_text=request.form.get("comment", request.form.get("body", "")))
    return render_template("reviews/review.html", **context), status


@bp.post("/r/<int:review_id>/submit")
@login_required
def submit(review_id: int) -> Response | tuple[str, int]:
    user = _me()
    item = _review_or_404(review_id)
    if item.user_id != user.id:
        abort(404)
    try:
        service.submit(user, item, form_int("version"), info=_info())
        _notify(item, "submitted", user)
        db.session.commit()
    except service.ReviewError as exc:
        if exc.code in ("stale", "wrong_status", "empty"):
            db.session.rollback()
            flash(error_message(exc.code, exc.review), "error")
            return redirect_for(url_for("reviews.week", week=item.week))
        return _refused(user, item, exc)
    return _after_action(item, _("Review submitted to your lead."))


def _decide(review_id: int, approve: bool) -> Response | tuple[str, int]:
    user = _me()
    item = _review_or_404(review_id)
    if not service.is_reviewer_for(user, item.user):
        abort(404)
    comment = request.form.get("comment", "")
    try:
        service.decide(user, item, approve, comment, info=_info())
        _notify(item, "approved" if approve else "changes_requested", user, comment.strip() or None)
        db.session.commit()
    except service.ReviewError as exc:
        return _refused(user, item, exc)
    return _after_action(item, _("Review approved.") if approve else _("Changes requested."))


@bp.post("/r/<int:review_id>/approve")
@login_required
def approve(review_id: int) -> Response | tuple[str, int]:
    return _decide(review_id, True)


@bp.post("/r/<int:review_id>/request-changes")
@login_required
def request_changes(review_id: int) -> Response | tuple[str, int]:
    return _decide(review_id, False)


@bp.post("/r/<int:review_id>/comments")
@login_required
def comment(review_id: int) -> Response | tuple[str, int] | str:
    user = _me()
    item = _review_or_404(review_id)
    try:
        service.add_comment(user, item, request.form.get("body", ""), info=_info())
        db.session.commit()
    except service.ReviewError as exc:
        return _refused(user, item, exc)
    if _htmx():
        return render_template("reviews/_comments.html", review=item,
                               comments=service.comments_of(item), comment_max=COMMENT_MAX)
    return _after_action(item, _("Comment added."))


# --- the lead's queue ---------------------------------------------------------------------


@bp.get("/queue")
@login_required
def queue() -> str:
    """Submitted reviews of the lead's team, oldest first, with the number of entries."""
    user = _me()
    if not (user.is_lead and user.team_id is not None):
        abort(404)
    waiting = list(db.session.scalars(
        sa.select(WeeklyReview)
        .join(User, User.id == WeeklyReview.user_id)
        .where(WeeklyReview.status == ReviewStatus.SUBMITTED.value, User.team_id == user.team_id,
               User.id != user.id)
        .options(sa.orm.contains_eager(WeeklyReview.user))
        .order_by(WeeklyReview.submitted_at, WeeklyReview.id)
        .limit(QUEUE_PAGE)
    ))
    recent = list(db.session.scalars(
        sa.select(WeeklyReview)
        .join(User, User.id == WeeklyReview.user_id)
        .where(WeeklyReview.reviewer_id == user.id,
               WeeklyReview.status.in_([ReviewStatus.APPROVED.value,
                                        ReviewStatus.CHANGES_REQUESTED.value]))
        .options(sa.orm.contains_eager(WeeklyReview.user))
        .order_by(WeeklyReview.reviewed_at.desc(), WeeklyReview.id.desc())
        .limit(10)
    ))
    return render_template("reviews/queue.html", waiting=waiting, recent=recent,
                           counts=_entry_counts(waiting), more=len(waiting) == QUEUE_PAGE)


def _entry_counts(reviews: list[WeeklyReview]) -> dict[int, int]:
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
