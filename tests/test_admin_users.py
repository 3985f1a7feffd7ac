"""/admin/users: search, create, invite, role and team changes, deactivation and the guard rails."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Invite, Role, User, UserSession
from app.models.base import utcnow
from app.models.invite import hash_invite_token
from tests.conftest import PASSWORD, Actors, Client, make_user
from tests.log_support import audit_events, count_statements
from tests.test_admin_access import backdate_sign_in, make_invite, signed_in, team_id

LINK = re.compile(r'<textarea id="invite-link"[^>]*>([^<]+)</textarea>')


def load_user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        db.session.expunge(user)
        return user


def live_sessions(app: Flask, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(UserSession)
            .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
        )


def flashes(client: Client, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client.get(response.headers["Location"]).get_data(as_text=True)


# --- list, search, filters -----------------------------------------------------------


def test_it_finds_users_by_email_or_name(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/users?q=MINA").get_data(as_text=True)
    assert "member@example.com" in html
    assert "teammate@example.com" not in html
    html = admin.get("/admin/users?q=outsider@").get_data(as_text=True)
    assert "outsider@example.com" in html and "member@example.com" not in html
    # LIKE wildcards typed by the admin are taken literally.
    assert "No users match" in admin.get("/admin/users?q=%25").get_data(as_text=True)
    assert admin.get("/admin/users?q=%00mina").status_code == 200


def test_it_filters_by_role_team_and_status(app: Flask, actors: Actors) -> None:
    with app.app_context():
        user = db.session.get(User, actors.teammate.id)
        user.is_active = False
        db.session.commit()
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/users?role=lead").get_data(as_text=True)
    assert "lead@example.com" in html and "member@example.com" not in html
    html = admin.get(f"/admin/users?team={team_id(app, 'Growth')}").get_data(as_text=True)
    assert "outsider@example.com" in html and "member@example.com" not in html
    html = admin.get("/admin/users?team=none").get_data(as_text=True)
    assert "admin@example.com" in html and "member@example.com" not in html
    html = admin.get("/admin/users?active=no").get_data(as_text=True)
    assert "teammate@example.com" in html and "member@example.com" not in html
    html = admin.get("/admin/users?active=yes&team=" + str(team_id(app, "Payments"))).get_data(as_text=True)
    assert "member@example.com" in html and "teammate@example.com" not in html


@pytest.mark.parametrize("team", ["%C2%B2", "99999999999999999999", "-1", "x"])
def test_a_strange_team_filter_is_ignored(app: Flask, actors: Actors, team: str) -> None:
    admin = signed_in(app, actors.admin)
    response = admin.get(f"/admin/users?team={team}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "member@example.com" in html and "outsider@example.com" in html


def _users(app: Flask, count: int) -> None:
    with app.app_context():
        team = db.session.scalar(sa.select(sa.text("id")).select_from(sa.table("teams")).limit(1))
        for i in range(count):
            user = make_user(f"bulk{i:03d}@example.com", team=None)
            user.team_id = team
        db.session.commit()
        for user in db.session.scalars(sa.select(User).where(User.email.like("bulk%")).limit(3)):
            UserSession.start(user, "127.0.0.1", "test")
        db.session.commit()


@pytest.mark.parametrize("path", ["/admin/users", "/admin/users?q=bulk&active=yes"])
def test_it_lists_users_in_a_constant_number_of_queries(app: Flask, actors: Actors, path: str) -> None:
    admin = signed_in(app, actors.admin)
    _users(app, 5)
    with count_statements(app) as few:
        assert admin.get(path).status_code == 200
    _users_more = 45
    with app.app_context():
        for i in range(_users_more):
            make_user(f"more{i:03d}@example.com")
        db.session.commit()
    with count_statements(app) as many:
        html = admin.get(path).get_data(as_text=True)
    assert many.count == few.count, many.statements
    assert 'rel="next"' in html or "bulk" in path


def test_it_pages_the_user_list(app: Flask, actors: Actors) -> None:
    _users(app, 30)
    admin = signed_in(app, actors.admin)
    first = admin.get("/admin/users?q=bulk").get_data(as_text=True)
    second = admin.get("/admin/users?q=bulk&page=2").get_data(as_text=True)
    assert "bulk000@" in first and "bulk024@" in first and "bulk025@" not in first
    assert "bulk025@" in second and "bulk029@" in second and "bulk000@" not in second
    assert 'href="/admin/users?q=bulk&amp;page=2"' in first


# --- creating and inviting -----------------------------------------------------------


def test_it_creates_a_user_and_shows_the_password_once(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    payments = team_id(app, "Payments")
    response = admin.post_form("/admin/users/new", {"email": "New.Person@Example.com", "display_name": "Nia",
                                                     "role": "lead", "team": str(payments)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="new-password" type="text" value="([^"]+)"', response.get_data(as_text=True))[1]
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new.person@example.com"))
        assert (user.role, user.team_id, user.display_name) == ("lead", payments, "Nia")
        assert user.check_password(password)
    (event,) = audit_events(app, "admin.user_created")
    assert event.actor_email == "admin@example.com"
    assert event.details["after"]["role"] == "lead" and event.details["before"] is None
    assert password not in str(event.details)

    again = admin.post_form("/admin/users/new",
                            {"email": "new.person@example.com", "role": "member", "team": ""})
    assert again.status_code == 422
    assert "already exists" in again.get_data(as_text=True)


def _invite(app: Flask, admin: Client, email: str = "invitee@example.com", role: str = "member",
            team: str = "") -> str:
    response = admin.post_form("/admin/users/invite", {"email": email, "role": role, "team": team,
                                                       "display_name": "Ivy"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Cache-Control"] == "no-store"
    return LINK.search(response.get_data(as_text=True))[1]


def test_an_invite_link_works_once(app: Flask, actors: Actors, client: Client) -> None:
    admin = signed_in(app, actors.admin)
    growth = team_id(app, "Growth")
    link = _invite(app, admin, role="lead", team=str(growth))
    path = link.split("localhost", 1)[1]
    token = path.rsplit("/", 1)[1]
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite).where(Invite.email == "invitee@example.com"))
        # Only the hash is kept.
        assert invite.token_hash == hash_invite_token(token) and token not in invite.token_hash

    page = client.get(path)
    assert page.status_code == 200
    assert "invitee@example.com" in page.get_data(as_text=True)
    new_password = "a brand new password"
    form = {"display_name": "Ivy Invitee", "password": new_password, "confirm": new_password}
    mismatch = client.post_form(path, {**form, "confirm": "something else entirely"})
    assert mismatch.status_code == 422
    done = client.post_form(path, form)
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "invitee@example.com"))
        assert (user.role, user.team_id, user.display_name) == ("lead", growth, "Ivy Invitee")
    signed = client.post_form("/auth/login", {"email": "invitee@example.com", "password": new_password})
    assert signed.status_code == 302
    client.post_form("/auth/logout")

    # The same link a second time: gone.
    assert client.get(path).status_code == 404
    other = "another password!!"
    again = client.post_form(path, {**form, "password": other, "confirm": other})
    assert again.status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(User).where(User.email == "invitee@example.com")).check_password(
            "a brand new password")
    assert audit_events(app, "auth.invite_accepted")[0].details["after"]["email"] == "invitee@example.com"


def test_an_expired_or_revoked_invite_does_not_work(app: Flask, actors: Actors, client: Client) -> None:
    _id, expired = make_invite(app, "late@example.com")
    with app.app_context():
        invite = db.session.get(Invite, _id)
        invite.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert client.get(f"/auth/invite/{expired}").status_code == 404
    form = {"display_name": "Late", "password": "a brand new password", "confirm": "a brand new password"}
    assert client.post_form(f"/auth/invite/{expired}", form).status_code == 404

    revoked_id, revoked = make_invite(app, "revoked@example.com")
    admin = signed_in(app, actors.admin)
    assert "revoked@example.com" in admin.get("/admin/users").get_data(as_text=True)
    assert admin.post_form(f"/admin/invites/{revoked_id}/revoke").status_code == 302
    assert client.get(f"/auth/invite/{revoked}").status_code == 404
    assert f'id="invite-{revoked_id}"' not in admin.get("/admin/users").get_data(as_text=True)
    assert audit_events(app, "admin.invite_revoked")[0].target_id == str(revoked_id)
    assert client.get("/auth/invite/not-a-token").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id)).where(
            User.email.in_(["late@example.com", "revoked@example.com"]))) == 0


def test_an_invite_lasts_invite_ttl_hours(app: Flask, actors: Actors) -> None:
    app.config["INVITE_TTL_HOURS"] = 5
    admin = signed_in(app, actors.admin)
    _invite(app, admin)
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite))
        left = invite.expires_at - utcnow()
        assert timedelta(hours=4, minutes=59) < left <= timedelta(hours=5)


def test_it_will_not_invite_an_existing_user(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    response = admin.post_form("/admin/users/invite",
                               {"email": "MEMBER@example.com", "role": "member", "team": ""})
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


# --- changes ---------------------------------------------------------------------------


def test_it_changes_role_and_team_and_audits_before_and_after(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    growth = team_id(app, "Growth")
    assert admin.post_form(f"/admin/users/{actors.member.id}/role", {"role": "lead"}).status_code == 302
    assert admin.post_form(f"/admin/users/{actors.member.id}/team", {"team": str(growth)}).status_code == 302
    user = load_user(app, actors.member.id)
    assert (user.role, user.team_id) == ("lead", growth)
    (role_event,) = audit_events(app, "admin.user_role_changed")
    assert role_event.details["before"]["role"] == "member"
    assert role_event.details["after"]["role"] == "lead"
    (team_event,) = audit_events(app, "admin.user_team_changed")
    assert team_event.details["after"]["team_id"] == growth
    assert admin.post_form(f"/admin/users/{actors.member.id}/team", {"team": "none"}).status_code == 302
    assert load_user(app, actors.member.id).team_id is None
    assert admin.post_form(f"/admin/users/{actors.member.id}/team", {"team": "99999"}).status_code == 404


def test_deactivating_signs_the_user_out_at_once(app: Flask, actors: Actors) -> None:
    member = signed_in(app, actors.member)
    assert member.get("/log").status_code == 200
    admin = signed_in(app, actors.admin)
    page = flashes(admin, admin.post_form(f"/admin/users/{actors.member.id}/deactivate"))
    assert "deactivated" in page
    response = member.get("/log")
    assert response.status_code == 302 and response.headers["Location"].startswith("/auth/login")
    assert live_sessions(app, actors.member.id) == 0
    (event,) = audit_events(app, "admin.user_deactivated")
    assert event.details["before"]["is_active"] is True and event.details["after"]["is_active"] is False
    assert event.details["sessions_ended"] == 1
    # They cannot sign in again until reactivated.
    credentials = {"email": "member@example.com", "password": PASSWORD}
    assert member.post_form("/auth/login", credentials).status_code == 401
    assert admin.post_form(f"/admin/users/{actors.member.id}/reactivate").status_code == 302
    assert member.post_form("/auth/login", credentials).status_code == 302


def test_it_ends_all_sessions_of_a_user(app: Flask, actors: Actors) -> None:
    one, two = signed_in(app, actors.lead), signed_in(app, actors.lead)
    admin = signed_in(app, actors.admin)
    assert admin.post_form(f"/admin/users/{actors.lead.id}/end-sessions").status_code == 302
    assert one.get("/log").status_code == 302 and two.get("/log").status_code == 302
    assert load_user(app, actors.lead.id).is_active
    assert audit_events(app, "admin.user_sessions_ended")[0].details["sessions_ended"] == 2


def test_it_unlocks_a_locked_account(app: Flask, actors: Actors) -> None:
    with app.app_context():
        user = db.session.get(User, actors.member.id)
        user.failed_login_count = 7
        user.locked_until = utcnow() + timedelta(hours=1)
        db.session.commit()
    admin = signed_in(app, actors.admin)
    assert "Locked" in admin.get(f"/admin/users/{actors.member.id}").get_data(as_text=True)
    assert admin.post_form(f"/admin/users/{actors.member.id}/unlock").status_code == 302
    user = load_user(app, actors.member.id)
    assert user.locked_until is None and user.failed_login_count == 0
    assert audit_events(app, "admin.user_unlocked")[0].details["before"]["locked_until"] is not None


# --- the last admin ---------------------------------------------------------------------


def test_the_last_admin_cannot_be_demoted_or_deactivated(app: Flask, actors: Actors) -> None:
    with app.app_context():
        second = make_user("second@example.com", Role.ADMIN)
        db.session.commit()
        second_id = second.id
    admin = signed_in(app, actors.admin)
    # Demoting one of two admins is fine...
    assert admin.post_form(f"/admin/users/{second_id}/role", {"role": "member"}).status_code == 302
    assert load_user(app, second_id).role == "member"
    # ...but not the last one, even yourself.
    page = flashes(admin, admin.post_form(f"/admin/users/{actors.admin.id}/role", {"role": "member"}))
    assert "last active admin" in page
    assert load_user(app, actors.admin.id).role == "admin"
    assert audit_events(app, "admin.user_role_changed")[-1].target_id == str(second_id)


def test_an_admin_cannot_deactivate_the_last_other_admin_or_themselves(app: Flask, actors: Actors) -> None:
    with app.app_context():
        other = make_user("other-admin@example.com", Role.ADMIN)
        db.session.commit()
        other_id = other.id
    admin = signed_in(app, actors.admin)
    page = flashes(admin, admin.post_form(f"/admin/users/{actors.admin.id}/deactivate"))
    assert "cannot deactivate your own account" in page
    # With the other admin deactivated, the remaining one is the last.
    assert admin.post_form(f"/admin/users/{other_id}/deactivate").status_code == 302
    assert not load_user(app, other_id).is_active
    other_client = signed_in(app, actors.admin)
    response = other_client.post_form(f"/admin/users/{actors.admin.id}/role", {"role": "lead"})
    page = flashes(other_client, response)
    assert "last active admin" in page
    assert load_user(app, actors.admin.id).is_active and load_user(app, actors.admin.id).role == "admin"


# --- re-authentication -----------------------------------------------------------------


def test_a_destructive_action_asks_for_the_password_when_the_sign_in_is_old(app: Flask,
                                                                             actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin, minutes=app.config["ADMIN_REAUTH_MINUTES"] + 1)
    url = f"/admin/users/{actors.member.id}/role"

    response = admin.post_form(url, {"role": "lead"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Confirm your password" in html
    assert f'action="{url}"' in html and 'name="role" value="lead"' in html
    assert load_user(app, actors.member.id).role == "member"

    wrong = admin.post_form(url, {"role": "lead", "reauth_password": "not it"})
    assert wrong.status_code == 422 and "not correct" in wrong.get_data(as_text=True)
    assert load_user(app, actors.member.id).role == "member"
    assert audit_events(app, "admin.reauth_failed")

    done = admin.post_form(url, {"role": "lead", "reauth_password": PASSWORD})
    assert done.status_code == 302
    assert load_user(app, actors.member.id).role == "lead"
    assert audit_events(app, "admin.reauthenticated")
    # Recent now: the next guarded action goes straight through.
    assert admin.post_form(f"/admin/users/{actors.member.id}/deactivate").status_code == 302
    assert not load_user(app, actors.member.id).is_active


def test_a_json_client_is_told_to_reauthenticate(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin)
    response = admin.post_form(f"/admin/users/{actors.member.id}/deactivate",
                               headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "reauthentication_required"
    assert load_user(app, actors.member.id).is_active


@pytest.mark.parametrize("path,data", [
    ("/admin/users/{member}/deactivate", {}),
    ("/admin/users/{member}/end-sessions", {}),
    ("/admin/users/new", {"email": "x@example.com", "role": "member", "team": ""}),
    ("/admin/users/invite", {"email": "x@example.com", "role": "member", "team": ""}),
])
def test_guarded_actions_need_a_recent_sign_in(app: Flask, actors: Actors, path: str, data: dict) -> None:
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin)
    response = admin.post_form(path.format(member=actors.member.id), data)
    assert "Confirm your password" in response.get_data(as_text=True)
    assert live_sessions(app, actors.admin.id) == 1


def test_unlock_and_team_moves_do_not_ask_for_the_password(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin)
    assert admin.post_form(f"/admin/users/{actors.member.id}/unlock").status_code == 302
    assert admin.post_form(f"/admin/users/{actors.member.id}/team", {"team": "none"}).status_code == 302


@pytest.mark.parametrize("config_overrides", [{"LOGIN_RATE_LIMIT": "2/minute"}])
def test_guessing_the_password_again_is_rate_limited(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin)
    url = f"/admin/users/{actors.member.id}/deactivate"
    assert admin.post_form(url, {"reauth_password": "guess one"}).status_code == 422
    assert admin.post_form(url, {"reauth_password": "guess two"}).status_code == 422
    assert admin.post_form(url, {"reauth_password": PASSWORD}).status_code == 429
    assert load_user(app, actors.member.id).is_active
    # Showing the form is not an attempt.
    assert admin.post_form(url).status_code == 200


def test_ending_your_own_sessions_signs_you_out(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    response = admin.post_form(f"/admin/users/{actors.admin.id}/end-sessions")
    assert response.status_code == 302 and response.headers["Location"] == "/auth/login"
    assert admin.get("/admin").status_code == 302
    assert live_sessions(app, actors.admin.id) == 0


def test_an_htmx_caller_is_sent_back_to_its_page_to_confirm(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    backdate_sign_in(app, actors.admin)
    response = admin.post_form(f"/admin/users/{actors.member.id}/deactivate", htmx=True,
                               headers={"HX-Current-URL": f"http://localhost/admin/users/{actors.member.id}"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/admin/reauth?next=/admin/users/{actors.member.id}"
    assert load_user(app, actors.member.id).is_active

    page = admin.get(response.headers["HX-Redirect"])
    assert page.status_code == 200 and "Confirm your password" in page.get_data(as_text=True)
    wrong = admin.post_form("/admin/reauth", {"next": "/admin/users", "reauth_password": "nope"})
    assert wrong.status_code == 422
    done = admin.post_form("/admin/reauth", {"next": f"/admin/users/{actors.member.id}",
                                             "reauth_password": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == f"/admin/users/{actors.member.id}"
    # Confirmed: the htmx action now goes through.
    again = admin.post_form(f"/admin/users/{actors.member.id}/deactivate", htmx=True)
    assert again.headers["HX-Redirect"] == f"/admin/users/{actors.member.id}"
    assert not load_user(app, actors.member.id).is_active


def test_the_reauth_page_only_goes_back_to_this_site(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    done = admin.post_form("/admin/reauth", {"next": "https://evil.example/", "reauth_password": PASSWORD})
    assert done.status_code == 302 and done.headers["Location"] == "/admin"
