"""Ask your log in a real browser: ask, follow a citation, come back, give feedback."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models.ask import AskQuestion
from tests.browser import sign_in
from tests.llm_server import make_week

pytestmark = pytest.mark.browser


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

    def saved() -> tuple:
        with app.app_context():
            [row] = db.session.scalars(sa.select(AskQuestion)).all()
            return (row.rating, row.feedback_comment)

    # The thanks line is already there from the rating: wait for the comment's own save.
    for _ in range(500):
        if saved()[1] is not None:
            break
        page.wait_for_timeout(20)
    assert saved() == (1, "Exactly the refactoring I meant.")
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
