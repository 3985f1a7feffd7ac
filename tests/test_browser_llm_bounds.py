"""In a real browser: a draft stopped by its deadline leaves what the AI wrote in the editor,
unsaved, with the usual message (a server trickling one byte every 2 s, LLM_TIMEOUT_SECONDS=3)."""

from __future__ import annotations

import pytest

from tests.browser import sign_in, wait_until
from tests.llm_server import WEEK, Reply, make_week

pytestmark = pytest.mark.browser


@pytest.fixture
def config_overrides(llm_server) -> dict:
    return {"LOGIN_RATE_LIMIT": "1000/minute", **llm_server.config(LLM_TIMEOUT_SECONDS=3)}


def test_a_draft_cut_at_its_deadline_keeps_its_text_in_the_editor(app, page, actors, llm_server):
    make_week(app, actors.member)
    llm_server.script(Reply.trickle("Cut checkout latency to 310 ms. " + "More " * 50,
                                    fast_chunks=6))
    sign_in(page, actors.member)
    page.goto(f"/reviews/{WEEK}")
    editor = page.get_by_label("Review (Markdown; cite entries as [#id])")
    assert editor.input_value() == ""
    page.get_by_role("button", name="Draft with AI").click()
    page.get_by_text("The AI took too long to answer.").wait_for()
    wait_until(page, "() => !document.querySelector('form[data-stream-draft] button').disabled")
    assert editor.input_value() == "Cut checkout latency to 310 ms. "
    assert page.get_by_text("in the editor, not saved").is_visible()
    # Nothing was saved: the page, reloaded, has an empty editor.
    page.reload()
    assert page.get_by_label("Review (Markdown; cite entries as [#id])").input_value() == ""
