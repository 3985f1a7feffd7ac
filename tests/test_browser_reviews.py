"""The weekly review in a real browser: the AI draft streams into the editor, the author
submits, the lead approves, the author sees it. With the offline provider and through the
openai client against the local OpenAI-compatible server."""

from __future__ import annotations

import re

import pytest

from tests.browser import sign_in, wait_until
from tests.llm_server import WEEK, Reply, make_week

pytestmark = pytest.mark.browser


@pytest.fixture(params=["offline", "openai"])
def config_overrides(request, llm_server) -> dict:
    settings = {"LOGIN_RATE_LIMIT": "1000/minute"}
    if request.param == "offline":
        # Slow enough that the page is seen half-written.
        return {**settings, "LLM_PROVIDER": "offline", "LLM_OFFLINE_CHUNK_DELAY": 0.05}
    llm_server.responder = lambda req: Reply.streamed(
        f"Cut checkout latency [#{req.data['entries'][0]['id']}]. " + "More detail here. " * 20,
        chunk_delay=0.03)
    return {**settings, **llm_server.config()}


def test_draft_streams_in_then_submit_and_the_lead_approves(app, page, browser, live_server, actors):
    ids = make_week(app, actors.member)
    sign_in(page, actors.member)
    page.goto(f"/reviews/{WEEK}")
    editor = page.get_by_label("Review (Markdown; cite entries as [#id])")
    assert editor.input_value() == ""

    page.get_by_role("button", name="Draft with AI").click()
    # Part of the text is in the editor while the status still says it is being written.
    wait_until(page, """() => document.querySelector('#review-body').value.length > 0
             && document.querySelector('#draft-status').textContent.includes('Writing')""")
    partial = editor.input_value()
    page.get_by_text(re.compile(r"Draft written from \d+ entries and saved")).wait_for()
    final = editor.input_value()
    assert len(final) > len(partial) and final.startswith(partial)
    assert f"[#{ids[0]}]" in final
    # The preview follows the draft and links the citation to its entry.
    page.locator(f'#review-preview a.citation[href="/log/entries/{ids[0]}"]').first.wait_for()

    page.get_by_role("button", name="Save and submit").click()
    page.wait_for_url(re.compile(r"/reviews/r/\d+$"))
    assert page.get_by_text("Review submitted to your lead.").is_visible()
    review_url = page.url

    lead_context = browser.new_context(base_url=live_server.url, locale="en-US")
    lead = lead_context.new_page()
    sign_in(lead, actors.lead)
    lead.goto("/reviews/queue")
    lead.get_by_role("link", name="Mina Member").click()
    lead.wait_for_url(review_url)
    lead.locator(f'a.citation[href="/log/entries/{ids[0]}"]').first.click()
    lead.wait_for_url(re.compile(rf"/log/entries/{ids[0]}$"))  # the lead can follow a citation
    lead.go_back()
    lead.get_by_label("Comment (required to request changes)").fill("Great week.")
    lead.get_by_role("button", name="Approve").click()
    lead.get_by_text("Review approved.").wait_for()
    lead_context.close()

    page.reload()
    assert page.locator(".page-head .badge").inner_text() == "Approved"
    assert page.get_by_text("Great week.").is_visible()
    assert page.console_errors == []
