"""Company sign-in around the account: SSO-only sites, break-glass admins, linked identities
(account page and admin page), groups mapped to role and team, configuration checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, User, UserIdentity, UserSession
from app.models.base import utcnow
from app.oidc_config import load_oidc_settings, oidc_problems
from tests.conftest import PASSWORD
from tests.oidc_support import provider_settings, running_provider, sign_in_via_provider


@pytest.fixture(scope="module")
def provider():
    with running_provider() as running:
        yield running


@pytest.fixture
def config_overrides(provider) -> dict:
    return {"OIDC_PROVIDERS": [provider_settings(provider.url)],
            "OIDC_ALLOWED_DOMAINS": ["corp.example"]}


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return list(rows)


def identity_count(app, user_id: int) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(UserIdentity)
                                 .where(UserIdentity.user_id == user_id))


def link(provider, client, sub: str, email: str) -> None:
    provider.set_user(sub, email=email, email_verified=True)
    assert sign_in_via_provider(client, sub).status_code == 302
    client.post_form("/auth/logout")


# --- PASSWORD_LOGIN=false ------------------------------------------------------------------


class TestSsoOnly:
    @pytest.fixture
    def config_overrides(self, provider) -> dict:
        return {"OIDC_PROVIDERS": [provider_settings(provider.url)],
                "OIDC_ALLOWED_DOMAINS": ["corp.example"], "PASSWORD_LOGIN": False}

    def test_it_hides_the_password_form(self, client):
        body = client.get("/auth/login").get_data(as_text=True)
        assert "Sign in with Corp SSO" in body and 'name="password"' not in body

    def test_it_refuses_a_members_password(self, app, client, auth, actors):
        response = auth.login(actors.member)
        assert response.status_code == 401
        assert client.get("/log").status_code == 302
        assert events(app, "auth.login_failed")[-1].details["reason"] == "password_login_disabled"

    def test_a_break_glass_admin_signs_in_with_a_password(self, client, actors):
        body = client.get("/auth/login?password=1").get_data(as_text=True)
        assert 'name="password"' in body and "password=1" in body
        response = client.post_form("/auth/login?password=1",
                                    {"email": actors.admin.email, "password": PASSWORD})
        assert response.status_code == 302
        assert client.get("/admin/users").status_code == 200

    def test_company_sign_in_still_works(self, client, provider):
        provider.set_user("sso-only", email="sso@corp.example", email_verified=True)
        assert sign_in_via_provider(client, "sso-only").status_code == 302
        assert client.get("/log").status_code == 200


# --- the account page ----------------------------------------------------------------------


def test_the_account_page_lists_linked_identities(app, client, auth, provider, actors):
    link(provider, client, "member-acct", actors.member.email)
    auth.login_as(actors.member)
    body = client.get("/account/identities").get_data(as_text=True)
    assert "Corp SSO" in body and actors.member.email in body and "Unlink" in body


def test_a_user_with_a_password_unlinks_an_identity(app, client, auth, provider, actors):
    link(provider, client, "member-unlink", actors.member.email)
    auth.login_as(actors.member)
    with app.app_context():
        identity_id = UserIdentity.for_user(actors.member.id)[0].id
    response = client.post_form(f"/account/identities/{identity_id}/unlink")
    assert response.status_code == 302
    assert identity_count(app, actors.member.id) == 0
    [event] = events(app, "auth.oidc_unlinked")
    assert event.actor_id == actors.member.id and event.details["by_admin"] is False


def test_the_last_way_in_cannot_be_unlinked(app, client, provider):
    provider.set_user("only-way", email="only@corp.example", email_verified=True)
    sign_in_via_provider(client, "only-way")
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "only@corp.example"))
        identity_id, user_id = UserIdentity.for_user(user.id)[0].id, user.id
    response = client.post_form(f"/account/identities/{identity_id}/unlink", follow_redirects=True)
    assert "only way to sign in" in response.get_data(as_text=True)
    assert identity_count(app, user_id) == 1


def test_someone_elses_identity_is_404(app, client, auth, provider, actors):
    link(provider, client, "teammate-sub", actors.teammate.email)
    with app.app_context():
        identity_id = UserIdentity.for_user(actors.teammate.id)[0].id
    auth.login_as(actors.member)
    assert client.post_form(f"/account/identities/{identity_id}/unlink").status_code == 404
    assert identity_count(app, actors.teammate.id) == 1


def test_sessions_page_says_how_each_session_signed_in(client, provider):
    provider.set_user("sessions", email="sessions@corp.example", email_verified=True)
    sign_in_via_provider(client, "sessions")
    assert "with Corp SSO" in client.get("/account/sessions").get_data(as_text=True)


# --- the admin user page -------------------------------------------------------------------


def test_an_admin_sees_and_unlinks_an_identity(app, client, auth, provider, actors):
    link(provider, client, "admin-view", actors.member.email)
    auth.login_as(actors.admin)
    page = client.get(f"/admin/users/{actors.member.id}").get_data(as_text=True)
    assert "admin-view" in page and provider.url in page
    with app.app_context():
        identity_id = UserIdentity.for_user(actors.member.id)[0].id
    response = client.post_form(f"/admin/users/{actors.member.id}/identities/{identity_id}/unlink")
    assert response.status_code == 302
    assert identity_count(app, actors.member.id) == 0
    [event] = events(app, "auth.oidc_unlinked")
    assert event.actor_id == actors.admin.id and event.details["by_admin"] is True


def test_unlinking_as_admin_asks_for_the_password_after_a_while(app, client, auth, provider, actors):
    link(provider, client, "admin-reauth", actors.member.email)
    auth.login_as(actors.admin)
    with app.app_context():
        db.session.execute(sa.update(UserSession).where(UserSession.user_id == actors.admin.id)
                           .values(authenticated_at=utcnow() - timedelta(hours=1)))
        db.session.commit()
        identity_id = UserIdentity.for_user(actors.member.id)[0].id
    url = f"/admin/users/{actors.member.id}/identities/{identity_id}/unlink"
    response = client.post_form(url)
    assert response.status_code == 200 and "reauth_password" in response.get_data(as_text=True)
    assert identity_count(app, actors.member.id) == 1
    response = client.post_form(url, {"reauth_password": PASSWORD})
    assert response.status_code == 302
    assert identity_count(app, actors.member.id) == 0


def test_a_non_admin_cannot_unlink_anothers_identity(app, client, auth, provider, actors):
    link(provider, client, "lead-try", actors.member.email)
    with app.app_context():
        identity_id = UserIdentity.for_user(actors.member.id)[0].id
    auth.login_as(actors.lead)
    url = f"/admin/users/{actors.member.id}/identities/{identity_id}/unlink"
    assert client.post_form(url).status_code == 404
    assert identity_count(app, actors.member.id) == 1


# --- groups → role and team ----------------------------------------------------------------


class TestGroupMapping:
    @pytest.fixture
    def config_overrides(self, provider) -> dict:
        return {"OIDC_PROVIDERS": [provider_settings(
                    provider.url, roles_claim="groups",
                    role_map={"wl-admins": "admin", "wl-leads": "lead"},
                    team_map={"payments-eng": "Payments"})],
                "OIDC_ALLOWED_DOMAINS": ["corp.example"]}

    def test_groups_set_role_and_team_at_each_sign_in(self, app, client, provider, actors):
        provider.set_user("grouped", email="grouped@corp.example", email_verified=True,
                          groups=["wl-leads", "payments-eng", "unrelated"])
        assert sign_in_via_provider(client, "grouped").status_code == 302
        with app.app_context():
            user = db.session.scalar(sa.select(User).where(User.email == "grouped@corp.example"))
            assert (user.role, user.team.name) == ("lead", "Payments")
        [applied] = events(app, "auth.oidc_groups_applied")
        assert applied.details["changes"]["role"] == ["member", "lead"]
        client.post_form("/auth/logout")
        # Out of the leads group at the provider: a member again at the next sign-in.
        provider.set_user("grouped", email="grouped@corp.example", email_verified=True,
                          groups=["payments-eng"])
        sign_in_via_provider(client, "grouped")
        with app.app_context():
            user = db.session.scalar(sa.select(User).where(User.email == "grouped@corp.example"))
            assert (user.role, user.team.name) == ("member", "Payments")
        assert events(app, "auth.oidc_groups_applied")[-1].details["changes"] == {"role": ["lead", "member"]}

    def test_a_missing_groups_claim_changes_nothing(self, app, client, provider, actors):
        provider.set_user("lead-sub", email=actors.lead.email, email_verified=True)
        assert sign_in_via_provider(client, "lead-sub").status_code == 302
        with app.app_context():
            assert db.session.get(User, actors.lead.id).role == "lead"
        assert events(app, "auth.oidc_groups_applied") == []

    def test_the_last_admin_keeps_the_role(self, app, client, provider, actors):
        provider.set_user("admin-sub", email=actors.admin.email, email_verified=True, groups=[])
        sign_in_via_provider(client, "admin-sub")
        with app.app_context():
            assert db.session.get(User, actors.admin.id).role == "admin"


# --- configuration -------------------------------------------------------------------------


def _env(monkeypatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_providers_are_read_from_the_environment(monkeypatch):
    _env(monkeypatch, OIDC_PROVIDERS="google, Corp", OIDC_GOOGLE_ISSUER="https://accounts.google.com/",
         OIDC_GOOGLE_CLIENT_ID="id", OIDC_GOOGLE_CLIENT_SECRET="s", OIDC_CORP_ISSUER="https://sso.corp",
         OIDC_CORP_CLIENT_ID="wl", OIDC_CORP_CLIENT_SECRET="t", OIDC_CORP_LABEL="Corp SSO",
         OIDC_CORP_SCOPES="email groups", OIDC_ALLOWED_DOMAINS="corp.example, @Example.org",
         OIDC_CORP_ROLES_CLAIM="groups", OIDC_CORP_ROLE_MAP="wl-admins:admin")
    settings = load_oidc_settings()
    google, corp = settings["OIDC_PROVIDERS"]
    assert (google["name"], google["issuer"], google["label"]) == ("google", "https://accounts.google.com",
                                                                   "Google")
    assert corp["label"] == "Corp SSO" and corp["scopes"] == "openid email groups"
    assert corp["role_map"] == {"wl-admins": "admin"}
    assert settings["OIDC_ALLOWED_DOMAINS"] == ["corp.example", "example.org"]
    assert settings["OIDC_LINK_BY_EMAIL"] is True and settings["PASSWORD_LOGIN"] is True


def test_config_problems_are_named(monkeypatch):
    _env(monkeypatch, OIDC_PROVIDERS="corp", OIDC_CORP_ISSUER="http://sso.corp", OIDC_CORP_CLIENT_ID="wl",
         OIDC_CORP_ROLE_MAP="x:boss")
    settings = load_oidc_settings() | {"APP_ENV": "production"}
    problems = "\n".join(oidc_problems(settings))
    assert "OIDC_CORP_ISSUER must be https in production" in problems
    assert "OIDC_CORP_CLIENT_SECRET is not set" in problems
    assert "OIDC_CORP_ROLE_MAP maps 'x' to 'boss'" in problems
    assert oidc_problems(settings | {"APP_ENV": "development"}) != []  # the secret is still missing
    assert not any("https" in p for p in oidc_problems(settings | {"APP_ENV": "development"}))


def test_flask_config_check_reports_and_masks_providers(monkeypatch, tmp_path):
    from app.services.ops.config_check import check_configuration, describe

    _env(monkeypatch, APP_ENV="development", OIDC_PROVIDERS="corp", OIDC_CORP_ISSUER="https://sso.corp",
         OIDC_CORP_CLIENT_ID="wl", OIDC_CORP_CLIENT_SECRET="very-secret-value")
    report = check_configuration(str(tmp_path), connect=False)
    assert report.ok, report.problems
    shown = dict(describe(report))
    assert shown["OIDC_CORP_CLIENT_SECRET"] == "****** (17 characters)"
    assert "very-secret-value" not in repr(describe(report))
    monkeypatch.delenv("OIDC_CORP_CLIENT_SECRET")
    report = check_configuration(str(tmp_path), connect=False)
    assert "OIDC_CORP_CLIENT_SECRET is not set." in report.problems


def test_admin_system_page_masks_the_client_secret(client, auth, actors, provider):
    auth.login_as(actors.admin)
    body = client.get("/admin/system").get_data(as_text=True)
    assert "OIDC_CORP_CLIENT_SECRET" in body and "provider-secret-for-tests" not in body
    assert provider.url in body


def test_deactivation_ends_a_company_sign_in_session_at_once(app, client, provider):
    provider.set_user("to-deactivate", email="off@corp.example", email_verified=True)
    sign_in_via_provider(client, "to-deactivate")
    assert client.get("/log").status_code == 200
    with app.app_context():
        db.session.execute(sa.update(User).where(User.email == "off@corp.example").values(is_active=False))
        db.session.commit()
    assert client.get("/log").status_code == 302
