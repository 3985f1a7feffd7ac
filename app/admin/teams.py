"""/admin/teams: create, rename and delete teams; choose their leads."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.guard import admin_object_required, recent_login_required
from app.extensions import db
from app.models import Team, User
from app.security.roles import admin_required
from app.services.admin import directory as admin_service
from app.services.admin.directory import AdminRuleError
from app.web import audit, parse_int, redirect_for


def _get_team(team_id: int) -> Team:
    team = db.session.get(Team, team_id)
    if team is None:
        abort(404)
    return team


def _done(message: str | None, error: str | None = None, anchor: str = "") -> Response:
    if error:
        db.session.rollback()
        flash(error, "error")
    else:
        db.session.commit()
        if message:
            flash(message, "success")
    return redirect_for(url_for("admin.teams") + anchor)


@bp.get("/teams")
@admin_required
def teams() -> str:
    """Every team with its size and leads."""
    rows = admin_service.teams_overview()
    return render_template("admin/teams.html", rows=rows)


@bp.post("/teams")
@admin_required
def create_team() -> Response:
    """A new, empty team."""
    try:
        team = admin_service.create_team(request.form.get("name", ""))
    except AdminRuleError as exc:
        return _done(None, str(exc))
    audit("admin.team_created", target_type="team", target_id=team.id,
          details={"before": None, "after": {"name": team.name}})
    return _done(_("Team %(name)s created.", name=team.name), anchor=f"#team-{team.id}")


@bp.post("/teams/<int:team_id>/rename")
@admin_object_required
def rename_team(team_id: int) -> Response:
    """Give a team a new name."""
    team = _get_team(team_id)
    before = team.name
    try:
        admin_service.rename_team(team, request.form.get("name", ""))
    except AdminRuleError as exc:
        return _done(None, str(exc))
    audit("admin.team_renamed", target_type="team", target_id=team.id,
          details={"before": {"name": before}, "after": {"name": team.name}})
    return _done(_("Team renamed to %(name)s.", name=team.name), anchor=f"#team-{team.id}")


@bp.post("/teams/<int:team_id>/delete")
@admin_object_required
@recent_login_required
def delete_team(team_id: int) -> Response:
    """Delete a team that has nobody in it."""
    team = _get_team(team_id)
    name = team.name
    try:
        admin_service.delete_team(team)
    except AdminRuleError as exc:
        return _done(None, str(exc))
    audit("admin.team_deleted", target_type="team", target_id=team_id,
          details={"before": {"name": name}, "after": None})
    return _done(_("Team %(name)s deleted.", name=name))


@bp.get("/teams/<int:team_id>")
@admin_object_required
def team_detail(team_id: int) -> str:
    """A team's members, with the choice of who leads it."""
    team = _get_team(team_id)
    return render_template("admin/team_detail.html", team=team, members=admin_service.team_members(team))


@bp.post("/teams/<int:team_id>/leads")
@admin_object_required
@recent_login_required
def set_lead(team_id: int) -> Response:
    """Make a member of the team a lead, or a lead a member again (a role change)."""
    team = _get_team(team_id)
    user = db.session.get(User, parse_int(request.form.get("user_id"), minimum=1) or 0)
    if user is None:
        abort(404)
    lead = request.form.get("lead") == "1"
    before: dict[str, Any] = {"role": user.role, "team_id": user.team_id}
    try:
        admin_service.set_lead(team, user, lead)
    except AdminRuleError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect_for(url_for("admin.team_detail", team_id=team.id))
    audit("admin.user_role_changed", target_type="user", target_id=user.id,
          details={"before": before, "after": {"role": user.role, "team_id": user.team_id},
                   "via": "team_leads"})
    db.session.commit()
    flash(_("%(name)s now leads %(team)s.", name=user.display_name, team=team.name) if lead
          else _("%(name)s no longer leads %(team)s.", name=user.display_name, team=team.name), "success")
    return redirect_for(url_for("admin.team_detail", team_id=team.id))
