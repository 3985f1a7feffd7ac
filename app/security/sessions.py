"""Flask-Login wiring: the cookie carries a session token, checked against the database."""

from __future__ import annotations

from flask import current_app, g
from flask_login import LoginManager

from app.extensions import db
from app.models import User, UserSession


def load_user_from_token(token: str) -> User | None:
    record = UserSession.find_active(token, current_app.config["SESSION_IDLE_DAYS"])
    if record is None:
        return None
    user = record.user
    user._session_token = token
    g.user_session = record
    if record.touch():
        db.session.commit()
    return user


def install_session_loader(manager: LoginManager) -> None:
    manager.user_loader(load_user_from_token)
    manager.unauthorized_handler(_unauthorized)


def _unauthorized():  # type: ignore[no-untyped-def]
    from flask import redirect, url_for

    from app.web import current_page_path, htmx_redirect, is_htmx, json_error, wants_json

    if wants_json():
        from flask_babel import gettext as _

        return json_error(401, "authentication_required", _("Sign in to continue."))
    login_url = url_for("auth.login", next=current_page_path())
    if is_htmx():
        return htmx_redirect(login_url)
    return redirect(login_url)


def current_session() -> UserSession | None:
    return g.get("user_session")
