"""Personal API tokens at /account/tokens: create (shown once), list, revoke."""

from __future__ import annotations

from flask import abort, current_app, flash, make_response, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.account import bp
from app.extensions import db
from app.models.token import NAME_MAX
from app.services.accounts import tokens as token_service
from app.web import me, redirect_for, request_context


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"), validators=[DataRequired(), Length(max=NAME_MAX)],
        description=_l("What the token is for, e.g. \"CI upload\" or \"laptop script\"."),
    )
    expires_days = IntegerField(
        _l("Expires after (days)"),
        validators=[Optional(), NumberRange(min=1, max=token_service.EXPIRY_DAYS_MAX)],
        description=_l("Leave empty for a token that does not expire."),
    )


def _page(form: TokenForm, *, new_token: str | None = None, new_token_id: int | None = None,
          status: int = 200) -> Response:
    user = me()
    body = render_template(
        "account/tokens.html", form=form, tokens=token_service.tokens_of(user.id),
        new_token=new_token, new_token_id=new_token_id,
        api_base=url_for("api.openapi", _external=True).rsplit("/", 1)[0],
        max_days=token_service.EXPIRY_DAYS_MAX,
    )
    response = make_response(body, status)
    # The page can show a secret once: never keep it in a cache or the back/forward cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tokens")
@login_required
def tokens() -> Response:
    """Your personal API tokens."""
    return _page(TokenForm())


@bp.post("/tokens")
@login_required
def create_token() -> Response:
    """Create a token and show it, this once."""
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    try:
        issued = token_service.issue_token(
            me(), form.name.data, form.expires_days.data, via="web", actor=me(), ctx=request_context(),
        )
    except token_service.TokenError as exc:
        db.session.rollback()
        message = {
            "too_many": _("You have %(n)d active tokens, the most allowed. Revoke one first.",
                          n=token_service.ACTIVE_TOKENS_MAX),
        }.get(exc.code, _("This value is not valid."))
        form.name.errors = [*form.name.errors, message]
        return _page(form, status=422)
    db.session.commit()
    current_app.logger.info("api_token_created", extra={"token_id": issued.record.id})
    return _page(TokenForm(formdata=None), new_token=issued.raw, new_token_id=issued.record.id)


@bp.post("/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    """Revoke one of your tokens: it stops working at once."""
    record = token_service.revoke_token(me(), token_id, ctx=request_context())
    if record is None:
        abort(404)
    db.session.commit()
    flash(_("Token “%(name)s” revoked.", name=record.name), "success")
    return redirect_for(url_for("account.tokens"))
