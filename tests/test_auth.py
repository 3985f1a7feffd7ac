"""Signing in (next, generic failures, audit, lockout, rate limits) and changing a password."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, User, UserSession
from app.models.base import utcnow
from tests.conftest import CSRF_META, PASSWORD, AuthActions

FAILED = "Sign-in failed. Check your email and password."
NEW_PASSWORD = "a brand new passphrase 42"


def audit_events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).all()
        db.session.expunge_all()
        return list(events)


def load_user(app, email: str) -> User:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def update_user(app, email: str, **values) -> None:
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == email).values(**values))
        db.session.commit()


def session_count(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count(UserSession.id))
            .join(UserSession.user)
            .where(User.email == email)
        )


# --- signing in ------------------------------------------------------------------


def test_it_shows_the_sign_in_form(client):
    response = client.get("/auth/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Sign in to Worklog" in page
    assert 'name="password"' in page


def test_it_signs_in_and_lands_on_the_work_log(client, auth, actors):
    response = auth.login(actors.member)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert page.request.path == "/log"
    html = page.get_data(as_text=True)
    assert "Mina Member" in html and "<h1>Work log</h1>" in html


def test_it_treats_the_email_case_insensitively(client, auth, actors):
    response = auth.login("  Member@Example.COM ")
    assert response.status_code == 302
    assert client.get("/log").status_code == 200


def test_it_opens_a_server_side_session_and_audits_the_sign_in(app, client, auth, actors):
    auth.login(actors.member, headers={"User-Agent": "TestBrowser/1.0"})
    with app.app_context():
        record = db.session.scalars(sa.select(UserSession)).one()
        assert record.user_id == actors.member.id
        assert record.ended_at is None
        assert record.user_agent == "TestBrowser/1.0"
        record_id = record.id
    [event] = audit_events(app, "auth.login_succeeded")
    assert event.actor_id == actors.member.id
    assert event.target_id == str(record_id)
    assert event.ip == "127.0.0.1"
    user = load_user(app, actors.member.email)
    assert user.last_login_at is not None


def test_it_does_not_keep_the_cookie_session_of_before_sign_in(client, auth, actors):
    before = client.csrf_token()
    auth.login(actors.member)
    # A fresh cookie session (and CSRF token) after sign-in defeats session fixation.
    assert client.csrf_token() != before


def test_it_redirects_to_a_safe_next_page(client, actors):
    response = client.post_form(
        "/auth/login?next=/account/sessions%3Fa%3D1",
        {"email": actors.member.email, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions?a=1"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "//evil.com/account",
        "https://evil.com",
        "http://localhost.evil.com/",
        "/\\evil.com",
        "\\\\evil.com",
        "\\/evil.com",
        "/\t/evil.com",
        "javascript:alert(1)",
        "evil.com",
    ],
)
def test_it_refuses_an_unsafe_next_page(client, actors, target):
    response = client.post_form(
        "/auth/login", {"email": actors.member.email, "password": PASSWORD},
        query_string={"next": target},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_it_sends_a_signed_in_visitor_on_to_a_safe_next_page_only(client, auth, actors):
    auth.login(actors.member)
    assert client.get("/auth/login?next=/account").headers["Location"] == "/account"
    assert client.get("/auth/login?next=//evil.com").headers["Location"] == "/"


def test_it_signs_in_over_htmx_with_a_client_side_redirect(client, auth, actors):
    response = auth.login(actors.member, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/"


def test_it_refuses_a_form_without_an_email_or_password(client):
    response = client.post_form("/auth/login", {"email": "", "password": ""})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)


# --- failures look alike ----------------------------------------------------------


def _normalised_failure_page(response, email: str) -> str:
    page = response.get_data(as_text=True)
    # CSRF tokens are signed with a timestamp, so they differ between any two responses.
    token = CSRF_META.search(page).group(1).split(".")[0]
    page = re.sub(re.escape(token) + r"\.[\w-]+\.[\w-]+", "TOKEN", page)
    return page.replace(email, "EMAIL")


@pytest.fixture
def failing_sign_ins(app, actors):
    """One failing attempt of each kind, as (label, email, password)."""
    update_user(app, actors.teammate.email, is_active=False)
    update_user(app, actors.outsider.email, locked_until=utcnow() + timedelta(minutes=5))
    return [
        ("unknown_email", "nobody@example.com", PASSWORD),
        ("bad_password", actors.member.email, "not the password"),
        ("inactive", actors.teammate.email, PASSWORD),
        ("locked", actors.outsider.email, PASSWORD),
    ]


def test_it_answers_every_failed_sign_in_the_same_way(app, client, failing_sign_ins):
    pages = []
    for _label, email, password in failing_sign_ins:
        response = client.post_form("/auth/login", {"email": email, "password": password})
        assert response.status_code == 401
        assert FAILED in response.get_data(as_text=True)
        assert "worklog_session" not in str(response.headers.get("HX-Redirect", ""))
        pages.append(_normalised_failure_page(response, email))
    # Nothing in the page tells an unknown email from a known one, nor why it failed.
    assert all(page == pages[0] for page in pages)
    assert client.get("/log").status_code == 302
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 0


def test_it_audits_every_failed_sign_in_with_its_reason(app, client, failing_sign_ins):
    for _label, email, password in failing_sign_ins:
        client.post_form("/auth/login", {"email": email, "password": password})
    events = audit_events(app, "auth.login_failed")
    assert [e.details["reason"] for e in events] == [label for label, _e, _p in failing_sign_ins]
    assert events[0].actor_id is None
    assert all(e.ip == "127.0.0.1" and e.request_id for e in events)


def test_it_does_not_sign_in_a_user_without_a_password(app, client, actors):
    update_user(app, actors.member.email, password_hash=None)
    response = client.post_form("/auth/login", {"email": actors.member.email, "password": ""})
    assert response.status_code == 422
    response = client.post_form("/auth/login", {"email": actors.member.email, "password": "x"})
    assert response.status_code == 401
    assert FAILED in response.get_data(as_text=True)


# --- lockout -------------------------------------------------------------------------


class TestLockout:
    @pytest.fixture
    def config_overrides(self):
        # The rate limit would answer 429 before the lockout shows; lift it here.
        return {
            "LOGIN_RATE_LIMIT": "1000/minute",
            "LOCKOUT_THRESHOLD": 3,
            "LOCKOUT_BASE_SECONDS": 60,
            "LOCKOUT_MAX_SECONDS": 3600,
        }

    def fail(self, client, email: str, times: int = 1) -> None:
        for _ in range(times):
            response = client.post_form("/auth/login", {"email": email, "password": "wrong guess"})
            assert response.status_code == 401

    def test_it_locks_the_account_after_the_threshold(self, app, client, auth, actors):
        self.fail(client, actors.member.email, 2)
        assert load_user(app, actors.member.email).locked_until is None
        self.fail(client, actors.member.email)
        user = load_user(app, actors.member.email)
        assert user.failed_login_count == 3
        assert timedelta(seconds=55) < user.locked_until - utcnow() <= timedelta(seconds=60)
        [event] = audit_events(app, "auth.locked")
        assert event.actor_id == actors.member.id
        assert event.details["failed_attempts"] == 3

    def test_it_refuses_the_correct_password_while_locked(self, app, client, auth, actors):
        self.fail(client, actors.member.email, 3)
        response = auth.login(actors.member)
        assert response.status_code == 401
        assert FAILED in response.get_data(as_text=True)
        assert client.get("/log").status_code == 302
        assert audit_events(app, "auth.login_failed")[-1].details["reason"] == "locked"
        assert session_count(app, actors.member.email) == 0

    def test_it_lets_the_user_in_once_the_lock_has_expired(self, app, client, auth, actors):
        self.fail(client, actors.member.email, 3)
        update_user(app, actors.member.email, locked_until=utcnow() - timedelta(seconds=1))
        response = auth.login(actors.member)
        assert response.status_code == 302
        user = load_user(app, actors.member.email)
        assert user.failed_login_count == 0
        assert user.locked_until is None

    def test_it_doubles_the_wait_for_each_failure_past_the_threshold(self, app, client, actors):
        self.fail(client, actors.member.email, 3)
        update_user(app, actors.member.email, locked_until=utcnow() - timedelta(seconds=1))
        self.fail(client, actors.member.email)
        wait = load_user(app, actors.member.email).locked_until - utcnow()
        assert timedelta(seconds=115) < wait <= timedelta(seconds=120)
        assert len(audit_events(app, "auth.locked")) == 2

    def test_it_caps_the_wait(self, app, client, actors):
        update_user(app, actors.member.email, failed_login_count=30)
        self.fail(client, actors.member.email)
        wait = load_user(app, actors.member.email).locked_until - utcnow()
        assert timedelta(minutes=59) < wait <= timedelta(minutes=60)

    def test_it_does_not_extend_the_lock_with_attempts_made_while_locked(self, app, client, actors):
        self.fail(client, actors.member.email, 3)
        locked_until = load_user(app, actors.member.email).locked_until
        self.fail(client, actors.member.email, 2)
        assert load_user(app, actors.member.email).locked_until == locked_until

    def test_it_forgets_earlier_failures_after_a_sign_in(self, app, client, auth, actors):
        self.fail(client, actors.member.email, 2)
        assert auth.login(actors.member).status_code == 302
        auth.logout()
        self.fail(client, actors.member.email, 2)
        assert load_user(app, actors.member.email).locked_until is None

    def test_it_locks_one_account_without_touching_another(self, app, client, auth, actors):
        self.fail(client, actors.member.email, 3)
        assert auth.login(actors.teammate).status_code == 302


# --- rate limits ------------------------------------------------------------------------


def _attempt(client, email: str, ip: str = "127.0.0.1"):
    return client.post_form(
        "/auth/login", {"email": email, "password": "wrong guess"}, environ_base={"REMOTE_ADDR": ip}
    )


RETRY_MESSAGE = re.compile(r"Too many requests\. Try again in (\d+) seconds\.")


def assert_rate_limited(response) -> None:
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60
    said = RETRY_MESSAGE.search(response.get_data(as_text=True))
    assert said, "the page says when to retry"
    # Flask-Limiter rewrites the header a moment later, so they may differ by a second.
    assert abs(int(said.group(1)) - retry_after) <= 1


def test_it_rate_limits_sign_in_per_ip(client, actors):
    for i in range(5):
        assert _attempt(client, f"guess{i}@example.com").status_code == 401
    assert_rate_limited(_attempt(client, "guess5@example.com"))
    # Another address is not affected.
    assert _attempt(client, "guess6@example.com", ip="10.0.0.9").status_code == 401


@pytest.mark.parametrize("email", ["member@example.com", "nobody@example.com"])
def test_it_rate_limits_sign_in_per_account_from_any_ip(client, actors, email):
    for i in range(5):
        assert _attempt(client, email, ip=f"10.0.1.{i}").status_code == 401
    assert_rate_limited(_attempt(client, email.upper(), ip="10.0.1.99"))
    # Another account from a fresh address is not affected.
    assert _attempt(client, "teammate@example.com", ip="10.0.2.1").status_code == 401


def test_it_counts_successful_sign_ins_against_the_limit_too(client, auth, actors):
    for _ in range(5):
        assert auth.login(actors.member).status_code == 302
        auth.logout()
    assert auth.login(actors.member).status_code == 429


def test_it_does_not_rate_limit_showing_the_form(client):
    for _ in range(8):
        assert client.get("/auth/login").status_code == 200


def test_it_tells_json_clients_when_to_retry(client, actors):
    for i in range(5):
        _attempt(client, f"guess{i}@example.com")
    response = client.post_form(
        "/auth/login", {"email": "x@example.com", "password": "y"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 429
    body = response.get_json()
    assert body["error"] == "rate_limited"
    said = RETRY_MESSAGE.fullmatch(body["message"])
    assert said
    assert abs(int(said.group(1)) - int(response.headers["Retry-After"])) <= 1
    assert body["request_id"] == response.headers["X-Request-ID"]


class TestConfiguredRateLimit:
    @pytest.fixture
    def config_overrides(self):
        return {"LOGIN_RATE_LIMIT": "2/minute"}

    def test_it_uses_login_rate_limit(self, client, actors):
        assert _attempt(client, "a@example.com").status_code == 401
        assert _attempt(client, "b@example.com").status_code == 401
        assert _attempt(client, "c@example.com").status_code == 429


# --- signing out --------------------------------------------------------------------


def test_it_signs_out_and_audits_it(app, client, auth, actors):
    auth.login(actors.member)
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert "You have signed out." in client.get("/auth/login").get_data(as_text=True)
    assert client.get("/log").status_code == 302
    [event] = audit_events(app, "auth.logout")
    assert event.actor_id == actors.member.id
    with app.app_context():
        record = db.session.scalars(sa.select(UserSession)).one()
        assert record.end_reason == "logout"


def test_it_signs_out_over_htmx_with_a_client_side_redirect(client, auth, actors):
    auth.login(actors.member)
    response = client.post_form("/auth/logout", htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/auth/login"


def test_it_does_not_sign_out_on_get(client, auth, actors):
    auth.login(actors.member)
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/log").status_code == 200


# --- changing the password ------------------------------------------------------------


def change_password(client, current=PASSWORD, new=NEW_PASSWORD, confirm=None, **kwargs):
    return client.post_form(
        "/auth/password",
        {"current_password": current, "new_password": new,
         "confirm": new if confirm is None else confirm},
        **kwargs,
    )


def test_it_requires_sign_in_to_change_the_password(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/auth/password"


def test_it_shows_the_password_form(client, auth, actors):
    auth.login(actors.member)
    response = client.get("/auth/password")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Changing your password signs you out everywhere else." in page


def test_it_changes_the_password(app, client, auth, actors):
    auth.login(actors.member)
    response = change_password(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account/sessions"
    page = client.get("/account/sessions").get_data(as_text=True)
    assert "Password changed. 0 other session(s) were signed out." in page
    [event] = audit_events(app, "auth.password_changed")
    assert event.actor_id == actors.member.id
    assert load_user(app, actors.member.email).password_changed_at is not None
    auth.logout()
    assert auth.login(actors.member).status_code == 401
    assert auth.login(actors.member, NEW_PASSWORD).status_code == 302


def test_it_changes_the_password_over_htmx(client, auth, actors):
    auth.login(actors.member)
    response = change_password(client, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/account/sessions"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"current": "not my password"}, "The current password is not correct."),
        ({"confirm": "something else entirely"}, "The two passwords differ."),
        ({"new": "short"}, "Field must be between 10 and 1024 characters long."),
        ({"new": PASSWORD}, "Choose a password different from the current one."),
        ({"current": ""}, "This field is required."),
    ],
)
def test_it_refuses_a_bad_password_change(app, client, auth, actors, fields, message):
    auth.login(actors.member)
    before = load_user(app, actors.member.email).password_hash
    response = change_password(client, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert load_user(app, actors.member.email).password_hash == before
    assert audit_events(app, "auth.password_changed") == []
    assert client.get("/log").status_code == 200


def test_it_rate_limits_guessing_the_current_password(app, client, auth, actors):
    auth.login(actors.member)
    for i in range(5):
        assert change_password(client, current=f"guess number {i}").status_code == 422
    response = change_password(client)
    assert response.status_code == 429
    assert "Too many requests" in response.get_data(as_text=True)
    assert audit_events(app, "auth.password_changed") == []


def test_it_rate_limits_password_changes_per_user(client, auth, actors):
    auth.login(actors.member)
    for i in range(5):
        change_password(client, current=f"guess number {i}")
    other = client.application.test_client()
    AuthActions(other).login(actors.teammate)
    assert change_password(other).status_code == 302


def test_it_sends_an_anonymous_password_change_to_sign_in(client):
    response = change_password(client)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_it_sends_a_signed_in_htmx_request_on_with_hx_redirect(client, auth, actors):
    auth.login(actors.member)
    response = client.get("/auth/login?next=/account", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/account"
