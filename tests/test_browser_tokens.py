"""In a real browser: create an API token, see it once, use it from a script, find the entry."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.test_api import SEED_BODY
from tests.test_browser_log import sign_in

pytestmark = pytest.mark.browser


def test_a_token_made_in_the_browser_posts_the_seed_entry_into_the_log(page, live_server, actors):
    sign_in(page, actors.member)
    # Through the account menu, as a person would.
    page.locator("details.dropdown summary").click()
    page.get_by_role("link", name="API tokens").click()
    page.wait_for_url(re.compile(r"/account/tokens$"))
    assert page.get_by_text("You have no API tokens yet.").is_visible()

    page.get_by_label("Name").fill("Daily script")
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_label("New API token")
    shown.wait_for()
    raw = shown.input_value()
    assert re.fullmatch(r"wl_[A-Za-z0-9_-]{43}", raw)
    assert page.get_by_text("shown only this once").is_visible()
    row = page.locator("tr", has_text="Daily script")
    assert "Never" in row.inner_text()  # not used yet

    # A script (not the browser) uses the token: the seed's payload, byte for byte.
    request = urllib.request.Request(  # noqa: S310 - the live test server on 127.0.0.1
        f"{live_server.url}/api/daily-logs", data=SEED_BODY, method="POST",
        headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 201
        created = json.loads(response.read())

    page.goto("/log")
    entry = page.locator(f"#entry-{created['id']}")
    entry.wait_for()
    assert "Test" in entry.inner_text() and "테스트" in entry.inner_text()

    # Back on the tokens page the token is not shown again, and its use is recorded.
    page.goto("/account/tokens")
    assert raw not in page.content()
    assert page.get_by_label("New API token").count() == 0
    assert "Never" not in page.locator("tr", has_text="Daily script").locator("td").nth(3).inner_text()

    # Revoke it: the script is locked out.
    page.get_by_role("button", name="Revoke token Daily script").click()
    page.get_by_text("Token “Daily script” revoked.").wait_for()
    request = urllib.request.Request(  # noqa: S310
        f"{live_server.url}/api/daily-logs", headers={"Authorization": f"Bearer {raw}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 401
    assert page.console_errors == []
