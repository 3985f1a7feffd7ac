"""In a real browser: the lead approves, and the review page then links to the published
Notion and Confluence pages (the local stand-ins); a failure shows its reason and Retry."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from app import jobs
from app.extensions import db
from app.models import LogEntry, Publication, WeeklyReview
from tests import fake_confluence, fake_notion
from tests.browser import sign_in
from tests.fake_confluence import FakeConfluence
from tests.fake_notion import FakeNotion
from tests.llm_server import WEEK

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("WORKLOG_SHOTS_DIR")


@pytest.fixture
def fakes() -> Iterator[tuple[FakeNotion, FakeConfluence]]:
    notion, confluence = FakeNotion().start(), FakeConfluence().start()
    yield notion, confluence
    notion.stop()
    confluence.stop()


@pytest.fixture
def config_overrides(fakes) -> dict:
    notion, confluence = fakes
    return {"NOTION_BASE_URL": notion.url, "NOTION_API_KEY": fake_notion.TOKEN,
            "NOTION_DATABASE_ID": fake_notion.DATABASE,
            "CONFLUENCE_BASE_URL": confluence.url, "CONFLUENCE_USER_EMAIL": fake_confluence.EMAIL,
            "CONFLUENCE_API_TOKEN": fake_confluence.TOKEN,
            "CONFLUENCE_SPACE_KEY": fake_confluence.SPACE_KEY, "PUBLISH_MAX_ATTEMPTS": 1,
            "LOGIN_RATE_LIMIT": "1000/minute"}


def _settle(app) -> None:
    for _ in range(100):
        jobs.drain(app)
        with app.app_context():
            waiting = db.session.scalar(sa.select(sa.func.count()).select_from(Publication).where(
                Publication.state.in_(("queued", "creating"))))
            db.session.remove()
        if not waiting:
            return
        time.sleep(0.2)


def test_lead_approves_and_the_review_links_to_the_published_pages(app, page, browser,
                                                                   live_server, actors, fakes):
    notion, confluence = fakes
    app.config["CONFLUENCE_API_TOKEN"] = "wrong-token"
    with app.app_context():
        cited = LogEntry(user_id=actors.member.id, work_date=date(2026, 11, 17), title="Export")
        db.session.add(cited)
        db.session.flush()
        db.session.add(WeeklyReview(user_id=actors.member.id, week=WEEK, status="submitted",
                                    body=f"## Done\n\n- **Export** shipped [#{cited.id}]\n"
                                         "- Fixed *latency*"))
        db.session.commit()
        entry_link = f"{live_server.url}/log/entries/{cited.id}"
    sign_in(page, actors.lead, landing=r"/")
    page.goto("/reviews/r/1")
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("Review approved.").wait_for()
    assert page.get_by_text("Publishing to Notion…").is_visible()
    _settle(app)
    page.reload()
    notion_link = page.get_by_role("link", name="Notion ↗")
    # Without BASE_URL (development) links back are built on the address the lead used.
    assert entry_link in str(notion.live_pages()[0]["children"])
    assert notion_link.get_attribute("href") == f"{notion.url}/pages/{notion.live_pages()[0]['id']}"
    failure = page.get_by_role("alert").filter(has_text="Publishing to Confluence failed")
    assert "rejected the e-mail and API token (401)" in failure.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/review-publish-failed.png", full_page=True)
    app.config["CONFLUENCE_API_TOKEN"] = fake_confluence.TOKEN
    page.get_by_role("button", name="Retry").click()
    page.get_by_text("Publishing queued again.").wait_for()
    _settle(app)
    page.reload()
    assert page.get_by_role("link", name="Confluence ↗").is_visible()
    assert page.get_by_role("alert").count() == 0
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/review-published.png", full_page=True)
    with page.expect_popup() as popup:
        notion_link.click()
    opened = popup.value
    opened.wait_for_load_state()
    assert opened.title() == f"{WEEK} · Mina Member"
    assert page.console_errors == []
    # The admin sees the counts and the last failure per destination.
    admin_context = browser.new_context(base_url=live_server.url, locale="en-US")
    admin = admin_context.new_page()
    sign_in(admin, actors.admin, landing=r"/")
    admin.goto("/admin/integrations")
    confluence_box = admin.locator("#integration-confluence")
    assert confluence_box.locator(".count-published").inner_text() == "1"
    assert "rejected the e-mail and API token (401)" in confluence_box.locator(
        ".last-failure").inner_text()
    assert fake_confluence.TOKEN not in admin.content()
    if SHOTS:
        admin.screenshot(path=f"{SHOTS}/admin-integrations.png", full_page=True)
    admin_context.close()
