"""Signing in and out in a real browser."""

import re

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_it_signs_in_sees_home_and_signs_out(page, actors):
    page.goto("/")
    # Anonymous visitors are sent to the sign-in page, remembering where they were going.
    assert re.search(r"/auth/login", page.url)
    page.get_by_label("Email").fill(actors.member.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(re.compile(r"/log$"))
    assert page.get_by_role("heading", name="Work log", level=1).is_visible()

    page.locator("summary", has_text="Mina Member").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/auth/login"))
    assert page.get_by_text("You have signed out.").is_visible()

    # The old session is gone: the home page asks to sign in again.
    page.goto("/")
    assert "/auth/login" in page.url
    assert page.console_errors == []


def test_it_refuses_a_wrong_password_with_a_generic_message(page, actors):
    page.goto("/auth/login")
    page.get_by_label("Email").fill(actors.member.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Sign-in failed.").is_visible()
    assert "/auth/login" in page.url
    assert page.console_errors == []
