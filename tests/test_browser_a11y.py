"""Every main page, as member, lead and admin, on the demo data: axe-core (WCAG 2.1 AA) finds
no serious or critical problem in light and dark, desktop and phone; no page is wider than a
390 px phone, in English or Korean. One browser context per person; the viewport, colour
scheme and language change inside it, so the whole tour signs in only a few times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import LogEntry, Team, User, WeeklyReview
from tests.browser import sign_in
from tests.conftest import password_hash

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent.parent / "static" / "vendor" / "axe.min.js"
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}


@pytest.fixture
def config_overrides() -> dict:
    return {"LOGIN_RATE_LIMIT": "1000/minute"}


@pytest.fixture
def demo(app, runner):
    """`flask demo seed`, with every demo account's password set to the tests' one."""
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        users = {u.email.split("@")[0]: u for u in db.session.scalars(sa.select(User))}
        for user in users.values():
            user.password_hash = password_hash()
        db.session.commit()
        member = users["member"]
        entry = db.session.scalar(sa.select(LogEntry.id).where(LogEntry.user_id == member.id)
                                  .order_by(LogEntry.id.desc()).limit(1))
        asked = db.session.scalar(sa.select(WeeklyReview).where(
            WeeklyReview.user_id == member.id, WeeklyReview.status == "changes_requested"))
        submitted = db.session.scalar(sa.select(WeeklyReview.id).where(WeeklyReview.status == "submitted")
                                      .limit(1))
        team = db.session.scalar(sa.select(Team.id).where(Team.name == "Platform"))
        pages = {
            "member": ["/log", f"/log/entries/{entry}", f"/log/entries/{entry}/edit",
                       f"/log/entries/{entry}/history", "/log/trash", "/ask", "/reviews",
                       f"/reviews/{asked.week}", f"/reviews/r/{asked.id}", "/account",
                       "/account/sessions", "/account/tokens", "/auth/password"],
            "lead": ["/reviews/queue", f"/reviews/r/{submitted}"],
            "admin": ["/admin", "/admin/users", f"/admin/users/{member.id}", "/admin/users/new",
                      "/admin/users/invite", "/admin/teams", f"/admin/teams/{team}", "/admin/audit",
                      "/admin/usage", "/admin/feedback", "/admin/jobs", "/admin/system"],
        }
        people = {name: users[name] for name in pages}
        for user in people.values():
            db.session.refresh(user)
        db.session.expunge_all()
    return people, pages


def tour(browser, live_server, demo, visit):
    """Sign each person in once and call visit(page, path) on each of their pages."""
    people, pages = demo
    anonymous = browser.new_context(base_url=live_server.url, locale="en-US")
    visit(anonymous.new_page(), "/auth/login")
    anonymous.close()
    for name, paths in pages.items():
        context = browser.new_context(base_url=live_server.url, locale="en-US")
        page = context.new_page()
        sign_in(page, people[name], landing=r"/(log|admin)$")
        for path in paths:
            visit(page, path)
        context.close()


def test_axe_finds_no_serious_or_critical_problem_on_any_page(browser, live_server, demo):
    source = AXE.read_text()
    found: list[str] = []

    def visit(page, path):
        page.goto(path)
        page.wait_for_load_state("networkidle")  # fragments such as the queue's badge too
        for scheme in ("light", "dark"):
            # Reduced motion: axe must not read a colour halfway through a transition.
            page.emulate_media(color_scheme=scheme, reduced_motion="reduce")
            for size in (DESKTOP, PHONE):
                page.set_viewport_size(size)
                if not page.evaluate("() => typeof axe !== 'undefined'"):
                    page.evaluate(source)  # through DevTools: the page's CSP does not apply
                violations = page.evaluate("""async () => {
                    const result = await axe.run(document, {
                        runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
                        resultTypes: ["violations"]});
                    return result.violations.filter(v => v.impact === "serious" || v.impact === "critical")
                        .map(v => ({id: v.id, nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ")
                            + " " + (n.any[0] ? n.any[0].message : ""))}));
                }""")
                for v in violations:
                    found.append(f"{path} {scheme} {size['width']}px {v['id']}: {json.dumps(v['nodes'])}")

    tour(browser, live_server, demo, visit)
    assert found == [], "\n".join(found)


def test_no_page_is_wider_than_a_phone_in_english_or_korean(app, browser, live_server, demo):
    too_wide: list[str] = []

    def visit(page, path):
        page.set_viewport_size(PHONE)
        for language in ("en", "ko"):
            page.set_extra_http_headers({"Accept-Language": "ko-KR" if language == "ko" else "en-US"})
            page.goto(path)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                widest = page.evaluate("""() => [...document.querySelectorAll('body *')]
                    .filter(e => e.getBoundingClientRect().right > 391
                                 && !(e.parentElement && e.parentElement.closest('.table-scroll, pre')))
                    .slice(0, 3).map(e => e.tagName + '.' + e.className + ' '
                                          + Math.round(e.getBoundingClientRect().right))""")
                too_wide.append(f"{path} ({language}) is {width}px wide: {widest}")

    with app.app_context():  # the demo's lead and admin have a language set; browsers decide here
        db.session.execute(sa.update(User).values(locale=None))
        db.session.commit()
    tour(browser, live_server, demo, visit)
    assert too_wide == [], "\n".join(too_wide)
