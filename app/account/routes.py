"""The signed-in user's own preferences and sessions."""

import sqlalchemy as sa
from flask import abort, flash, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from app.account import bp
from app.account.forms import PreferencesForm
from app.extensions import db
from app.models import User, UserSession
from app.security.sessions import current_session
from app.services.accounts import auth as auth_service
from app.web import audit, me, redirect_for, request_context

MAX_SESSIONS_LISTED = 50


def _preferences(user: User) -> dict[str, str | None]:
    return {"display_name": user.display_name, "locale": user.locale, "timezone": user.timezone}


@bp.route("", methods=["GET", "POST"])
@login_required
def preferences() -> str | Response:
    """Display name, language and time zone."""
    user = current_user._get_current_object()
    form = PreferencesForm(obj=user)
    if request.method == "GET":
        form.locale.data = user.locale or ""
    if form.validate_on_submit():
        before = _preferences(user)
        user.display_name = (form.display_name.data or "").strip()
        user.locale = form.locale.data or None
        user.timezone = form.timezone.data or "UTC"
        after = _preferences(user)
        audit("account.preferences_changed", target_type="user", target_id=user.id,
              details={"before": before, "after": after})
        db.session.commit()
        flash(_("Preferences saved."), "success")
        return redirect_for(url_for("account.preferences"))
    status = 422 if request.method == "POST" else 200
    from app.account.notification_settings import settings_context

    return render_template("account/preferences.html", form=form, **settings_context(user.id)), status


@bp.get("/sessions")
@login_required
def sessions() -> str:
    """Your sessions: where you are signed in, and since when."""
    this = current_session()
    records = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == current_user.id)
        .order_by(UserSession.ended_at.is_not(None), UserSession.last_seen_at.desc())
        .limit(MAX_SESSIONS_LISTED)
    ).all()
    from app.account.identities import provider_labels

    return render_template(
        "account/sessions.html", records=records, current_id=this.id if this else None,
        provider_labels=provider_labels(),
    )


@bp.post("/sessions/<int:session_id>/end")
@login_required
def end_session(session_id: int) -> Response:
    """End one of your sessions."""
    this = current_session()
    if not auth_service.end_session(me(), session_id, request_context()):
        abort(404)
    db.session.commit()
    if this is not None and this.id == session_id:
        # Ending the session you are using is signing out.
        logout_user()
        session.clear()
        return redirect_for(url_for("auth.login"))
    flash(_("Session ended."), "success")
    return redirect_for(url_for("account.sessions"))


@bp.post("/sessions/end-others")
@login_required
def end_other_sessions() -> Response:
    """End every session but this one."""
    ended = auth_service.end_other_sessions(me(), current_session(), request_context())
    db.session.commit()
    flash(_("%(n)d other session(s) ended.", n=ended), "success")
    return redirect_for(url_for("account.sessions"))
