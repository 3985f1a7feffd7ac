"""/admin/teams: create, rename, delete only when empty, choose leads."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Role, Team, User
from app.services.admin.directory import create_invite
from tests.conftest import Actors, make_user
from tests.log_support import audit_events, count_statements
from tests.test_admin_access import backdate_sign_in, signed_in, team_id
from tests.test_admin_users import flashes, load_user


def team_names(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Team.name).order_by(Team.name)))


def test_it_lists_teams_with_members_and_leads(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/teams").get_data(as_text=True)
    payments = html.split(f'id="team-{team_id(app, "Payments")}"', 1)[1].split("</tr>", 1)[0]
    assert ">3</a>" in payments  # member, teammate, lead
    assert f'href="/admin/users/{actors.lead.id}">lead</a>' in payments
    assert "Not empty" in payments


def test_it_creates_renames_and_deletes_an_empty_team(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    assert admin.post_form("/admin/teams", {"name": "  Platform  "}).status_code == 302
    assert "Platform" in team_names(app)
    page = flashes(admin, admin.post_form("/admin/teams", {"name": "platform"}))
    assert "already exists" in page
    assert flashes(admin, admin.post_form("/admin/teams", {"name": " "})).count("1 to 100 characters") == 1

    platform = team_id(app, "Platform")
    assert admin.post_form(f"/admin/teams/{platform}/rename", {"name": "Core"}).status_code == 302
    assert "Core" in team_names(app) and "Platform" not in team_names(app)
    (renamed,) = audit_events(app, "admin.team_renamed")
    assert renamed.details == {"before": {"name": "Platform"}, "after": {"name": "Core"}}
    page = flashes(admin, admin.post_form(f"/admin/teams/{platform}/rename", {"name": "Growth"}))
    assert "already exists" in page

    assert admin.post_form(f"/admin/teams/{platform}/delete").status_code == 302
    assert team_names(app) == ["Growth", "Payments"]
    assert audit_events(app, "admin.team_deleted")[0].details["before"] == {"name": "Core"}
    assert audit_events(app, "admin.team_created")[0].details["after"] == {"name": "Platform"}


def test_a_team_with_people_in_it_is_not_deleted(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    page = flashes(admin, admin.post_form(f"/admin/teams/{team_id(app, 'Growth')}/delete"))
    assert "Only an empty team can be deleted" in page
    assert "Growth" in team_names(app)
    assert load_user(app, actors.outsider.id).team_id == team_id(app, "Growth")


def test_a_team_with_a_pending_invite_is_not_deleted_until_it_is_revoked(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    admin.post_form("/admin/teams", {"name": "Platform"})
    platform = team_id(app, "Platform")
    with app.app_context():
        invite, _token = create_invite("new@example.com", None, "member", db.session.get(Team, platform),
                                       db.session.get(User, actors.admin.id), ttl_hours=72)
        db.session.commit()
        invite_id = invite.id
    page = flashes(admin, admin.post_form(f"/admin/teams/{platform}/delete"))
    assert "revoke its pending invites first" in page
    assert "Platform" in team_names(app)

    assert admin.post_form(f"/admin/invites/{invite_id}/revoke").status_code == 302
    assert admin.post_form(f"/admin/teams/{platform}/delete").status_code == 302
    assert "Platform" not in team_names(app)


def test_deleting_a_team_needs_a_recent_sign_in(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    admin.post_form("/admin/teams", {"name": "Empty"})
    backdate_sign_in(app, actors.admin)
    response = admin.post_form(f"/admin/teams/{team_id(app, 'Empty')}/delete")
    assert "Confirm your password" in response.get_data(as_text=True)
    assert "Empty" in team_names(app)


def test_it_makes_a_member_the_lead_and_back(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    payments = team_id(app, "Payments")
    html = admin.get(f"/admin/teams/{payments}").get_data(as_text=True)
    assert "Make lead" in html and "Remove as lead" in html
    assert admin.post_form(f"/admin/teams/{payments}/leads",
                           {"user_id": actors.member.id, "lead": "1"}).status_code == 302
    assert load_user(app, actors.member.id).role == "lead"
    assert admin.post_form(f"/admin/teams/{payments}/leads",
                           {"user_id": actors.lead.id, "lead": "0"}).status_code == 302
    assert load_user(app, actors.lead.id).role == "member"
    first, second = audit_events(app, "admin.user_role_changed")
    assert first.details["before"]["role"] == "member" and first.details["after"]["role"] == "lead"
    assert second.target_id == str(actors.lead.id)


def test_only_a_member_of_the_team_can_lead_it(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    payments = team_id(app, "Payments")
    page = flashes(admin, admin.post_form(f"/admin/teams/{payments}/leads",
                                          {"user_id": actors.outsider.id, "lead": "1"}))
    assert "Only a member of this team can lead it" in page
    assert load_user(app, actors.outsider.id).role == "member"
    assert admin.post_form(f"/admin/teams/{payments}/leads", {"user_id": "x", "lead": "1"}).status_code == 404


def test_teams_take_the_same_number_of_queries_however_many(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    with count_statements(app) as few:
        admin.get("/admin/teams")
    with app.app_context():
        for i in range(20):
            team = Team(name=f"T{i}")
            db.session.add(team)
            make_user(f"l{i}@example.com", Role.LEAD, team=team)
        db.session.commit()
    with count_statements(app) as many:
        admin.get("/admin/teams")
    assert many.count == few.count
