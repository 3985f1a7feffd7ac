"""Screenshots for a person to look at, not a test: `make screenshots` runs this file.

It asserts nothing (pictures are not compared), so it is not part of the suite: pytest only
collects it when the file is named on the command line. Pictures go to SCREENSHOTS_DIR
(default instance/screenshots/): /ask and /admin/feedback in light, dark and at 390 px.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.extensions import db
from app.models.ask import AskQuestion
from tests.browser import sign_in
from tests.llm_server import make_week

pytestmark = pytest.mark.browser
DEFAULT_DIR = Path(__file__).resolve().parent.parent / "instance" / "screenshots"
SHOTS = Path(os.environ.get("SCREENSHOTS_DIR", DEFAULT_DIR))


@pytest.mark.parametrize("scheme,width", [("light", 1280), ("dark", 1280), ("light", 390)])
def test_take_screenshots(browser, live_server, app, actors, scheme, width):
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
