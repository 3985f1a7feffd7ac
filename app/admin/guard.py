"""Access rules of the admin console beyond admin_required.

- Object URLs (/admin/users/<id>, /admin/teams/<id>/...) answer 404 to non-admins, so they do
  not even learn which ids exist.
- Destructive actions need a recent password: when this session's sign-in (or last
  re-authentication) is older than ADMIN_REAUTH_MINUTES, the action answers with a password
  form that re-posts the same fields, so the action goes on once the password is right
  (htmx callers are sent to /admin/reauth?next=..., JSON clients get a 403).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.admin import bp
from app.extensions import db, limiter
from app.models.base import utcnow
from app.security.roles import admin_required
from app.security.sessions import current_session
from app.services.admin.directory import signed_in_recently
from app.web import (
    audit,
    current_page_path,
    htmx_redirect,
    json_error,
    redirect_for,
    safe_next,
    wants_json,
)

REAUTH_FIELD = "reauth_password"


def admin_object_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Like admin_required, but anyone signed in who is not an admin gets 404."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(404)
        return view(*args, **kwargs)

    return wrapped


def _reauth_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _user_key() -> str:
    return f"user:{current_user.id}" if current_user.is_authenticated else "anonymous"


# Typing the password is limited like signing in, shared by every guarded action.
reauth_rate_limit = limiter.shared_limit(
    _reauth_limit, scope="admin-reauth", key_func=_user_key, methods=["POST"],
    exempt_when=lambda: REAUTH_FIELD not in request.form,
)


def _same_site_referrer() -> str | None:
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""), "") or None


def _reauth_message(minutes: int) -> str:
    return _("Confirm your password to continue: this action needs a sign-in from the "
             "last %(n)d minutes.", n=minutes)


def _confirm_password(password: str | None) -> bool:
    """Check the password typed again; record it on this session (audited either way)."""
    record = current_session()
    if password is None or record is None:
        return False
    user = current_user._get_current_object()
    if password and user.check_password(password):
        record.reauthenticated_at = utcnow()
        audit("admin.reauthenticated", target_type="session", target_id=record.id)
        db.session.commit()
        return True
    audit("admin.reauth_failed", target_type="session", target_id=record.id)
    db.session.commit()
    return False


def recent_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run the view only if the password was typed recently in this session (see above).

    Put it under admin_required / admin_object_required, so only admins ever see the form.
    """

    @wraps(view)
    @reauth_rate_limit
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        minutes = current_app.config["ADMIN_REAUTH_MINUTES"]
        if request.method != "POST" or signed_in_recently(current_session(), minutes):
            return view(*args, **kwargs)
        password = request.form.get(REAUTH_FIELD)
        if _confirm_password(password):
            return view(*args, **kwargs)
        error = _("The password is not correct.") if password is not None else None
        if wants_json():
            return json_error(403, "reauthentication_required", _reauth_message(minutes))
        if request.headers.get("HX-Request") == "true":
            # An htmx caller cannot show this form in place: confirm on a page, then come back.
            back = safe_next(current_page_path(), "/admin")
            return htmx_redirect(url_for("admin.reauth", next=back))
        fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", REAUTH_FIELD)]
        return render_template(
            "admin/reauth.html", action=request.path, fields=fields, message=_reauth_message(minutes),
            error=error, back=_same_site_referrer(),
        ), (422 if error else 200)

    return wrapped


@bp.route("/reauth", methods=["GET", "POST"])
@admin_required
@reauth_rate_limit
def reauth() -> str | Response | tuple[str, int]:
    """Confirm the password on a page of its own, then go back to `next`."""
    next_url = safe_next(request.values.get("next"), url_for("admin.index"))
    error = None
    if request.method == "POST":
        if _confirm_password(request.form.get(REAUTH_FIELD)):
            return redirect_for(next_url)
        error = _("The password is not correct.")
    return render_template(
        "admin/reauth.html", action=url_for("admin.reauth"), fields=[("next", next_url)],
        message=_reauth_message(current_app.config["ADMIN_REAUTH_MINUTES"]), error=error, back=next_url,
    ), (422 if error else 200)
