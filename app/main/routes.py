"""The home page and the language switch."""

from flask import current_app, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.main import bp
from app.web import safe_next

ONE_YEAR = 365 * 24 * 3600


@bp.get("/")
@login_required
def index() -> Response:
    """Where a signed-in user lands: their work log."""
    return redirect(url_for("log.index"))


@bp.post("/language")
def set_language() -> Response:
    """Switch the UI language; remembered in a cookie, and in your profile when signed in."""
    lang = request.form.get("lang", "")
    back = safe_next(request.form.get("next"), "/")
    response = redirect(back)
    if lang not in current_app.config["LANGUAGES"]:
        return response
    response.set_cookie(
        "lang", lang, max_age=ONE_YEAR, httponly=True, samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    if current_user.is_authenticated and current_user.locale != lang:
        current_user.locale = lang
        db.session.commit()
    return response
