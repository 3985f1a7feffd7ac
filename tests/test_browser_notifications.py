"""The bell in a real browser: a lead requests changes, the member's bell lights up, the list
opens the review and the count goes back to nothing."""

from __future__ import annotations

import re

import pytest

from app.extensions import db
from app.models import WeeklyReview
from tests.browser import sign_in, wait_until
from tests.llm_server import WEEK

pytestmark = pytest.mark.browser


@pytest.fixture
def config_overrides() -> dict:
    return {"LOGIN_RATE_LIMIT": "1000/minute"}


def test_changes_requested_lights_the_members_bell(app, page, browser, live_server, actors):
    with app.app_context():
        review = WeeklyReview(user_id=actors.member.id, week=WEEK, body="Shipped the thing.",
                              status="submitted", version=1)
        db.session.add(review)
        db.session.commit()
        review_id = review.id

    lead_context = browser.new_context(base_url=live_server.url, locale="en-US")
    lead = lead_context.new_page()
    sign_in(lead, actors.lead)
    lead.goto(f"/reviews/r/{review_id}")
    lead.get_by_label("Comment (required to request changes)").fill("Add the numbers, please.")
    lead.get_by_role("button", name="Request changes").click()
    lead.get_by_text("Changes requested.").wait_for()
    lead_context.close()

    sign_in(page, actors.member)
    bell = page.locator("#notification-bell")
    wait_until(page, "() => document.querySelector('#notification-bell .bell-count')?.dataset.count === '1'")
    assert "1" in bell.inner_text()
    bell.click()
    page.wait_for_url(re.compile(r"/notifications$"))
    page.get_by_role("link", name=f"lead requested changes to your weekly review for {WEEK}").click()
    page.wait_for_url(re.compile(rf"/reviews/r/{review_id}$"))
    assert page.get_by_text("Add the numbers, please.").is_visible()
    wait_until(page, "() => document.querySelector('#notification-bell .bell-count')?.dataset.count === '0'")
    assert page.console_errors == []
