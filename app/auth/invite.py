"""Accepting an invite: the invitee opens the single-use link and sets a password."""

from __future__ import annotations

from flask import flash, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.admin.forms import AcceptInviteForm
from app.auth import bp
from app.extensions import db
from app.models import Invite
from app.services.admin.directory import AdminRuleError
from app.services.admin.directory import accept_invite as accept
from app.services.audit import record_event
from app.web import redirect_for, request_context


def _invalid() -> tuple[str, int]:
    return render_template("auth/invite_invalid.html"), 404


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> str | Response | tuple[str, int]:
    """Show the invite and create the account; a used, revoked or expired link shows 404."""
    invite = Invite.find_usable(token[:128])
    if invite is None:
        return _invalid()
    form = AcceptInviteForm()
    if not form.is_submitted() and invite.display_name:
        form.display_name.data = invite.display_name
    if form.validate_on_submit():
        try:
            user = accept(invite, (form.display_name.data or "").strip(), form.password.data or "")
        except AdminRuleError as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return _invalid()
        record_event("auth.invite_accepted", request_context(), actor=user, target_type="invite",
                     target_id=invite.id,
                     details={"before": None, "after": {"user_id": user.id, "email": user.email,
                                                        "role": user.role, "team_id": user.team_id}})
        from app.services.notifications import notify_invite_accepted

        notify_invite_accepted(user, invite.created_by)
        db.session.commit()
        flash(_("Your account is ready. Sign in with your email and new password."), "success")
        return redirect_for(url_for("auth.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("auth/invite.html", form=form, invite=invite,
                           signed_in_as=current_user if current_user.is_authenticated else None), status
