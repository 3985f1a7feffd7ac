"""/admin/users: find, create and invite people; change role and team; switch accounts off and on."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, make_response, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import NewUserForm
from app.admin.guard import admin_object_required, recent_login_required
from app.extensions import db
from app.models import AuditEvent, Invite, User, UserSession
from app.security.roles import admin_required
from app.services.admin import directory as admin_service
from app.services.admin.directory import AdminRuleError, UserFilters, user_snapshot
from app.services.paging import paginate
from app.urls import external_url
from app.web import audit, redirect_for

MAX_SESSIONS_SHOWN = 20
MAX_EVENTS_SHOWN = 20


def _get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _new_user_form() -> NewUserForm:
    form = NewUserForm()
    form.team.choices = [("", _("No team"))] + [(str(t.id), t.name) for t in admin_service.all_teams()]
    return form


def _shown_once(template: str, **context: Any) -> Response:
    """A page with a secret on it: rendered in the POST's answer, never stored or cached."""
    response = make_response(render_template(template, **context))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/users")
@admin_required
def users() -> str:
    """Everyone, searchable by email or name and filtered by role, team and status."""
    filters = UserFilters.from_args(request.args)
    page = paginate(admin_service.users_query(filters), filters.page, rows=True)
    return render_template(
        "admin/users.html", filters=filters, page=page, teams=admin_service.all_teams(),
        invites=admin_service.pending_invites(), now=admin_service.utcnow(),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
@recent_login_required
def new_user() -> str | Response | tuple[str, int]:
    """Create an account with a generated password, shown once."""
    form = _new_user_form()
    if form.validate_on_submit():
        try:
            user, password = admin_service.create_account(
                form.email.data or "", form.display_name.data, form.role.data,
                admin_service.get_team(form.team.data),
            )
        except AdminRuleError as exc:
            form.email.errors.append(str(exc))
        else:
            audit("admin.user_created", target_type="user", target_id=user.id,
                  details={"before": None, "after": user_snapshot(user)})
            db.session.commit()
            return _shown_once("admin/user_created.html", user=user, password=password)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form, invite=False), status


@bp.route("/users/invite", methods=["GET", "POST"])
@admin_required
@recent_login_required
def invite_user() -> str | Response | tuple[str, int]:
    """Make a single-use invite link, shown once; the invitee sets their own password."""
    form = _new_user_form()
    form.submit.label.text = _("Create invite link")
    ttl = current_app.config["INVITE_TTL_HOURS"]
    if form.validate_on_submit():
        try:
            invite, token = admin_service.create_invite(
                form.email.data or "", form.display_name.data, form.role.data,
                admin_service.get_team(form.team.data), current_user._get_current_object(), ttl,
            )
        except AdminRuleError as exc:
            form.email.errors.append(str(exc))
        else:
            db.session.flush()
            audit("admin.invite_created", target_type="invite", target_id=invite.id,
                  details={"before": None, "after": {"email": invite.email, "role": invite.role,
                                                     "team_id": invite.team_id,
                                                     "expires_at": invite.expires_at.isoformat()}})
            db.session.commit()
            link = external_url("auth.accept_invite", token=token)
            return _shown_once("admin/invite_created.html", invite=invite, link=link)
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_new.html", form=form, invite=True, ttl=ttl), status


@bp.post("/invites/<int:invite_id>/revoke")
@admin_object_required
def revoke_invite(invite_id: int) -> Response:
    """Make a pending invite link stop working."""
    invite = db.session.get(Invite, invite_id)
    if invite is None:
        abort(404)
    if admin_service.revoke_invite(invite):
        audit("admin.invite_revoked", target_type="invite", target_id=invite.id,
              details={"before": {"revoked": False}, "after": {"revoked": True}, "email": invite.email})
        db.session.commit()
        flash(_("Invite for %(email)s revoked.", email=invite.email), "success")
    return redirect_for(url_for("admin.users"))


@bp.get("/users/<int:user_id>")
@admin_object_required
def user_detail(user_id: int) -> str:
    """One person: role, team, status, live sessions and what happened to the account."""
    user = _get_user(user_id)
    sessions = db.session.scalars(
        sa.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc()).limit(MAX_SESSIONS_SHOWN)
    ).all()
    events = db.session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.target_type == "user", AuditEvent.target_id == str(user.id))
        .order_by(AuditEvent.id.desc()).limit(MAX_EVENTS_SHOWN)
    ).all()
    return render_template(
        "admin/user_detail.html", user=user, sessions=sessions, events=events,
        teams=admin_service.all_teams(), now=admin_service.utcnow(),
    )


def _change(user: User, action: str, change: Any, success: str) -> Response:
    """Apply a change, audit it with before and after, and go back to the user's page."""
    before = user_snapshot(user)
    try:
        extra = change()
    except AdminRuleError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect_for(url_for("admin.user_detail", user_id=user.id))
    db.session.flush()  # so foreign keys set through relationships show in the snapshot
    after = user_snapshot(user)
    details: dict[str, Any] = {"before": before, "after": after}
    if isinstance(extra, int):
        details["sessions_ended"] = extra
    audit(action, target_type="user", target_id=user.id, details=details)
    db.session.commit()
    flash(success, "success")
    return redirect_for(url_for("admin.user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/role")
@admin_object_required
@recent_login_required
def change_role(user_id: int) -> Response:
    """Make someone a member, lead or admin (never the last admin less)."""
    user = _get_user(user_id)
    role = request.form.get("role", "")
    return _change(user, "admin.user_role_changed", lambda: admin_service.change_role(user, role),
                   _("Role of %(email)s changed.", email=user.email))


@bp.post("/users/<int:user_id>/team")
@admin_object_required
def change_team(user_id: int) -> Response:
    """Move someone to another team, or to none."""
    user = _get_user(user_id)
    raw = request.form.get("team", "")
    team = admin_service.get_team(raw)
    if raw not in ("", "none") and team is None:
        abort(404)
    return _change(user, "admin.user_team_changed", lambda: admin_service.change_team(user, team),
                   _("Team of %(email)s changed.", email=user.email))


@bp.post("/users/<int:user_id>/deactivate")
@admin_object_required
@recent_login_required
def deactivate(user_id: int) -> Response:
    """Switch an account off; its sessions end at once."""
    user = _get_user(user_id)
    actor = current_user._get_current_object()
    return _change(user, "admin.user_deactivated", lambda: admin_service.deactivate(actor, user),
                   _("%(email)s is deactivated and signed out everywhere.", email=user.email))


@bp.post("/users/<int:user_id>/reactivate")
@admin_object_required
@recent_login_required
def reactivate(user_id: int) -> Response:
    """Switch an account back on."""
    user = _get_user(user_id)
    return _change(user, "admin.user_reactivated", lambda: admin_service.reactivate(user),
                   _("%(email)s can sign in again.", email=user.email))


@bp.post("/users/<int:user_id>/unlock")
@admin_object_required
def unlock(user_id: int) -> Response:
    """Lift a sign-in pause after failed attempts."""
    user = _get_user(user_id)
    return _change(user, "admin.user_unlocked", user.unlock,
                   _("%(email)s is unlocked.", email=user.email))


@bp.post("/users/<int:user_id>/end-sessions")
@admin_object_required
@recent_login_required
def end_sessions(user_id: int) -> Response:
    """Sign someone out on every device."""
    user = _get_user(user_id)
    is_self = user.id == current_user.id
    response = _change(user, "admin.user_sessions_ended", lambda: admin_service.end_sessions(user),
                       _("%(email)s is signed out everywhere.", email=user.email))
    if is_self:
        logout_user()
        session.clear()
        return redirect_for(url_for("auth.login"))
    return response
