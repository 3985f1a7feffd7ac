"""No model call outlives its budget, and no answer is unbounded.

Against the test server trickling one byte every 2 s (never silent long enough for a read
timeout) with LLM_TIMEOUT_SECONDS=5: each kind of call — Ask's answer, Ask's embeddings,
Structure with AI, a streamed draft and a draft without JavaScript — ends at the deadline, as
the app itself reports it (the ledger's latency and outcome "deadline"; no wall-clock checks
of this machine's speed), and the user gets the usual message; a draft keeps the text that had
arrived. A 3 MB answer is refused before anything is stored, a 3 MB draft stream is stopped at
its bound, and every request asks for at most its purpose's max_tokens.
"""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import LLMCall, WeeklyReview
from app.models.ask import AskQuestion
from app.services.llm import OpenAILLM, weekly_review_task
from app.services.llm.base import MAX_OUTPUT_CHARS, MAX_TOKENS, LLMError
from tests.conftest import Actors, AuthActions, Client
from tests.llm_server import WEEK, Reply, make_week
from tests.test_ask import ask, questions

TIMEOUT = 5
# What the app may take past its deadline: the ledger write and scheduling, not another read.
MARGIN_MS = 1500
TRICKLE = "A long answer that a trickling server would take minutes to send. " * 3


@pytest.fixture
def config_overrides(llm_server) -> dict:
    return {**llm_server.config(LLM_TIMEOUT_SECONDS=TIMEOUT, LLM_TOTAL_BUDGET_SECONDS=20,
                                REDIS_URL=None, ASK_RATE_LIMIT="1000/minute",
                                STRUCTURE_RATE_LIMIT="1000/minute", LOGIN_RATE_LIMIT="1000/minute"),
            **llm_server.embeddings_config(LLM_TIMEOUT_SECONDS=TIMEOUT)}


def calls(app: Flask, model: str = "test-model") -> list[LLMCall]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(LLMCall).where(LLMCall.model == model)
                                       .order_by(LLMCall.id)))
        db.session.expunge_all()
        return rows


def assert_ended_at_the_deadline(row: LLMCall, bound: float = TIMEOUT) -> None:
    assert row.outcome == "deadline" and row.error_code == "deadline"
    assert row.latency_ms <= bound * 1000 + MARGIN_MS, row.latency_ms


def events_of(response) -> list[tuple[str, object]]:
    found = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if block.strip():
            name = re.search(r"^event: (\w+)", block, re.M).group(1)
            found.append((name, json.loads(re.search(r"^data: (.*)$", block, re.M).group(1))))
    return found


def no_review(app: Flask) -> bool:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(WeeklyReview.id))) == 0


@pytest.fixture
def entries(app: Flask, actors: Actors) -> list[int]:
    return make_week(app, actors.member)


# --- the deadline -----------------------------------------------------------------------


def test_an_ask_answer_trickled_byte_by_byte_ends_at_the_deadline(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script(Reply.trickle(TRICKLE))
    auth.login_as(actors.member)
    response = ask(client, "How did I cut checkout latency?")
    assert response.status_code == 503
    assert "took too long" in response.get_data(as_text=True)
    assert questions(app) == []
    [row] = calls(app)
    assert_ended_at_the_deadline(row)
    assert row.purpose == "ask"
    assert llm_server.trickled_bytes < len(TRICKLE)  # the server had much more to send
    assert llm_server.requests[0].json["max_tokens"] == MAX_TOKENS["ask"]


def test_trickled_embeddings_end_at_the_deadline_and_ask_answers_from_keywords(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script_embeddings(Reply.trickle())
    llm_server.script(Reply.normal(f"You cut p95 [#{entries[0]}]."))
    auth.login_as(actors.member)
    response = ask(client, "How did I cut checkout latency?")
    assert response.status_code == 200 and "You cut p95" in response.get_data(as_text=True)
    [embedding] = calls(app, "test-embedding")
    assert_ended_at_the_deadline(embedding)


def test_structure_with_ai_trickled_ends_at_the_deadline(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, llm_server) -> None:
    llm_server.script(Reply.trickle('{"title": "A title", "situation": "' + "x" * 100))
    auth.login_as(actors.member)
    response = client.post_form("/log/structure", {
        "title": "", "situation": "Profiled checkout and cached lookups in Redis.",
        "work_date": "2026-11-20", "impact": "Medium"}, htmx=True)
    assert response.status_code == 503
    assert "took too long" in response.get_data(as_text=True)
    [row] = calls(app)
    assert row.purpose == "structure"
    assert_ended_at_the_deadline(row)
    assert llm_server.requests[0].json["max_tokens"] == MAX_TOKENS["structure"]


def test_a_trickled_draft_stream_ends_at_the_deadline_and_keeps_what_arrived(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script(Reply.trickle("Cut p95 to 310 ms. Then " + "more " * 40, fast_chunks=5))
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"},
                                headers={"Accept": "text/event-stream"}, buffered=True)
    events = events_of(response)
    arrived = "".join(data for name, data in events if name == "chunk")
    assert arrived == "Cut p95 to 310 ms. "
    name, data = events[-1]
    assert name == "failed" and "took too long" in data["message"]
    assert data["partial"] == arrived and "in the editor, not saved" in data["message"]
    assert no_review(app)
    [row] = calls(app)
    assert_ended_at_the_deadline(row)
    assert llm_server.requests[0].json["max_tokens"] == MAX_TOKENS["weekly_review"]


def test_a_trickled_draft_without_javascript_keeps_what_arrived_in_the_editor(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script(Reply.trickle("Cut p95 to 310 ms. Then " + "more " * 40, fast_chunks=5))
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"})
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "took too long" in body
    editor = re.search(r'<textarea[^>]*id="review-body"[^>]*>(.*?)</textarea>', body, re.S).group(1)
    assert editor.strip() == "Cut p95 to 310 ms."
    assert no_review(app)
    assert_ended_at_the_deadline(calls(app)[0])


def test_retries_stay_within_the_total_budget(app: Flask, actors: Actors, llm_server) -> None:
    """A 429 (wait 2 s) then a trickle: the second attempt gets only what is left of a 6 s budget."""
    llm_server.script(Reply.rate_limited(retry_after=2), Reply.trickle(TRICKLE))
    llm = OpenAILLM.from_config({**app.config, "LLM_TOTAL_BUDGET_SECONDS": 6})
    with app.app_context(), pytest.raises(LLMError) as caught:
        llm.complete(weekly_review_task([], week=WEEK), user_id=actors.member.id)
    assert caught.value.outcome == "deadline" and "call budget" in caught.value.detail
    [row] = calls(app)
    assert row.attempts == 2
    assert_ended_at_the_deadline(row, bound=6)


# --- bounded output -----------------------------------------------------------------------


def test_a_3mb_ask_answer_is_refused_before_it_is_stored(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script(Reply.huge())
    auth.login_as(actors.member)
    response = ask(client, "How did I cut checkout latency?")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "longer than allowed" in body and len(body) < 50_000
    assert questions(app) == []
    [row] = calls(app)
    assert (row.outcome, row.error_code) == ("too_long", "answer_bytes")
    assert client.get("/ask").status_code == 200


def test_an_ask_answer_just_past_the_bound_is_refused(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script(Reply.normal("x" * (MAX_OUTPUT_CHARS["ask"] + 1)))
    auth.login_as(actors.member)
    assert ask(client, "How did I cut checkout latency?").status_code == 503
    assert questions(app) == []
    assert [(r.outcome, r.error_code) for r in calls(app)] == [("too_long", "output_limit")]


def test_a_3mb_draft_stream_is_stopped_at_its_bound_and_never_saved(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, entries, llm_server) -> None:
    llm_server.script(Reply.huge())
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"},
                                headers={"Accept": "text/event-stream"}, buffered=True)
    assert len(response.get_data()) < 3 * MAX_OUTPUT_CHARS["weekly_review"]
    events = events_of(response)
    arrived = "".join(data for name, data in events if name == "chunk")
    assert len(arrived) == MAX_OUTPUT_CHARS["weekly_review"]
    name, data = events[-1]
    assert name == "failed" and "longer than allowed" in data["message"]
    assert data["partial"] == arrived
    assert no_review(app)
    [row] = calls(app)
    assert (row.outcome, row.error_code) == ("too_long", "output_limit")


def test_an_over_long_answer_stored_before_the_bound_is_shown_cut_and_marked(
        app: Flask, client: Client, auth: AuthActions, actors: Actors) -> None:
    with app.app_context():
        row = AskQuestion(user_id=actors.member.id, question="Old question", answer="word " * 600_000,
                          cited_entry_ids=[], entries_used=1, include_team=False)
        db.session.add(row)
        db.session.commit()
        row_id = row.id
    auth.login_as(actors.member)
    body = client.get(f"/ask?a={row_id}").get_data(as_text=True)
    assert "Cut here: this answer is longer than 8000 characters." in body
    assert len(body) < 4 * 3 * MAX_OUTPUT_CHARS["ask"]  # answer area and history, not 3 MB
