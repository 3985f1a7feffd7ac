"""Company sign-in in real Chromium: the button, the provider's own login page, back to /log."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User, UserIdentity
from tests.oidc_support import provider_settings, running_provider

# The "done when": a new person and an existing one, on SQLite and on PostgreSQL.
pytestmark = [pytest.mark.browser, pytest.mark.backends("sqlite", "postgresql")]


@pytest.fixture(scope="module")
def provider():
    with running_provider() as running:
        yield running


@pytest.fixture
def config_overrides(provider) -> dict:
    return {"OIDC_PROVIDERS": [provider_settings(provider.url)],
            "OIDC_ALLOWED_DOMAINS": ["corp.example"]}


def sign_in_at_provider(page, provider, sub: str) -> None:
    page.goto("/auth/login")
    page.get_by_role("button", name="Sign in with Corp SSO").click()  # a link styled as a button
    page.wait_for_url(re.compile(re.escape(provider.url) + "/oauth2/authorize"))
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"/log$"))


def test_a_new_person_signs_in_gets_an_account_and_signs_out(app, page, provider):
    provider.set_user("browser-new", email="bora@corp.example", email_verified=True, name="Bora Kim")
    sign_in_at_provider(page, provider, "browser-new")
    page.locator("summary", has_text="Bora Kim").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/auth/login"))
    page.goto("/log")
    page.wait_for_url(re.compile(r"/auth/login"))
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "bora@corp.example"))
        assert user is not None and len(UserIdentity.for_user(user.id)) == 1
    assert page.console_errors == []


def test_an_existing_person_is_linked(app, page, provider, actors):
    provider.set_user("browser-member", email=actors.member.email, email_verified=True)
    sign_in_at_provider(page, provider, "browser-member")
    with app.app_context():
        assert [i.subject for i in UserIdentity.for_user(actors.member.id)] == ["browser-member"]
    assert page.console_errors == []
