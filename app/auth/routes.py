"""Sign in, sign out, change password."""

from flask import current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.forms import LoginForm, PasswordChangeForm
from app.extensions import db, limiter
from app.models.user import normalize_email
from app.security.sessions import current_session
from app.services.accounts import auth as auth_service
from app.web import lockout_policy, me, redirect_for, request_context, safe_next


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_key() -> str:
    # Keyed on what was typed, so unknown and known emails are limited alike.
    return "account:" + normalize_email(request.form.get("email", ""))[:254]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, key_func=get_remote_address, methods=["POST"], scope="login-ip")
@limiter.limit(_login_limit, key_func=_account_key, methods=["POST"], scope="login-account")
def login() -> str | Response:
    """Show the sign-in form; sign in."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect_for(next_url)
    form = LoginForm()
    status = 200
    password_login = current_app.config.get("PASSWORD_LOGIN", True)
    # With PASSWORD_LOGIN=false the form is for break-glass admins only, at ?password=1.
    show_form = password_login or request.args.get("password") == "1"
    if form.validate_on_submit():
        result = auth_service.sign_in(
            form.email.data or "", form.password.data or "", request_context(), lockout_policy(),
            admins_only=not password_login,
        )
        db.session.commit()  # failures too: they count toward the lockout
        if result.ok and result.user is not None:
            result.user._session_token = result.token
            session_state_reset()
            login_user(result.user)
            return redirect_for(next_url)
        form.password.errors.append(
            _("Sign-in failed. Check your email and password. After repeated failures, "
              "sign-in is paused for a few minutes.")
        )
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template(
        "auth/login.html", form=form, next_url=next_url, show_form=show_form,
        providers=current_app.config.get("OIDC_PROVIDERS") or [],
    ), status


def session_state_reset() -> None:
    """Drop anything an earlier visitor left in the cookie session (fixation defence)."""
    from flask import session

    session.clear()


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End this session, here and on the server."""
    auth_service.sign_out(me(), current_session(), request_context())
    db.session.commit()
    logout_user()
    session_state_reset()
    flash(_("You have signed out."), "success")
    return redirect_for(url_for("auth.login"))


def _user_key() -> str:
    return f"user:{current_user.id}"


@bp.route("/password", methods=["GET", "POST"])
@login_required
# The current password is checked here too, so a borrowed session must not guess it freely.
@limiter.limit(_login_limit, key_func=_user_key, methods=["POST"], scope="password-change")
def password() -> str | Response:
    """Change your password; every other session ends."""
    form = PasswordChangeForm()
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if user.check_password(form.current_password.data or ""):
            ended = auth_service.change_password(
                user, current_session(), form.new_password.data or "", request_context()
            )
            db.session.commit()
            flash(
                _("Password changed. %(n)d other session(s) were signed out.", n=ended), "success"
            )
            return redirect_for(url_for("account.sessions"))
        form.current_password.errors.append(_("The current password is not correct."))
        status = 422
    elif request.method == "POST":
        status = 422
    return render_template("auth/password.html", form=form), status
