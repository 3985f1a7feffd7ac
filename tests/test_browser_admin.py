"""The admin console in a real browser: deactivation takes effect on the other person's next click."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import sign_in
from tests.conftest import PASSWORD
from tests.test_admin_access import backdate_sign_in

pytestmark = pytest.mark.browser


def test_a_deactivated_user_is_signed_out_on_their_next_click(browser, live_server, page, actors) -> None:
    member_context = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        member = member_context.new_page()
        sign_in(member, actors.member)

        sign_in(page, actors.admin)
        page.get_by_role("link", name="Admin", exact=True).click()
        page.locator(".admin-nav").get_by_role("link", name="Users").click()
        page.get_by_label("Email or name").fill("mina")
        page.get_by_role("button", name="Filter").click()
        page.get_by_role("link", name="Mina Member").click()
        expect(page.get_by_role("heading", name="Mina Member")).to_be_visible()
        page.get_by_role("button", name="Deactivate").click()
        expect(page.locator("#flashes")).to_contain_text("member@example.com is deactivated")
        expect(page.locator(".facts")).to_contain_text("Inactive")

        member.get_by_role("link", name="Work log").click()
        member.wait_for_url(re.compile(r"/auth/login\?next="))
        expect(member.get_by_role("heading", name="Sign in to Worklog")).to_be_visible()
        assert page.console_errors == []
    finally:
        member_context.close()


def test_an_old_sign_in_asks_for_the_password_then_carries_on(app, page, actors) -> None:
    sign_in(page, actors.admin)
    backdate_sign_in(app, actors.admin)
    page.goto(f"/admin/users/{actors.teammate.id}")
    page.get_by_label("Role").select_option("lead")
    page.get_by_role("button", name="Change role").click()

    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.locator("#reauth-error")).to_have_text("The password is not correct.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and continue").click()

    expect(page.locator("#flashes")).to_contain_text("Role of teammate@example.com changed.")
    expect(page.locator(".facts")).to_contain_text("Lead")
    assert page.console_errors == []
