"""Screenshots for a person to look at, not a test: `make screenshots` runs this file.

It asserts nothing (pictures are not compared), so it is not part of the suite: pytest only
collects it when the file is named on the command line. Pictures go to SCREENSHOTS_DIR
(default instance/screenshots/): /ask and /admin/feedback in light, dark and at 390 px, and a
walkthrough of the main screens (member, lead, admin; phone and desktop; light and dark;
English and Korean) listed in gallery.html.
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


@pytest.fixture
def config_overrides() -> dict:
    return {"LOGIN_RATE_LIMIT": "1000/minute"}  # the walkthrough signs in a dozen times


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


# The walkthrough of issue 17: every main screen on the demo data, as member, lead and admin,
# on a desktop and a 390 px phone, light and dark, English and Korean; gallery.html lists them.
WALK = {
    "member": ["/log", "/reviews", "/reviews/{asked}", "/account/sessions"],
    "lead": ["/reviews/queue", "/reviews/r/{submitted}"],
    "admin": ["/admin/users", "/admin/usage", "/admin/system"],
}
VIEWS = [("light", 1280, "en"), ("dark", 1280, "ko"), ("light", 390, "ko"), ("dark", 390, "en")]


def test_take_walkthrough_screenshots(browser, live_server, app, runner):
    import sqlalchemy as sa

    from app.models import User, WeeklyReview
    from tests.conftest import password_hash

    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(sa.select(User))}
        for user in users.values():
            user.password_hash = password_hash()
            user.locale = None  # the browser's language decides
        asked = db.session.scalar(sa.select(WeeklyReview.week)
                                  .where(WeeklyReview.status == "changes_requested"))
        submitted = db.session.scalar(sa.select(WeeklyReview.id).where(WeeklyReview.status == "submitted"))
        db.session.commit()
        people = {name: users[name] for name in WALK}
        for user in people.values():
            db.session.refresh(user)
        db.session.expunge_all()
    SHOTS.mkdir(parents=True, exist_ok=True)
    pictures: list[str] = []
    for scheme, width, language in VIEWS:
        for name, paths in WALK.items():
            context = browser.new_context(
                base_url=live_server.url, locale="en-US", color_scheme=scheme,
                viewport={"width": width, "height": 844 if width < 500 else 900})
            page = context.new_page()
            sign_in(page, people[name], landing=r"/(log|admin)$")
            switch = page.locator(f'.language-switch button[value="{language}"]')
            if switch.is_enabled():  # as a person does: the footer's language switch
                switch.click()
                page.wait_for_load_state()
            for i, path in enumerate(paths):
                page.goto(path.format(asked=asked, submitted=submitted))
                page.wait_for_load_state("networkidle")
                slug = path.strip("/").split("/{")[0].replace("/", "-")
                picture = f"walk-{name}-{i}-{slug}-{scheme}-{width}-{language}.png"
                page.screenshot(path=str(SHOTS / picture), full_page=True)
                pictures.append(picture)
            context.close()
    items = "\n".join(f'<figure><a href="{p}"><img src="{p}" alt="{p}" loading="lazy"></a>'
                      f"<figcaption>{p}</figcaption></figure>" for p in pictures)
    (SHOTS / "gallery.html").write_text(
        "<!doctype html><meta charset=utf-8><title>Worklog screenshots</title>"
        "<style>body{font-family:sans-serif;display:grid;grid-template-columns:repeat(auto-fill,"
        "minmax(260px,1fr));gap:1rem}img{width:100%;border:1px solid #ccc}</style>\n" + items)
