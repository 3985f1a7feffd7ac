"""/account/identities: the company sign-in identities linked to your account."""

from __future__ import annotations

from flask import abort, current_app, flash, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.account import bp
from app.extensions import db
from app.models import UserIdentity
from app.services.accounts import oidc as oidc_service
from app.web import redirect_for, request_context


def provider_labels() -> dict[str, str]:
    return {p["name"]: p["label"] for p in current_app.config.get("OIDC_PROVIDERS") or []}


@bp.get("/identities")
@login_required
def identities() -> str:
    """Company accounts you can sign in with, and whether a password works too."""
    user = current_user._get_current_object()
    return render_template(
        "account/identities.html", identities=UserIdentity.for_user(user.id),
        labels=provider_labels(), has_password=bool(user.password_hash),
        password_login=current_app.config.get("PASSWORD_LOGIN", True),
    )


@bp.post("/identities/<int:identity_id>/unlink")
@login_required
def unlink_identity(identity_id: int) -> Response:
    """Stop signing in with one company account (only while another way in remains)."""
    user = current_user._get_current_object()
    try:
        removed = oidc_service.unlink_identity(
            user, identity_id, user, request_context(),
            password_login=current_app.config.get("PASSWORD_LOGIN", True),
        )
    except ValueError:
        flash(_("This is your only way to sign in, so it cannot be unlinked."), "error")
        return redirect_for(url_for("account.identities"))
    if removed is None:
        abort(404)
    db.session.commit()
    flash(_("Company sign-in unlinked."), "success")
    return redirect_for(url_for("account.identities"))
