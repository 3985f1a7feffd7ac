"""Ask your log in a real browser: ask, follow a citation, come back, give feedback; screenshots."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.ask import AskQuestion
from tests.browser import sign_in
from tests.llm_server import make_week

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("ASK_SHOTS_DIR", "/tmp/ask-shots"))


def test_it_asks_follows_a_citation_and_takes_feedback(page, app, actors):
    ids = make_week(app, actors.member)
    sign_in(page, actors.member)
    page.get_by_role("link", name="Ask", exact=True).click()
    page.wait_for_url(re.compile(r"/ask$"))
    page.evaluate("window.__sameDocument = true")

    box = page.get_by_label("Your question")
    box.fill("결제모듈 리팩터링")
    assert page.locator("#ask-count").inner_text() == "9 of 500 characters"  # characters, not bytes
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator("#answer .ask-card")
    answer.wait_for()
    assert page.evaluate("window.__sameDocument") is True  # swapped in, no reload
    citation = answer.locator("a.citation").first
    assert citation.get_attribute("href") == f"/log/entries/{ids[1]}"
    # The new question also heads the history list.
    page.locator("#ask-history li[id^=q-]", has_text="결제모듈 리팩터링").wait_for()

    citation.click()
    page.wait_for_url(re.compile(rf"/log/entries/{ids[1]}$"))
    assert page.get_by_role("heading", name="결제모듈 리팩터링").is_visible()
    page.go_back()
    page.wait_for_url(re.compile(r"/ask"))

    # Back on the page, the question is in the history; rate it there with a comment.
    item = page.locator("#ask-history li[id^=q-]", has_text="결제모듈 리팩터링")
    item.locator("summary").first.click()
    item.get_by_role("button", name="Helpful", exact=True).click()
    item.get_by_text("Thanks, your feedback was saved.").wait_for()
    item = page.locator("#ask-history li[id^=q-]", has_text="결제모듈 리팩터링")
    item.get_by_text("Add a comment").click()
    item.get_by_label("Comment (optional)").fill("Exactly the refactoring I meant.")
    item.get_by_role("button", name="Send feedback").click()
    item.get_by_text("Thanks, your feedback was saved.").wait_for()
    with app.app_context():
        [row] = db.session.scalars(sa.select(AskQuestion)).all()
        assert (row.rating, row.feedback_comment) == (1, "Exactly the refactoring I meant.")
    assert page.console_errors == []


def test_the_limit_message_shows_in_the_answer_area(page, app, actors):
    app.config["ASK_RATE_LIMIT"] = "1/minute"
    make_week(app, actors.member)
    sign_in(page, actors.member)
    page.goto("/ask")
    page.get_by_label("Your question").fill("checkout latency")
    page.get_by_role("button", name="Ask", exact=True).click()
    page.locator("#answer .ask-card").wait_for()
    page.get_by_role("button", name="Ask", exact=True).click()
    error = page.locator("#answer .ask-error")
    error.wait_for()
    assert re.search(r"Try again in \d+ seconds", error.inner_text())
    assert page.get_by_label("Your question").input_value() == "checkout latency"


@pytest.mark.parametrize("scheme,width", [("light", 1280), ("dark", 1280), ("light", 390)])
def test_screenshots(browser, live_server, app, actors, scheme, width):
    """Pictures of /ask and /admin/feedback for a person to look at (not compared)."""
    ids = make_week(app, actors.member)
    with app.app_context():
        for i, (question, rating, comment) in enumerate([
                ("What did I ship for payments last week?", 1, "Spot on."),
                ("지난주 결제 관련 작업 정리해줘", -1, "환불 건이 빠졌어요."),
                ("postmortem outage", None, None)]):
            row = AskQuestion(user_id=actors.member.id, question=question,
                              answer=f"- **Cut checkout latency**: p95 dropped to 310 ms [#{ids[0]}]\n"
                                     f"- **결제모듈 리팩터링**: 환불 로직 분리 [#{ids[1]}]",
                              cited_entry_ids=[ids[0], ids[1]], entries_used=6, provider="offline",
                              model="offline")
            if rating or comment:
                row.give_feedback(rating, comment)
            db.session.add(row)
        db.session.commit()
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = 844 if width < 500 else 900
    context = browser.new_context(base_url=live_server.url, locale="en-US", color_scheme=scheme,
                                  viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, actors.member)
        page.goto("/ask")
        page.get_by_label("Your question").fill("What did I do for checkout latency?")
        page.get_by_role("button", name="Ask", exact=True).click()
        page.locator("#answer .ask-card").wait_for()
        page.locator("#ask-history li").first.locator("summary").first.click()
        name = f"{'phone' if width < 500 else scheme}"
        page.screenshot(path=str(SHOTS / f"ask-{name}.png"), full_page=True)
        page.goto("/auth/login")
        page.context.clear_cookies()
        sign_in(page, actors.admin, landing=r"/(log|admin)?$")
        page.goto("/admin/feedback")
        page.locator(".feedback-item").first.locator("summary").click()
        page.screenshot(path=str(SHOTS / f"feedback-{name}.png"), full_page=True)
    finally:
        context.close()
