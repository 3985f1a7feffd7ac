"""Structure with AI in a real browser: free text -> STAR fields -> edit -> save."""

import re

import pytest

from tests.browser import wait_until
from tests.llm_server import Reply
from tests.test_browser_log import entry_list, sign_in

pytestmark = pytest.mark.browser

NOTES = ("Checkout was slow because the card lookup hit the network on every payment. "
         "I needed to get p95 under 400 ms before the sale. "
         "I added a Redis cache in Python for the lookups. p95 dropped from 900 ms to 310 ms.")


def test_it_structures_quick_capture_text_which_the_user_edits_and_saves(page, actors) -> None:
    sign_in(page, actors.member)
    page.evaluate("window.__sameDocument = true")
    capture = page.locator("#capture")
    capture.get_by_label("Notes").fill(NOTES)
    capture.get_by_role("button", name="Structure with AI").click()

    # The proposal is in the form, every STAR part visible, and nothing is saved yet.
    page.get_by_text("nothing is saved yet").wait_for()
    capture = page.locator("#capture")
    assert capture.get_by_label("Situation").input_value().startswith("Checkout was slow")
    assert capture.get_by_label("Task").input_value() == "I needed to get p95 under 400 ms before the sale."
    assert capture.get_by_label("Action").input_value() == "I added a Redis cache in Python for the lookups."
    assert capture.get_by_label("Result").input_value() == "p95 dropped from 900 ms to 310 ms."
    assert capture.get_by_label("Category").input_value() == "Performance"
    assert capture.get_by_label("Tech stack and tags").input_value() == "Redis, Python"
    assert capture.get_by_label("Title").input_value()
    assert entry_list(page).locator(".entry-row").count() == 0
    # Keyboard and screen-reader users land on the message that says what happened.
    wait_until(page, "() => document.activeElement && "
                     "document.activeElement.classList.contains('structure-message')")

    capture.get_by_label("Title").fill("Cached card lookups")
    capture.get_by_label("Result").fill("p95 dropped from 900 ms to 290 ms after tuning.")
    capture.get_by_role("button", name="Save entry").click()
    row = entry_list(page).locator(".entry-row", has_text="Cached card lookups")
    row.wait_for()
    assert page.get_by_text("Entry saved.").is_visible()
    row.get_by_role("link", name=re.compile("Cached card lookups")).click()
    page.get_by_text("p95 dropped from 900 ms to 290 ms after tuning.").wait_for()
    assert page.get_by_text("I added a Redis cache in Python for the lookups.").is_visible()
    assert page.console_errors == []


def test_it_structures_the_inline_editor(page, actors) -> None:
    sign_in(page, actors.member)
    capture = page.locator("#capture")
    capture.get_by_label("Title").fill("Card cache")
    capture.get_by_label("Notes").fill(NOTES)
    capture.get_by_role("button", name="Save entry").click()
    row = entry_list(page).locator(".entry-row", has_text="Card cache")
    row.get_by_role("button", name=re.compile("Edit")).click()
    form = page.locator("form.entry-edit")
    form.get_by_role("button", name="Structure with AI").click()
    page.get_by_text("nothing is saved yet").wait_for()
    form = page.locator("form.entry-edit")
    assert form.get_by_label("Result").input_value() == "p95 dropped from 900 ms to 310 ms."
    form.get_by_role("button", name="Save changes").click()
    updated = entry_list(page).locator(".entry-row", has_text="Card cache")
    updated.wait_for()
    assert page.locator("form.entry-edit").count() == 0
    assert page.console_errors == []


class TestWhenTheModelFails:
    @pytest.fixture
    def config_overrides(self, llm_server) -> dict:
        return llm_server.config(LLM_TIMEOUT_SECONDS=1)

    def test_the_message_shows_and_the_typed_text_stays(self, page, actors, llm_server) -> None:
        llm_server.script(Reply.hang(10))
        sign_in(page, actors.member)
        capture = page.locator("#capture")
        capture.get_by_label("Title").fill("My own title")
        capture.get_by_label("Notes").fill(NOTES)
        capture.get_by_role("button", name="Structure with AI").click()
        page.get_by_text("The AI took too long to answer.").wait_for()
        capture = page.locator("#capture")
        assert capture.get_by_label("Title").input_value() == "My own title"
        assert capture.get_by_label("Notes").input_value() == NOTES
        # Still a working form: saving keeps what was typed.
        capture.get_by_role("button", name="Save entry").click()
        entry_list(page).locator(".entry-row", has_text="My own title").wait_for()
