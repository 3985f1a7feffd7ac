"""Company sign-in (OpenID Connect) against a real provider on localhost (oidc-provider-mock)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.metrics import auth_attempts_total
from app.models import AuditEvent, User, UserIdentity, UserSession
from tests.oidc_support import (
    CLIENT_ID,
    authorize_at_provider,
    callback_path,
    provider_settings,
    running_provider,
    sign_in_via_provider,
    start,
)


@pytest.fixture(scope="module")
def provider():
    with running_provider() as running:
        yield running


@pytest.fixture
def config_overrides(provider) -> dict:
    return {
        "OIDC_PROVIDERS": [provider_settings(provider.url)],
        "OIDC_ALLOWED_DOMAINS": ["corp.example"],
        "OIDC_LINK_BY_EMAIL": True,
    }


def events(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).all()
        db.session.expunge_all()
        return list(rows)


def failure_reasons(app) -> list[str]:
    return [e.details["reason"] for e in events(app, "auth.oidc_login_failed")]


def identities(app) -> list[UserIdentity]:
    with app.app_context():
        rows = db.session.scalars(sa.select(UserIdentity).order_by(UserIdentity.id)).all()
        db.session.expunge_all()
        return list(rows)


def user_by_email(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        db.session.expunge_all()
        return user


def attempts(outcome: str) -> float:
    return auth_attempts_total.labels(method="oidc", outcome=outcome)._value.get()


def signed_in_email(client) -> str | None:
    response = client.get("/account")
    if response.status_code != 200:
        return None
    with client.application.app_context():
        with client.session_transaction() as session:
            token = session.get("_user_id")
        record = UserSession.find_active(token, 14) if token else None
        return record.user.email if record else None


# --- who gets in -------------------------------------------------------------------------


def test_it_creates_an_account_for_an_allowed_domain(app, client, provider):
    provider.set_user("new-1", email="Nora@Corp.Example", email_verified=True, name="Nora New")
    before = attempts("success")
    response = sign_in_via_provider(client, "new-1")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/"
    user = user_by_email(app, "nora@corp.example")
    assert user is not None and user.display_name == "Nora New"
    assert user.role == "member" and user.team_id is None and user.password_hash is None
    [identity] = identities(app)
    assert (identity.issuer, identity.subject, identity.user_id) == (provider.url, "new-1", user.id)
    assert signed_in_email(client) == "nora@corp.example"
    with app.app_context():
        record = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
        assert record.method == "oidc:corp"
    assert [e.details["provider"] for e in events(app, "auth.oidc_login_succeeded")] == ["corp"]
    assert [e.details["created_account"] for e in events(app, "auth.oidc_linked")] == [True]
    assert attempts("success") == before + 1


def test_it_signs_a_known_identity_in_again_without_a_new_account(app, client, provider):
    provider.set_user("again-1", email="again@corp.example", email_verified=True)
    sign_in_via_provider(client, "again-1")
    client.post_form("/auth/logout")
    response = sign_in_via_provider(client, "again-1")
    assert response.status_code == 302
    assert len(identities(app)) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1
    assert len(events(app, "auth.oidc_login_succeeded")) == 2


def test_it_links_an_existing_user_by_verified_email(app, client, provider, actors):
    provider.set_user("member-sub", email="member@example.com", email_verified=True)
    response = sign_in_via_provider(client, "member-sub")
    assert response.status_code == 302
    [identity] = identities(app)
    assert identity.user_id == actors.member.id
    assert signed_in_email(client) == "member@example.com"
    [linked] = events(app, "auth.oidc_linked")
    assert linked.details["created_account"] is False and linked.target_id == str(actors.member.id)


def test_it_refuses_an_unverified_email(app, client, provider, actors):
    provider.set_user("unverified", email="member@example.com", email_verified=False)
    response = sign_in_via_provider(client, "unverified")
    assert response.status_code == 403
    assert "Email address not verified" in response.get_data(as_text=True)
    assert identities(app) == [] and signed_in_email(client) is None
    assert failure_reasons(app) == ["email_unverified"]


def test_it_treats_a_missing_email_verified_as_unverified(app, client, provider):
    provider.set_user("no-flag", email="someone@corp.example")
    response = sign_in_via_provider(client, "no-flag")
    assert response.status_code == 403
    assert user_by_email(app, "someone@corp.example") is None


def test_it_refuses_a_domain_that_is_not_allowed(app, client, provider):
    before = attempts("failure")
    provider.set_user("stranger", email="eve@elsewhere.example", email_verified=True)
    response = sign_in_via_provider(client, "stranger")
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "No Worklog account" in body and 'href="/auth/login"' in body
    assert user_by_email(app, "eve@elsewhere.example") is None
    assert failure_reasons(app) == ["domain_not_allowed"]
    assert attempts("failure") == before + 1


def test_it_refuses_a_deactivated_user(app, client, provider, actors):
    with app.app_context():
        db.session.get(User, actors.member.id).is_active = False
        db.session.commit()
    provider.set_user("deactivated", email="member@example.com", email_verified=True)
    response = sign_in_via_provider(client, "deactivated")
    assert response.status_code == 403
    assert "deactivated" in response.get_data(as_text=True)
    assert identities(app) == [] and signed_in_email(client) is None
    assert failure_reasons(app) == ["inactive"]


def test_it_refuses_a_linked_identity_whose_user_was_deactivated(app, client, provider, actors):
    provider.set_user("later-off", email="member@example.com", email_verified=True)
    sign_in_via_provider(client, "later-off")
    client.post_form("/auth/logout")
    with app.app_context():
        db.session.get(User, actors.member.id).is_active = False
        db.session.commit()
    response = sign_in_via_provider(client, "later-off")
    assert response.status_code == 403 and signed_in_email(client) is None


def test_it_signs_out_like_a_password_session(app, client, provider):
    provider.set_user("leaver", email="leaver@corp.example", email_verified=True)
    sign_in_via_provider(client, "leaver")
    assert client.get("/log").status_code == 200
    client.post_form("/auth/logout")
    assert client.get("/log").status_code == 302
    with app.app_context():
        record = db.session.scalar(sa.select(UserSession))
        assert record.end_reason == "logout"


# --- the protocol's defences ---------------------------------------------------------------


def test_it_sends_pkce_state_and_nonce(client, provider):
    response = start(client)
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}
    assert urlsplit(response.headers["Location"]).netloc == urlsplit(provider.url).netloc


def test_it_refuses_a_tampered_state(app, client, provider):
    provider.set_user("tamper", email="tamper@corp.example", email_verified=True)
    started = start(client)
    back = authorize_at_provider(started.headers["Location"], "tamper")
    tampered = back.replace("state=", "state=x")
    response = client.get(callback_path(tampered))
    assert response.status_code == 400
    assert "This sign-in link is not valid" in response.get_data(as_text=True)
    assert user_by_email(app, "tamper@corp.example") is None
    assert failure_reasons(app) == ["state_mismatch"]


def test_it_refuses_a_replayed_code(app, client, provider):
    provider.set_user("replay", email="replay@corp.example", email_verified=True)
    started = start(client)
    back = authorize_at_provider(started.headers["Location"], "replay")
    assert client.get(callback_path(back)).status_code == 302
    client.post_form("/auth/logout")
    # The same answer again: its state was used up with the first sign-in.
    assert client.get(callback_path(back)).status_code == 400
    # And the code inside a fresh flow of this browser: the provider has burnt it.
    fresh = start(client)
    state = parse_qs(urlsplit(fresh.headers["Location"]).query)["state"][0]
    code = parse_qs(urlsplit(back).query)["code"][0]
    response = client.get(f"/auth/oidc/corp/callback?code={code}&state={state}")
    assert response.status_code == 400
    assert signed_in_email(client) is None
    assert failure_reasons(app) == ["state_mismatch", "code_refused"]


@pytest.mark.parametrize(("claims", "detail"), [
    ({"nonce": "not-the-one-we-sent"}, "nonce"),
    ({"aud": "some-other-client"}, "az"),  # refused at azp: an aud that is not us needs it
    ({"iss": "https://evil.example"}, "iss"),
    ({"exp": 1_000_000_000, "iat": 999_999_000}, "exp"),
])
def test_it_refuses_an_id_token_with_a_wrong_claim(app, client, provider, claims, detail):
    provider.set_user("forged", email="forged@corp.example", email_verified=True, **claims)
    response = sign_in_via_provider(client, "forged")
    assert response.status_code == 400
    assert "The sign-in could not be verified" in response.get_data(as_text=True)
    assert user_by_email(app, "forged@corp.example") is None
    [failed] = events(app, "auth.oidc_login_failed")
    assert failed.details["reason"] == "invalid_id_token"
    assert detail in failed.details["detail"]


def test_it_refuses_an_id_token_issued_long_ago(app, client, provider):
    now = int(time.time())
    provider.set_user("stale", email="stale@corp.example", email_verified=True, iat=now - 3600,
                      exp=now + 3600)
    response = sign_in_via_provider(client, "stale")
    assert response.status_code == 400
    assert "iat" in events(app, "auth.oidc_login_failed")[0].details["detail"]


def test_it_follows_a_key_rotation(app, client, provider):
    provider.set_user("rotate", email="rotate@corp.example", email_verified=True)
    assert sign_in_via_provider(client, "rotate").status_code == 302
    client.post_form("/auth/logout")
    old = provider.jwks_kids()
    provider.rotate_key()
    assert provider.jwks_kids() != old
    # Worklog still holds the old key set; the token names a key it does not know, so it
    # fetches the JWKS again rather than refusing.
    assert sign_in_via_provider(client, "rotate").status_code == 302
    assert signed_in_email(client) == "rotate@corp.example"


def test_it_ignores_an_open_redirect_in_next(client, provider):
    provider.set_user("redirect", email="redirect@corp.example", email_verified=True)
    response = sign_in_via_provider(client, "redirect", next_url="https://evil.example/steal")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_it_keeps_a_same_site_next(client, provider):
    provider.set_user("next", email="next@corp.example", email_verified=True)
    response = sign_in_via_provider(client, "next", next_url="/reviews")
    assert response.headers["Location"] == "/reviews"


def test_it_explains_a_cancelled_sign_in(app, client, provider):
    response = sign_in_via_provider(client, "whoever", deny=True)
    assert response.status_code == 400
    assert "Sign-in was cancelled" in response.get_data(as_text=True)
    assert failure_reasons(app) == ["cancelled"]


def test_it_refuses_an_expired_flow(app, client, provider, monkeypatch):
    provider.set_user("slow", email="slow@corp.example", email_verified=True)
    started = start(client)
    back = authorize_at_provider(started.headers["Location"], "slow")
    with client.session_transaction() as session:
        flow = session["oidc_flow"]
        flow["started"] -= 11 * 60
        session["oidc_flow"] = flow
    response = client.get(callback_path(back))
    assert response.status_code == 400
    assert "The sign-in took too long" in response.get_data(as_text=True)
    assert failure_reasons(app) == ["expired"]


def test_it_answers_404_for_an_unknown_provider(client):
    assert client.post_form("/auth/oidc/nope/login").status_code == 404
    assert client.get("/auth/oidc/nope/callback?code=x&state=y").status_code == 404


def test_login_page_offers_the_provider_beside_the_password_form(client):
    body = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in with Corp SSO" in body
    assert 'name="password"' in body


class TestProviderDown:
    @pytest.fixture
    def config_overrides(self) -> dict:
        # Nothing listens on port 9 of localhost (discard): connection refused.
        return {"OIDC_PROVIDERS": [provider_settings("http://127.0.0.1:9")],
                "OIDC_ALLOWED_DOMAINS": ["corp.example"]}

    def test_it_shows_a_clean_page_when_the_provider_is_down(self, app, client):
        response = start(client)
        assert response.status_code == 502
        body = response.get_data(as_text=True)
        assert "The sign-in service cannot be reached" in body and "Traceback" not in body
        assert failure_reasons(app) == ["provider_unreachable"]


def test_the_sign_in_link_starts_the_flow_and_ignores_an_open_redirect(client, provider):
    provider.set_user("via-link", email="link@corp.example", email_verified=True)
    body = client.get("/auth/login?next=/reviews").get_data(as_text=True)
    assert 'href="/auth/oidc/corp/login?next=/reviews"' in body
    started = client.get("/auth/oidc/corp/login?next=https://evil.example")
    back = authorize_at_provider(started.headers["Location"], "via-link")
    response = client.get(callback_path(back) + "&next=https://evil.example")
    assert response.status_code == 302 and response.headers["Location"] == "/"


class TestEmailOnlyInUserinfo:
    """A provider whose ID token carries no email (Entra ID without the optional claim)."""

    @pytest.fixture(scope="class")
    def bare_provider(self):
        with running_provider(id_token_without=("email", "email_verified")) as running:
            yield running

    @pytest.fixture
    def config_overrides(self, bare_provider) -> dict:
        return {"OIDC_PROVIDERS": [provider_settings(bare_provider.url)],
                "OIDC_ALLOWED_DOMAINS": ["corp.example"]}

    def test_it_reads_the_email_from_userinfo(self, app, client, bare_provider):
        bare_provider.set_user("userinfo-1", email="ui@corp.example", email_verified=True)
        response = sign_in_via_provider(client, "userinfo-1")
        assert response.status_code == 302
        user = user_by_email(app, "ui@corp.example")
        assert user is not None
        assert [i.subject for i in identities(app)] == ["userinfo-1"]


def test_it_refuses_a_sign_in_without_an_email(app, client, provider):
    provider.set_user("no-email", name="Nobody")
    response = sign_in_via_provider(client, "no-email")
    assert response.status_code == 403
    assert "No email address" in response.get_data(as_text=True)
    assert failure_reasons(app) == ["email_missing"]


def test_it_refuses_a_subject_too_long_to_store_whole(app, client, provider):
    sub = "s" * 300
    provider.set_user(sub, email="long@corp.example", email_verified=True)
    response = sign_in_via_provider(client, sub)
    assert response.status_code == 400
    assert user_by_email(app, "long@corp.example") is None


class TestProviderGoesDownMidFlow:
    @pytest.fixture
    def short_lived(self):
        with running_provider() as running:
            yield running

    @pytest.fixture
    def config_overrides(self, short_lived) -> dict:
        return {"OIDC_PROVIDERS": [provider_settings(short_lived.url)],
                "OIDC_ALLOWED_DOMAINS": ["corp.example"]}

    def test_the_callback_explains_an_unreachable_token_endpoint(self, app, client, short_lived):
        short_lived.set_user("midway", email="midway@corp.example", email_verified=True)
        started = start(client)
        back = authorize_at_provider(started.headers["Location"], "midway")
        short_lived.stop()
        response = client.get(callback_path(back))
        assert response.status_code == 502
        assert "The sign-in service cannot be reached" in response.get_data(as_text=True)
        assert failure_reasons(app) == ["provider_unreachable"]
