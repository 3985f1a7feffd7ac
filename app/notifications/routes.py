"""The bell, the list of notifications, and the signed one-click unsubscribe."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import csrf, db
from app.models import User
from app.models.notification import EVENT_KINDS
from app.notifications import bp
from app.services import notifications as service
from app.services.mail import read_unsubscribe_token
from app.web import is_htmx, me, redirect_for, trigger


@bp.get("", strict_slashes=False)
@login_required
def index() -> str:
    """Your notifications, newest first."""
    user = me()
    rows = service.list_for(user)
    return render_template("notifications/index.html", rows=rows, headline=service.headline,
                           unread=sum(1 for r in rows if r.read_at is None))


@bp.get("/badge")
@login_required
def badge() -> Response:
    """The bell's unread count, a small fragment loaded after the page (never cached).
    Opened directly (not by htmx), it is the notifications page."""
    if not is_htmx():
        return redirect(url_for("notifications.index"))
    response = Response(render_template("notifications/_badge.html",
                                        count=service.unread_count(me())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:notification_id>")
@login_required
def open_one(notification_id: int) -> Response:
    """Mark it read and go to its object."""
    row = service.get_for(me(), notification_id)
    if row is None:
        abort(404)
    service.mark_read(row)
    db.session.commit()
    return redirect(service.target_path(row.kind, row.target_type, row.target_id, me()))


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> Response:
    row = service.get_for(me(), notification_id)
    if row is None:
        abort(404)
    service.mark_read(row)
    db.session.commit()
    return _back()


@bp.post("/read-all")
@login_required
def mark_all_read() -> Response:
    service.mark_all_read(me())
    db.session.commit()
    flash(_("All notifications marked as read."), "success")
    return _back()


def _back() -> Response:
    response = redirect_for(url_for("notifications.index"))
    return trigger(response, "notifications-changed") if is_htmx() else response


# --- unsubscribe (no sign-in: the signed token is the authority) -----------------------------


def _topic_label(topic: str) -> str:
    return _("Reminders") if topic == "reminders" else service.kind_label(topic)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # the signed token is the authority; mail clients POST without a session (RFC 8058)
def unsubscribe(token: str) -> str | tuple[str, int]:
    """GET shows one button; POST (the button, or a mail client's RFC 8058 one-click) applies."""
    found = read_unsubscribe_token(token)
    user = db.session.get(User, found[0]) if found else None
    if found is None or user is None or (found[1] not in EVENT_KINDS and found[1] != "reminders"):
        return render_template("notifications/unsubscribe.html", invalid=True), 404
    topic = found[1]
    done = False
    if request.method == "POST":
        if topic == "reminders":
            service.settings_for(user.id, create=True).reminder_email = False
        else:
            channel = service.channel_for(user.id, topic)
            if channel != "in_app":
                service.set_channel(user.id, topic, "in_app")
        from app.services.audit import record_event
        from app.web import request_context

        record_event("notifications.unsubscribed", request_context(), actor=user, target_type="user",
                     target_id=user.id, details={"topic": topic})
        db.session.commit()
        done = True
    return render_template("notifications/unsubscribe.html", invalid=False, done=done,
                           topic_label=_topic_label(topic), token=token,
                           signed_in=current_user.is_authenticated)
