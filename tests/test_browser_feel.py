"""What a person feels, in a real browser: messages in view, nothing typed is lost, the
keyboard path, filters that hold, and no dead ends."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest

from app.extensions import db
from app.models import LogEntry, User, WeeklyReview
from app.services.isoweek import IsoWeek
from tests.browser import sign_in, wait_until
from tests.conftest import make_user
from tests.log_support import make_entries, make_entry

pytestmark = pytest.mark.browser


@pytest.fixture
def config_overrides() -> dict:
    return {"LOGIN_RATE_LIMIT": "1000/minute"}


def in_viewport(page, selector: str) -> bool:
    return page.evaluate("""s => { const r = document.querySelector(s).getBoundingClientRect();
        return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; }""", selector)


def focused(page) -> str:
    return page.evaluate("() => document.activeElement.textContent.trim()")


def until(page, predicate, timeout: float = 15.0) -> None:
    """Poll a Python-side condition (e.g. a dialog seen) while the page runs."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        page.wait_for_timeout(20)


def today_of(app, user) -> date:
    with app.app_context():
        return db.session.get(User, user.id).today()


def test_it_shows_the_undo_in_view_after_deleting_far_down_and_the_keyboard_reaches_it(app, page, actors):
    today = today_of(app, actors.member)
    make_entries(app, actors.member, 20, start=today)
    sign_in(page, actors.member)
    row = page.locator("#entry-list .entry-row", has_text="Entry 012")
    row.scroll_into_view_if_needed()
    row.get_by_role("button", name=re.compile("Delete")).click()
    row.wait_for(state="detached")

    undo = page.get_by_role("button", name="Undo")
    undo.wait_for()
    assert in_viewport(page, "#flashes .flash-undo")  # not 3,000 px above the user
    assert "moved to the trash" in page.locator("#flashes").inner_text()
    assert page.locator("#flashes").get_attribute("aria-live") == "polite"
    # Focus moved to the next row, not to <body>.
    wait_until(page, "() => document.activeElement.closest('.entry-row') !== null")
    assert focused(page) == "Entry 013"

    # The Undo is a button in the tab order, and "z" presses it from where the user is.
    assert undo.evaluate("b => b.tabIndex") == 0
    page.keyboard.press("z")
    page.locator("#entry-list .entry-row", has_text="Entry 012").wait_for()
    page.locator("#flashes", has_text="restored").wait_for()
    assert in_viewport(page, "#flashes .flash")
    assert page.console_errors == []


def test_it_reaches_the_title_field_within_ten_tab_presses(app, page, actors):
    make_entries(app, actors.lead, 3, start=today_of(app, actors.lead))
    sign_in(page, actors.lead)  # the lead has the most in the navigation (the queue)
    page.goto("/log")
    page.locator("#queue-badge").wait_for(state="attached")
    presses = 0
    while page.evaluate("() => document.activeElement.id") != "new-title":
        page.keyboard.press("Tab")
        presses += 1
        assert presses <= 10, f"Tab {presses} is on {focused(page)!r}"

    # The shortcuts work from anywhere but a field, and "?" lists them.
    page.keyboard.type("not a shortcut")
    assert page.locator("#new-title").input_value() == "not a shortcut"
    page.locator("h1").click()
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "q"
    page.locator("h1").click()
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    page.keyboard.press("Escape")
    page.goto("/reviews")
    page.keyboard.press("n")
    page.wait_for_url(re.compile(r"/log#new-title$"))
    wait_until(page, "() => document.activeElement.id === 'new-title'")

    # The account menu opens from the keyboard, shows where focus is, and closes on Esc.
    menu = page.locator("details.dropdown summary")
    menu.focus()
    outline = menu.evaluate("s => getComputedStyle(s).outlineStyle")
    page.keyboard.press("Enter")
    assert page.locator("details.dropdown[open]").count() == 1
    page.keyboard.press("Escape")
    assert page.locator("details.dropdown[open]").count() == 0
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
    assert outline != "none"
    assert page.console_errors == []


def test_it_keeps_from_and_to_through_a_search_and_highlights_matches(app, page, actors):
    today = today_of(app, actors.member)
    make_entry(app, actors.member, "Payment <b>retry</b> fix", work_date=today - timedelta(days=2))
    make_entry(app, actors.member, "Payment dashboard", work_date=today - timedelta(days=40))
    make_entry(app, actors.member, "Wrote the runbook", work_date=today - timedelta(days=1))
    sign_in(page, actors.member)

    page.get_by_text("Filters", exact=True).click()
    page.locator("#f-from").fill((today - timedelta(days=7)).isoformat())
    page.locator("#f-to").fill(today.isoformat())
    page.locator("#f-to").dispatch_event("change")
    page.wait_for_url(re.compile(r"from=.*&to="))
    page.get_by_role("searchbox", name="Search").fill("payment")
    page.wait_for_url(re.compile(r"q=payment"))
    url = page.url
    assert f"from={(today - timedelta(days=7)).isoformat()}" in url and f"to={today.isoformat()}" in url
    assert "category=" not in url and "impact=" not in url and "tag=" not in url  # no empty ones
    titles = page.locator("#entry-list .entry-title")
    wait_until(page, "() => document.querySelectorAll('#entry-list .entry-row').length === 1")
    assert titles.inner_text() == "Payment <b>retry</b> fix"  # shown as text, not markup
    assert titles.locator("mark").inner_text() == "Payment"

    # One clear control clears every filter, the form's fields too.
    page.get_by_role("link", name="Clear filters").click()
    wait_until(page, "() => document.querySelectorAll('#entry-list .entry-row').length === 3")
    assert page.locator("#f-from").input_value() == ""
    page.wait_for_url(re.compile(r"/log$"))
    assert page.console_errors == []


def test_it_asks_before_dropping_an_unsaved_review_or_inline_edit(app, page, actors, browser, live_server):
    today = today_of(app, actors.member)
    make_entry(app, actors.member, "Tuned the cache", work_date=today)
    make_entry(app, actors.member, "Older one", work_date=today - timedelta(days=1))
    week = IsoWeek.of(today)
    sign_in(page, actors.member)
    dialogs: list[str] = []

    def answer(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()  # "stay on the page"
    page.on("dialog", answer)

    # Inline edit: a search that would replace the list asks first; Esc asks, then cancels.
    row = page.locator("#entry-list .entry-row", has_text="Tuned the cache")
    row.get_by_role("button", name=re.compile("Edit")).click()
    form = page.locator("form.entry-edit")
    form.get_by_label("Title").fill("Tuned the cache and the pool")
    page.get_by_role("searchbox", name="Search").fill("older")
    until(page, lambda: "confirm" in dialogs)
    assert form.get_by_label("Title").input_value() == "Tuned the cache and the pool"
    page.remove_listener("dialog", answer)
    page.once("dialog", lambda d: d.accept())
    form.get_by_label("Title").press("Escape")
    page.locator("#entry-list .entry-row", has_text="Tuned the cache").wait_for()
    assert form.count() == 0

    # The review: autosaved with "Saved · hh:mm", the badge follows, leaving asks while unsaved.
    page.goto(f"/reviews/{week}")
    assert page.locator("#review-status .badge").inner_text() == "No review"
    editor = page.locator("#review-body")
    editor.fill("Tuned the cache [#1].")
    page.locator("#autosave-status", has_text=re.compile(r"Saved · ")).wait_for()
    assert page.locator("#review-status .badge").inner_text() == "Draft"
    with app.app_context():
        review = db.session.scalar(db.select(WeeklyReview).where(WeeklyReview.week == str(week)))
        assert review.body == "Tuned the cache [#1]."

    editor.press("End")
    editor.type(" More.")
    leaving: list[str] = []
    page.once("dialog", lambda d: (leaving.append(d.type), d.dismiss()))
    page.get_by_role("link", name="Weekly reviews").first.click(no_wait_after=True)
    until(page, lambda: leaving)
    assert leaving == ["beforeunload"]
    assert page.url.endswith(f"/reviews/{week}")

    def saved_body() -> str:
        with app.app_context():
            return db.session.scalar(
                db.select(WeeklyReview.body).where(WeeklyReview.week == str(week))) or ""

    # This page's own autosave of " More." lands first (else the other tab would be the stale one).
    until(page, lambda: saved_body().endswith("More."))

    # A save from another tab makes this page's autosave stale: refused, text kept.
    other_context = browser.new_context(base_url=live_server.url, locale="en-US")
    other = other_context.new_page()
    sign_in(other, actors.member)
    other.goto(f"/reviews/{week}")
    other.locator("#review-body").fill("From the other tab.")
    other.locator("#autosave-status", has_text=re.compile(r"Saved · ")).wait_for()
    other_context.close()
    editor.type(" Even more.")
    page.locator("#autosave-status", has_text="changed elsewhere").wait_for()
    assert editor.input_value().endswith("More. Even more.")
    assert page.console_errors == []


def test_it_says_submit_needs_a_lead_when_there_is_none(app, page):
    with app.app_context():
        solo = make_user("solo@example.com")
        db.session.commit()
        db.session.refresh(solo)
        db.session.expunge(solo)
    week = IsoWeek.of(today_of(app, solo))
    make_entry(app, solo, "Alone on this", work_date=week.start)
    sign_in(page, solo)
    page.goto("/reviews")
    assert page.get_by_text("Your team has no lead to review this").is_visible()
    page.goto(f"/reviews/{week}")
    page.locator("#review-body").fill("What I did.")
    submit = page.get_by_role("button", name="Save and submit")
    assert submit.is_disabled()
    assert "no lead" in page.locator("#" + submit.get_attribute("aria-describedby")).inner_text()
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/reviews/{week}$"))
    page.get_by_role("link", name=re.compile("Open the review page")).click()
    assert page.get_by_role("button", name="Submit to my lead").is_disabled()
    assert page.get_by_text("Your team has no lead to review this").is_visible()
    with app.app_context():
        assert db.session.scalar(db.select(WeeklyReview.status)) == "draft"


def test_it_stops_paging_reviews_at_the_first_week(app, page, actors):
    today = today_of(app, actors.member)
    make_entry(app, actors.member, "Long ago", work_date=today - timedelta(weeks=20))
    sign_in(page, actors.member)
    page.goto("/reviews")
    page.get_by_role("link", name="Older weeks").click()
    page.wait_for_url(re.compile(r"page=2"))
    assert page.get_by_role("link", name="Older weeks").count() == 0
    assert page.get_by_text("These are your first weeks.").is_visible()
    first = str(IsoWeek.of(today - timedelta(weeks=20)))
    assert page.locator("tbody tr").last.locator("th").inner_text() == first
    page.goto("/reviews?page=30")  # past the first week: the last page, not empty 2020 weeks
    assert page.locator("tbody tr").last.locator("th").inner_text() == first
    assert page.get_by_role("link", name="Older weeks").count() == 0
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(LogEntry.id))) == 1
