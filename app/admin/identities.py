"""Company sign-in identities on the admin user page: see them, unlink one (re-authenticated, audited)."""

from __future__ import annotations

from flask import abort, current_app, flash, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.guard import admin_object_required, recent_login_required
from app.extensions import db
from app.models import User, UserIdentity
from app.services.accounts import oidc as oidc_service
from app.web import redirect_for, request_context


@bp.app_context_processor
def _identity_helpers() -> dict:
    return {"user_identities": UserIdentity.for_user}


@bp.post("/users/<int:user_id>/identities/<int:identity_id>/unlink")
@admin_object_required
@recent_login_required
def unlink_identity(user_id: int, identity_id: int) -> Response:
    """Stop a company account from signing this person in."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    try:
        removed = oidc_service.unlink_identity(
            user, identity_id, current_user._get_current_object(), request_context(),
            password_login=current_app.config.get("PASSWORD_LOGIN", True),
        )
    except ValueError:
        flash(_("This is %(email)s's only way to sign in, so it cannot be unlinked. Deactivate the "
                "account instead.", email=user.email), "error")
        return redirect_for(url_for("admin.user_detail", user_id=user.id))
    if removed is None:
        abort(404)
    db.session.commit()
    flash(_("Company sign-in of %(email)s unlinked.", email=user.email), "success")
    return redirect_for(url_for("admin.user_detail", user_id=user.id))
