"""Server-side sessions: the matrix of ways a session ends, and /account/sessions."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, User, UserSession
from tests.conftest import PASSWORD, AuthActions, Client

COOKIE = "worklog_session"


@pytest.fixture
def laptop(client: Client) -> Client:
    return client


@pytest.fixture
def phone(app) -> Client:
    app.test_client_class = Client
    return app.test_client()  # type: ignore[return-value]


def sign_in(client: Client, email: str, device: str) -> None:
    before = len(session_ids(client.application, email))
    response = AuthActions(client).login(email, headers={"User-Agent": device})
    assert response.status_code == 302
    # A client that is already signed in is only redirected; make sure this one signed in.
    assert len(session_ids(client.application, email)) == before + 1


def session_ids(app, email: str) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(UserSession.id).join(UserSession.user)
            .where(User.email == email).order_by(UserSession.id)
        ))


def load_session(app, session_id: int) -> UserSession:
    with app.app_context():
        record = db.session.get(UserSession, session_id)
        db.session.expunge_all()
        return record


def audit_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(events)


def assert_signed_in(client: Client) -> None:
    response = client.get("/log")
    assert response.status_code == 200, response.headers.get("Location")


def assert_signed_out(client: Client) -> None:
    """What a browser and htmx see with a cookie whose session has ended."""
    page = client.get("/account/sessions")
    assert page.status_code == 302
    location = urlsplit(page.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == ["/account/sessions"]

    fragment = client.get(
        "/account/sessions",
        headers={"HX-Request": "true", "HX-Current-URL": "http://localhost/account?tab=1"},
    )
    assert fragment.status_code == 200
    assert urlsplit(fragment.headers["HX-Redirect"]).path == "/auth/login"
    assert parse_qs(urlsplit(fragment.headers["HX-Redirect"]).query)["next"] == ["/account?tab=1"]
    # The sign-in page must never be swapped into the fragment's target.
    assert fragment.get_data(as_text=True) == ""

    mutation = client.post_form("/account/sessions/end-others", htmx=True)
    assert mutation.status_code == 200
    assert urlsplit(mutation.headers["HX-Redirect"]).path == "/auth/login"


# --- the session matrix ------------------------------------------------------------------


def _logout(app, laptop, phone, email):
    stolen = laptop.get_cookie(COOKIE).value
    AuthActions(laptop).logout()
    # Replaying the cookie from before sign-out must not bring the session back.
    laptop.set_cookie(COOKIE, stolen)
    return laptop, phone


def _password_changed_on_phone(app, laptop, phone, email):
    response = phone.post_form(
        "/auth/password",
        {"current_password": PASSWORD, "new_password": "another long passphrase",
         "confirm": "another long passphrase"},
    )
    assert response.status_code == 302
    return laptop, phone


def _deactivated(app, laptop, phone, email):
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == email).values(is_active=False))
        db.session.commit()
    return laptop, None


def _ended_from_sessions_page(app, laptop, phone, email):
    laptop_session = session_ids(app, email)[0]
    response = phone.post_form(f"/account/sessions/{laptop_session}/end")
    assert response.status_code == 302
    return laptop, phone


def _all_others_ended(app, laptop, phone, email):
    response = phone.post_form("/account/sessions/end-others")
    assert response.status_code == 302
    return laptop, phone


@pytest.mark.parametrize(
    "end",
    [_logout, _password_changed_on_phone, _deactivated, _ended_from_sessions_page,
     _all_others_ended],
    ids=["logout", "password_change", "deactivation", "ended_from_sessions_page",
         "end_all_others"],
)
def test_it_ends_the_session_on_the_very_next_request(
    app, laptop, phone, actors, end: Callable
):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    assert_signed_in(laptop)

    ended, still_in = end(app, laptop, phone, actors.member.email)

    assert_signed_out(ended)
    if still_in is not None:
        assert_signed_in(still_in)


def test_it_ends_every_session_of_a_deactivated_user(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    _deactivated(app, laptop, phone, actors.member.email)
    assert_signed_out(laptop)
    assert_signed_out(phone)


def test_it_keeps_other_users_signed_in_when_one_signs_out(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.teammate.email, "Phone")
    AuthActions(laptop).logout()
    assert_signed_in(phone)


def test_it_reports_how_many_sessions_a_password_change_ended(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    phone.post_form(
        "/auth/password",
        {"current_password": PASSWORD, "new_password": "another long passphrase",
         "confirm": "another long passphrase"},
    )
    page = phone.get("/account/sessions").get_data(as_text=True)
    assert "Password changed. 1 other session(s) were signed out." in page
    laptop_id, phone_id = session_ids(app, actors.member.email)
    assert load_session(app, laptop_id).end_reason == "password_changed"
    assert load_session(app, phone_id).ended_at is None


def test_it_ends_a_session_left_idle_too_long(app, laptop, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    [session_id] = session_ids(app, actors.member.email)
    with app.app_context():
        from datetime import timedelta

        from app.models.base import utcnow

        stale = utcnow() - timedelta(days=app.config["SESSION_IDLE_DAYS"], minutes=1)
        db.session.execute(
            sa.update(UserSession).where(UserSession.id == session_id).values(last_seen_at=stale)
        )
        db.session.commit()
    assert_signed_out(laptop)
    assert load_session(app, session_id).end_reason == "expired"


# --- /account/sessions -------------------------------------------------------------------


def test_it_requires_sign_in_to_see_sessions(client):
    response = client.get("/account/sessions")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"


def test_it_lists_only_your_own_sessions(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop-Firefox")
    sign_in(phone, actors.member.email, "Member-Phone")
    sign_in(app.test_client(), actors.teammate.email, "Teammate-Phone")

    response = laptop.get("/account/sessions")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Laptop-Firefox" in page
    assert "Member-Phone" in page
    assert "Teammate-Phone" not in page
    assert page.count("This session") == 1


def test_it_shows_the_sessions_page_to_htmx_requests_too(laptop, actors):
    sign_in(laptop, actors.member.email, "Laptop-Firefox")
    response = laptop.get("/account/sessions", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Laptop-Firefox" in response.get_data(as_text=True)


def test_it_ends_one_of_your_other_sessions(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    laptop_id, phone_id = session_ids(app, actors.member.email)

    response = phone.post_form(f"/account/sessions/{laptop_id}/end")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions"
    assert "Session ended." in phone.get("/account/sessions").get_data(as_text=True)
    assert load_session(app, laptop_id).end_reason == "ended_by_user"
    assert load_session(app, phone_id).ended_at is None
    [event] = audit_events(app, "session.ended")
    assert event.actor_id == actors.member.id
    assert event.target_id == str(laptop_id)


def test_it_ends_a_session_over_htmx(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    laptop_id, _phone_id = session_ids(app, actors.member.email)
    response = phone.post_form(f"/account/sessions/{laptop_id}/end", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/account/sessions"
    assert load_session(app, laptop_id).ended_at is not None


def test_it_signs_you_out_when_you_end_the_session_you_are_using(app, laptop, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    [session_id] = session_ids(app, actors.member.email)
    response = laptop.post_form(f"/account/sessions/{session_id}/end")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
    assert laptop.get("/log").status_code == 302


def test_it_answers_404_for_someone_elses_session_and_leaves_it_alive(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.teammate.email, "Phone")
    [teammate_session] = session_ids(app, actors.teammate.email)

    response = laptop.post_form(f"/account/sessions/{teammate_session}/end")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    htmx = laptop.post_form(f"/account/sessions/{teammate_session}/end", htmx=True)
    assert htmx.status_code == 404
    assert load_session(app, teammate_session).ended_at is None
    assert_signed_in(phone)
    assert audit_events(app, "session.ended") == []


def test_it_answers_404_for_a_session_that_does_not_exist_or_has_ended(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    laptop_id, phone_id = session_ids(app, actors.member.email)
    assert phone.post_form(f"/account/sessions/{laptop_id}/end").status_code == 302
    assert phone.post_form(f"/account/sessions/{laptop_id}/end").status_code == 404
    assert phone.post_form(f"/account/sessions/{phone_id + 1000}/end").status_code == 404
    assert len(audit_events(app, "session.ended")) == 1


def test_it_ends_all_other_sessions(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    sign_in(app.test_client(), actors.teammate.email, "Teammate")
    laptop_id, phone_id = session_ids(app, actors.member.email)
    [teammate_id] = session_ids(app, actors.teammate.email)

    response = phone.post_form("/account/sessions/end-others")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions"
    assert "1 other session(s) ended." in phone.get("/account/sessions").get_data(as_text=True)
    assert load_session(app, laptop_id).ended_at is not None
    assert load_session(app, phone_id).ended_at is None
    assert load_session(app, teammate_id).ended_at is None
    [event] = audit_events(app, "session.ended_others")
    assert event.actor_id == actors.member.id
    assert event.details == {"sessions_ended": 1}


def test_it_ends_all_other_sessions_over_htmx(app, laptop, phone, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    sign_in(phone, actors.member.email, "Phone")
    response = phone.post_form("/account/sessions/end-others", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/account/sessions"
    assert_signed_out(laptop)


def test_it_does_not_end_sessions_on_get(laptop, actors):
    sign_in(laptop, actors.member.email, "Laptop")
    assert laptop.get("/account/sessions/end-others").status_code == 405
    assert_signed_in(laptop)
