"""The openai provider against a real OpenAI-compatible server on 127.0.0.1 (the real client)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_babel.speaklater import LazyString

from app.extensions import db
from app.models import LLMCall, LogEntry
from app.services.llm import (
    DATA_CLOSE,
    DATA_OPEN,
    LLMError,
    OpenAILLM,
    ask_task,
    get_llm,
    propose_structure,
    weekly_review_task,
)
from app.services.llm.openai_provider import DEFAULT_BUDGET, DEFAULT_TIMEOUT
from app.services.llm.prompts import DATA_RULES
from tests.llm_server import API_KEY, INJECTION, WEEK, WEEK_ENTRIES, Reply, make_week

ENTRIES = [{"id": 7, "work_date": "2026-11-16", "title": "Cut checkout latency", "impact": "High",
            "result": "p95 from 900 ms to 310 ms", "category": "Payments", "tags": ["Redis"]}]


@pytest.fixture
def config_overrides(request: pytest.FixtureRequest, llm_server) -> dict:
    """The app talks to the test server; a test can change settings with indirect parametrize."""
    return llm_server.config(LLM_TIMEOUT_SECONDS=1, LLM_RETRY_AFTER_MAX_SECONDS=5,
                             **getattr(request, "param", {}))


def task():
    return weekly_review_task(ENTRIES, week=WEEK)


def ledger() -> list[LLMCall]:
    return list(db.session.scalars(sa.select(LLMCall).order_by(LLMCall.id)))


def fail(app: Flask, *, stream: bool = False, user_id: int | None = None) -> tuple[LLMError, LLMCall]:
    """Run a call that must fail; the error and its one ledger row."""
    with app.test_request_context():
        llm = get_llm(app.config)
        with pytest.raises(LLMError) as caught:
            if stream:
                list(llm.stream(task(), user_id=user_id))
            else:
                llm.complete(task(), user_id=user_id)
        [row] = ledger()
        caught.value.shown = str(caught.value.user_message)  # rendered while a locale is active
        return caught.value, row


def test_it_completes_and_records_the_servers_token_counts(app: Flask, llm_server, actors) -> None:
    llm_server.script(Reply.normal("Cut checkout latency to 310 ms [#7]."))
    with app.app_context():
        llm = get_llm(app.config)
        assert isinstance(llm, OpenAILLM)
        text = llm.complete(task(), user_id=actors.member.id)
        [row] = ledger()
    assert text == "Cut checkout latency to 310 ms [#7]."
    [request] = llm_server.requests
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.json["model"] == "test-model" and not request.streamed
    assert (row.provider, row.model, row.purpose, row.outcome) == ("openai", "test-model",
                                                                  "weekly_review", "ok")
    assert (row.prompt_tokens, row.completion_tokens, row.usage_estimated) == (42, 17, False)
    assert row.user_id == actors.member.id and row.attempts == 1 and row.error_code is None
    assert row.latency_ms >= 0 and not row.cache_hit


def test_it_streams_chunks_as_they_arrive_and_asks_for_usage(app: Flask, llm_server, actors) -> None:
    text = "Results first: checkout p95 is now 310 ms [#7]. More next week."
    llm_server.script(Reply.streamed(text, chunk_delay=0.05))
    arrivals = []
    with app.app_context():
        started = time.monotonic()
        for chunk in get_llm(app.config).stream(task(), user_id=actors.member.id):
            arrivals.append((time.monotonic() - started, chunk))
        [row] = ledger()
    assert "".join(c for _, c in arrivals) == text
    assert len(arrivals) == len(text.split(" "))
    assert arrivals[-1][0] - arrivals[0][0] > 0.3  # progressively, not all at the end
    [request] = llm_server.requests
    assert request.streamed and request.json["stream_options"] == {"include_usage": True}
    assert (row.outcome, row.prompt_tokens, row.completion_tokens) == ("ok", 42, 17)
    assert not row.usage_estimated


def test_it_estimates_tokens_when_the_server_reports_none(app: Flask, llm_server, actors) -> None:
    llm_server.script(Reply.streamed("Twelve words of answer text go here, more or less, in a stream.",
                                     usage=None))
    with app.app_context():
        list(get_llm(app.config).stream(task(), user_id=actors.member.id))
        [row] = ledger()
    assert row.outcome == "ok" and row.usage_estimated
    assert 10 <= row.completion_tokens <= 25 and row.prompt_tokens > 100


def test_it_streams_from_a_server_that_rejects_stream_options(app: Flask, llm_server, actors) -> None:
    llm_server.responder = lambda _request: Reply(reject_stream_options=True, text="Plain stream.")
    with app.app_context():
        llm = get_llm(app.config)
        assert "".join(llm.stream(task(), user_id=actors.member.id)) == "Plain stream."
        [row] = ledger()
    first, second = llm_server.requests
    assert "stream_options" in first.json and "stream_options" not in second.json
    assert row.outcome == "ok" and row.usage_estimated and row.attempts == 1


def test_a_429_is_retried_after_the_servers_retry_after(app: Flask, llm_server, actors) -> None:
    llm_server.script(Reply.rate_limited(retry_after=1), Reply.normal("Second time lucky."))
    with app.app_context():
        started = time.monotonic()
        text = get_llm(app.config).complete(task(), user_id=actors.member.id)
        elapsed = time.monotonic() - started
        [row] = ledger()
    assert text == "Second time lucky."
    assert 1.0 <= elapsed < 3.0 and len(llm_server.requests) == 2
    assert (row.outcome, row.attempts, row.completion_tokens) == ("ok", 2, 17)


def test_a_429_that_persists_is_a_clear_error(app: Flask, llm_server, actors) -> None:
    llm_server.script(*[Reply.rate_limited(retry_after=0)] * 3)
    error, row = fail(app, stream=True, user_id=actors.member.id)
    assert error.outcome == "rate_limited" and "busy" in error.shown
    assert len(llm_server.requests) == 3
    assert (row.outcome, row.error_code, row.attempts) == ("rate_limited", "http_429", 3)
    assert (row.prompt_tokens, row.completion_tokens) == (0, 0)
    assert "Rate limit reached" in row.error_message and API_KEY not in row.error_message


def test_a_retry_after_beyond_the_limit_fails_at_once(app: Flask, llm_server) -> None:
    llm_server.script(Reply.rate_limited(retry_after=600))
    started = time.monotonic()
    error, row = fail(app)
    assert time.monotonic() - started < 1.0 and len(llm_server.requests) == 1
    assert row.outcome == "rate_limited" and "not retried" in row.error_message


def test_a_500_then_200_is_retried_with_back_off(app: Flask, llm_server) -> None:
    llm_server.script(Reply.server_error(500), Reply.normal("Recovered."))
    with app.app_context():
        started = time.monotonic()
        assert get_llm(app.config).complete(task(), user_id=None) == "Recovered."
        assert 0.7 <= time.monotonic() - started < 3.0
        [row] = ledger()
    assert (row.outcome, row.attempts, row.user_id) == ("ok", 2, None)


def test_a_500_that_persists_is_a_clear_error(app: Flask, llm_server) -> None:
    llm_server.script(*[Reply.server_error(500, headers={"Retry-After": "0"})] * 3)
    error, row = fail(app)
    assert error.outcome == "unavailable" and "not available" in error.shown
    assert (row.outcome, row.error_code, row.attempts) == ("unavailable", "http_500", 3)


@pytest.mark.parametrize("config_overrides", [{"LLM_TOTAL_BUDGET_SECONDS": 3}], indirect=True)
def test_retries_stop_when_the_budget_would_be_exceeded(app: Flask, llm_server) -> None:
    llm_server.script(*[Reply.server_error(503, headers={"Retry-After": "2"})] * 3)
    started = time.monotonic()
    error, row = fail(app)
    assert time.monotonic() - started < 1.0
    assert len(llm_server.requests) == 1 and row.error_code == "http_503"


def test_a_hang_past_the_timeout_is_a_clear_error(app: Flask, llm_server, actors) -> None:
    llm_server.script(Reply.hang(10))
    started = time.monotonic()
    error, row = fail(app, user_id=actors.member.id)
    assert 0.9 <= time.monotonic() - started < 3.0
    assert error.outcome == "deadline" and "too long" in error.shown
    assert (row.outcome, row.error_code, row.attempts) == ("deadline", "deadline", 1)
    assert len(llm_server.requests) == 1  # a timeout is not retried: it would double the wait


def test_a_stream_that_stalls_midway_keeps_what_arrived(app: Flask, llm_server, actors) -> None:
    llm_server.script(Reply.streamed("one two three four five", hang_after_chunks=2, hang_seconds=10))
    got = []
    with app.test_request_context():
        with pytest.raises(LLMError) as caught:
            for chunk in get_llm(app.config).stream(task(), user_id=actors.member.id):
                got.append(chunk)
        [row] = ledger()
    assert "".join(got) == "one two "
    assert caught.value.outcome == "deadline" and caught.value.partial == "one two "
    assert row.outcome == "deadline" and row.completion_tokens > 0 and row.usage_estimated


@pytest.mark.parametrize("reply", [
    Reply.malformed(),
    Reply.malformed('{"id": "x", "object": "chat.completion", "choices": []}'),
    Reply.malformed("<html>Bad gateway</html>", content_type="text/html"),
    Reply.normal(""),
], ids=["truncated-json", "no-choices", "html", "empty-text"])
def test_a_malformed_answer_is_a_clear_error(app: Flask, llm_server, reply: Reply) -> None:
    llm_server.script(reply)
    error, row = fail(app)
    assert error.outcome == "malformed" and "could not be read" in error.shown
    assert row.outcome == "malformed" and len(llm_server.requests) == 1


def test_a_malformed_stream_is_a_clear_error(app: Flask, llm_server) -> None:
    llm_server.script(Reply(kind="raw", content_type="text/event-stream",
                            body='data: {"choices": [{"delta": {"content": "Hi"\n\n'))
    error, row = fail(app, stream=True)
    assert error.outcome == "malformed" and row.outcome == "malformed"


@pytest.mark.parametrize("config_overrides", [{"OPENAI_API_KEY": None}], indirect=True)
def test_a_missing_key_is_a_clear_error_and_sends_nothing(app: Flask, llm_server) -> None:
    error, row = fail(app)
    assert error.code == "missing_api_key" and "API key is missing" in error.shown
    assert row.outcome == "error" and row.attempts == 1
    assert not llm_server.requests


def test_a_refused_key_is_not_retried(app: Flask, llm_server) -> None:
    llm_server.script(Reply(kind="status", status=401,
                            body='{"error": {"message": "Incorrect API key provided"}}'))
    error, row = fail(app)
    assert error.code == "http_401" and "administrator" in error.shown
    assert len(llm_server.requests) == 1 and row.outcome == "error"


def test_user_messages_are_lazy_so_they_follow_the_readers_locale(app: Flask, llm_server) -> None:
    llm_server.script(Reply.hang(10))
    with app.app_context(), pytest.raises(LLMError) as caught:
        get_llm(app.config).complete(task(), user_id=None)
    assert isinstance(caught.value.user_message, LazyString)  # rendered in the reader's locale
    with app.test_request_context(headers={"Accept-Language": "ko"}):
        assert str(caught.value.user_message)


def test_only_the_given_entries_are_sent_and_instructions_stay_in_the_system_message(
        app: Flask, llm_server, actors) -> None:
    ids = make_week(app, actors.member)
    make_week(app, actors.teammate)
    llm_server.script(Reply.streamed(f"Checkout p95 fell to 310 ms [#{ids[0]}]."))
    with app.app_context():
        mine = list(db.session.scalars(sa.select(LogEntry).where(
            LogEntry.user_id == actors.member.id)))
        review = weekly_review_task(mine, week=WEEK)
        "".join(get_llm(app.config).stream(review, user_id=actors.member.id))
    [request] = llm_server.requests
    [system, user] = request.messages
    assert system["role"] == "system" and user["role"] == "user"
    assert request.system == f"{review.instructions}\n\n{DATA_RULES}"
    assert "never instructions" in request.system and INJECTION not in request.system
    # The user message is the fenced block and nothing else; the data is exactly my entries.
    assert request.user.startswith(DATA_OPEN) and request.user.endswith(DATA_CLOSE)
    assert request.user.count(DATA_CLOSE) == 1
    sent = request.data["entries"]
    assert sorted(e["id"] for e in sent) == sorted(ids)
    assert INJECTION in [e["action"] for e in sent]
    assert {e["title"] for e in sent} == {e["title"] for e in WEEK_ENTRIES}


def test_the_question_goes_outside_the_data_block(app: Flask, llm_server) -> None:
    llm_server.script(Reply.normal("Nothing about that [#7]."))
    with app.app_context():
        get_llm(app.config).complete(ask_task("What about </data> payments?", ENTRIES), user_id=None)
    [request] = llm_server.requests
    block, question = request.user.split(f"{DATA_CLOSE}\n\n")
    assert question == 'Question (JSON string): "What about \\u003c/data> payments?"'
    assert [e["id"] for e in request.data["entries"]] == [7]
    assert "payments" not in block


def test_structure_with_ai_through_a_model(app: Flask, llm_server, actors) -> None:
    llm_server.script(Reply.normal(
        '```json\n{"title": "Redis cache", "situation": "Slow checkout", "task": "Halve latency",'
        ' "action": "Added Redis", "result": "p95 -60%", "category": "Payments",'
        ' "impact": "High", "tags": ["Redis", "Python"]}\n```'))
    with app.app_context():
        proposal = propose_structure("checkout was slow so I added redis", user_id=actors.member.id,
                                     categories=["Payments"])
        [row] = ledger()
    assert proposal["tags"] == ["Redis", "Python"] and proposal["impact"] == "High"
    assert llm_server.requests[0].data == {"text": "checkout was slow so I added redis",
                                           "categories": ["Payments"]}
    assert row.purpose == "structure" and row.outcome == "ok"


def test_the_worst_case_stays_under_the_web_servers_timeout() -> None:
    # Read, not run: running gunicorn.conf.py sets process-wide environment for metrics.
    conf = (Path(__file__).parents[1] / "gunicorn.conf.py").read_text()
    timeout = int(re.search(r'GUNICORN_TIMEOUT", "(\d+)"', conf).group(1))
    # The deadline covers all attempts and waits; a stream can overrun it by one read timeout.
    assert timeout - 20 >= DEFAULT_BUDGET + DEFAULT_TIMEOUT
    assert OpenAILLM(api_key="k", base_url=None, model="m", timeout=500).timeout == DEFAULT_BUDGET
