"""Weekly reviews: the author's weeks, the week page with the (AI) draft, the lead's queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import (
    Response,
    abort,
    flash,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import format_time, get_locale
from flask_babel import gettext as _
from flask_login import login_required

from app.access import Action, can_review, get_review_for
from app.extensions import db
from app.i18n import status_label
from app.models import ReviewStatus, User, WeeklyReview
from app.models.base import utcnow
from app.models.review import BODY_MAX, COMMENT_MAX
from app.reviews import bp
from app.services.freshness import conditional, team_part
from app.services.isoweek import IsoWeek
from app.services.llm import LLMError
from app.services.markdown import render_with_citations
from app.services.publishing import publications_for, queue_publications
from app.services.reviews import workflow as service
from app.services.reviews.drafting import start_draft
from app.services.reviews.overview import (
    MAX_WEEKS_PAGE,
    last_weeks_page,
    lead_queue,
    waiting_count,
    weeks_overview,
)
from app.urls import external_url
from app.web import audit, form_int, is_htmx, json_error, me, page_arg, redirect_for, request_context


def _week_or_404(text: str) -> IsoWeek:
    try:
        return IsoWeek.parse(text)
    except ValueError:
        abort(404)


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
        "no_reviewer": no_reviewer_message(),
        "no_entries": _("There are no entries in this week to draft from. Add entries to your "
                        "work log first."),
    }.get(code, _("That could not be done."))


def no_reviewer_message() -> str:
    return _("Your team has no lead to review this, so it cannot be submitted yet. You can write "
             "and save it; ask an admin to add you to a team with a lead.")


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
    from app.services.notifications import notify_review_event
    from app.services.reviews.notify import queue_review_event

    queue_review_event(event, review_id=review.id, actor_id=actor.id, comment=comment,
                       url=external_url("reviews.review", review_id=review.id))
    notify_review_event(f"review_{event}", review, actor=actor)


# --- the author's weeks ---------------------------------------------------------------


@bp.get("", strict_slashes=False)
@conditional()
@login_required
def index() -> str:
    """The user's recent weeks (12 a page, newest first) with entry counts and review status."""
    user = me()
    page = page_arg(maximum=MAX_WEEKS_PAGE)
    last_page = last_weeks_page(user)
    page = min(page, last_page)  # nothing older than the account's first week
    return render_template("reviews/index.html", rows=weeks_overview(user, page), page=page,
                           last_page=last_page, current_week=IsoWeek.of(user.today()),
                           is_lead=user.leads_team, can_submit=service.has_reviewer(user),
                           no_reviewer=no_reviewer_message())


@bp.get("/<week>")
@conditional()
@login_required
def week(week: str) -> str:
    user = me()
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
        "this_week": IsoWeek.of(user.today()), "body_max": BODY_MAX, "comment_max": COMMENT_MAX,
        "can_submit": service.has_reviewer(user), "no_reviewer": no_reviewer_message(),
        "latest_request": _latest_request(review),
    }
    context.update(extra)
    return context


def _latest_request(review: WeeklyReview | None) -> Any:
    """The lead's latest request for changes, shown beside the banner that mentions it."""
    if review is None or review.status != ReviewStatus.CHANGES_REQUESTED.value:
        return None
    asked = [c for c in service.comments_of(review) if c.kind == "changes_requested"]
    return asked[-1] if asked else None


def _autosaved(user: User, iso: IsoWeek, review: WeeklyReview) -> Response:
    """What the editor's autosave needs: the new version and the status to show."""
    saved_at = format_time(utcnow(), "short")
    return jsonify({"version": review.version, "status": review.status,
                    "status_label": status_label(review.status),
                    "message": _("Saved · %(time)s", time=saved_at), "review_id": review.id})


@bp.post("/<week>")
@login_required
def save(week: str) -> str | Response | tuple[str, int]:
    """Save the author's text; a save from an old version is refused and the text kept.
    The editor's autosave asks for JSON and gets the new version (or the refusal) back."""
    user = me()
    iso = _week_or_404(week)
    body = request.form.get("body", "")
    expected = form_int("version")
    submitting = request.form.get("action") == "submit"
    autosave = request.accept_mimetypes.best == "application/json"
    if submitting and not service.has_reviewer(user):
        submitting = False  # the text is saved; the message says why it was not submitted
        flash(no_reviewer_message(), "warning")
    try:
        review = service.save_body(user, iso, body, expected, info=request_context())
        if submitting:
            service.submit(user, review, review.version, info=request_context())
            _notify(review, "submitted", user)
        db.session.commit()
    except service.ReviewError as exc:
        db.session.rollback()
        status = 409 if exc.code in ("stale", "not_editable", "wrong_status") else 422
        if autosave:
            return json_error(status, exc.code, error_message(exc.code, exc.review))
        context = _week_context(user, iso, body=body, version=expected,
                                save_error=error_message(exc.code, exc.review))
        if is_htmx():
            return render_template("reviews/_editor.html", **context), status
        return render_template("reviews/week.html", **context), status
    if submitting:
        return _after_action(review, _("Review submitted to your lead."))
    if autosave:
        return _autosaved(user, iso, review)
    flash(_("Review saved."), "success")
    if is_htmx():
        return render_template("reviews/_editor.html", **_week_context(user, iso))
    return redirect_for(url_for("reviews.week", week=str(iso)))


@bp.post("/<week>/preview")
@login_required
def preview(week: str) -> str:
    """The editor's text rendered as it will read, citations checked (nothing is saved)."""
    user = me()
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
    user = me()
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
    info = request_context()
    if not streaming:
        try:
            for _chunk in job.chunks():
                pass
            job.save(expected, info)
            db.session.commit()
        except LLMError as exc:
            if exc.partial.strip():  # what the AI wrote before it was stopped, for the author
                message = _partial_message(exc)
                context = _week_context(user, iso, body=exc.partial, save_error=message)
                return Response(render_template("reviews/week.html", **context), status=503)
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
                                  "entries": len(job.entries), "status": review.status,
                                  "status_label": status_label(review.status),
                                  "message": _("Draft written from %(n)d entries and saved.",
                                               n=len(job.entries))})
        except LLMError as exc:
            if exc.partial.strip():  # kept in the editor, not saved
                yield _event("failed", {"message": _partial_message(exc), "partial": exc.partial})
            else:
                yield _event("failed", {"message": str(exc.user_message)})
        except service.ReviewError as exc:
            db.session.rollback()
            yield _event("failed", {"message": error_message(exc.code, exc.review)})

    response = Response(stream_with_context(events()), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
    return response


def _partial_message(exc: LLMError) -> str:
    return _("%(problem)s What it wrote until then is in the editor, not saved: keep what is "
             "useful and save it yourself.", problem=str(exc.user_message))


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# --- one review: author and lead --------------------------------------------------------


@bp.get("/r/<int:review_id>")
@login_required
def review(review_id: int) -> str:
    user = me()
    item = get_review_for(user, review_id)
    return render_template("reviews/review.html", **_review_context(user, item))


def _review_context(user: User, item: WeeklyReview, **extra: Any) -> dict[str, Any]:
    iso = IsoWeek.parse(item.week)
    context: dict[str, Any] = {
        "review": item, "iso": iso, "is_author": item.user_id == user.id,
        "can_decide": can_review(user, item, Action.DECIDE)
        and item.status == ReviewStatus.SUBMITTED.value,
        "rendered": render_review(item, user) if item.body else None,
        "entries": service.week_entries(item.user, iso),
        "comments": service.comments_of(item), "comment_max": COMMENT_MAX,
        "can_submit": service.has_reviewer(item.user), "no_reviewer": no_reviewer_message(),
        "publications": publications_for(item),
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
    user = me()
    item = get_review_for(user, review_id, Action.WRITE)
    try:
        service.submit(user, item, form_int("version"), info=request_context())
        _notify(item, "submitted", user)
        db.session.commit()
    except service.ReviewError as exc:
        if exc.code in ("stale", "wrong_status", "empty", "no_reviewer"):
            db.session.rollback()
            flash(error_message(exc.code, exc.review), "error")
            return redirect_for(url_for("reviews.week", week=item.week))
        return _refused(user, item, exc)
    return _after_action(item, _("Review submitted to your lead."))


def _decide(review_id: int, approve: bool) -> Response | tuple[str, int]:
    user = me()
    item = get_review_for(user, review_id, Action.DECIDE)
    comment = request.form.get("comment", "")
    try:
        service.decide(user, item, approve, comment, info=request_context())
        _notify(item, "approved" if approve else "changes_requested", user, comment.strip() or None)
        queue_publications(item)
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


@bp.post("/r/<int:review_id>/publish/retry")
@login_required
def retry_publish(review_id: int) -> Response:
    """Queue the failed publications of the review again (author, their lead, admins)."""
    user = me()
    item = get_review_for(user, review_id)
    failed = [p.destination for p in publications_for(item) if p.state == "failed"]
    queued = queue_publications(item, failed) if failed else 0
    if queued:
        audit("review.publish_retried", target_type="weekly_review", target_id=item.id,
              details={"destinations": failed})
    db.session.commit()
    flash(_("Publishing queued again.") if queued else _("Nothing to retry."),
          "success" if queued else "info")
    return redirect_for(url_for("reviews.review", review_id=item.id))


@bp.post("/r/<int:review_id>/comments")
@login_required
def comment(review_id: int) -> Response | tuple[str, int] | str:
    user = me()
    item = get_review_for(user, review_id)
    try:
        # "body" from the comment box; "comment" from the lead's decision form ("Comment only").
        text = request.form.get("body") or request.form.get("comment", "")
        service.add_comment(user, item, text, info=request_context())
        from app.services.notifications import notify_review_event

        notify_review_event("review_comment", item, actor=user)
        db.session.commit()
    except service.ReviewError as exc:
        return _refused(user, item, exc)
    if is_htmx():
        return render_template("reviews/_comments.html", review=item,
                               comments=service.comments_of(item), comment_max=COMMENT_MAX)
    return _after_action(item, _("Comment added."))


# --- the lead's queue ---------------------------------------------------------------------


def _team_versions() -> str | None:
    """The lead's queue shows the team's reviews: the members' data versions join the ETag."""
    user = me()
    if not user.leads_team:
        return None
    return team_part(user.team_id)


@bp.get("/queue")
@login_required
@conditional("queue", others=_team_versions)
def queue() -> str:
    """Submitted reviews of the lead's team, oldest first, with the number of entries."""
    user = me()
    if not user.leads_team:
        abort(404)
    found = lead_queue(user)
    return render_template("reviews/queue.html", waiting=found.waiting, recent=found.recent,
                           counts=found.counts, more=found.more)


@bp.get("/queue/badge")
@login_required
def queue_badge() -> Response:
    """The navigation's count of reviews waiting for this lead: a fragment loaded on its own
    (hx-trigger="load") so the pages around it stay cacheable. Opened directly, the queue."""
    if not is_htmx():
        return redirect_for(url_for("reviews.queue"))
    response = Response(render_template("reviews/_queue_badge.html", n=waiting_count(me())))
    response.headers["Cache-Control"] = "private, no-store"
    return response
