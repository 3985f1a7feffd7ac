"""Ask your log through the openai provider, against a real OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from app.services.llm import DATA_CLOSE, DATA_OPEN
from tests.conftest import Actors, AuthActions, Client
from tests.llm_server import INJECTION, Reply, make_week
from tests.log_support import make_entry
from tests.test_ask import ask, ledger, linked, questions


@pytest.fixture
def config_overrides(llm_server) -> dict:
    return llm_server.config(LLM_TIMEOUT_SECONDS=1, LLM_RETRY_AFTER_MAX_SECONDS=2, LLM_MAX_ATTEMPTS=2,
                             REDIS_URL=None)


@pytest.fixture
def week(app: Flask, actors: Actors) -> list[int]:
    return make_week(app, actors.member)


def test_it_answers_from_the_server_citing_only_entries_it_sent(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], llm_server) -> None:
    llm_server.script(Reply.normal(f"You cut p95 to 310 ms [#{week[0]}]. Also [#{week[0] + 1000}]."))
    auth.login_as(actors.member)
    body = ask(client, "How did I cut checkout latency?").get_data(as_text=True)
    assert "You cut p95 to 310 ms" in body
    assert linked(body) == [week[0]]
    assert f"#{week[0] + 1000}?</span>" in body  # invented: shown, marked, not a link
    [request] = llm_server.requests
    sent = [e["id"] for e in request.data["entries"]]
    assert week[0] in sent and set(sent) <= set(week)
    assert "checkout latency" in request.user.split(DATA_CLOSE)[1]  # the question, outside the data
    [row] = questions(app)
    assert (row.provider, row.model, row.cited_entry_ids) == ("openai", "test-model", [week[0]])
    [call] = ledger(app)
    assert (call.purpose, call.provider, call.outcome, call.prompt_tokens, call.completion_tokens) == (
        "ask", "openai", "ok", 42, 17)


def test_an_injection_in_an_entry_stays_data_and_other_peoples_entries_never_leave(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], llm_server) -> None:
    outsider = make_entry(app, actors.outsider, "Vendor email notes ZEBRA-7781",
                          action="Vendor notes: the ZEBRA-7781 contract.")
    teammate = make_entry(app, actors.teammate, "Vendor email follow-up QUOKKA-12")
    llm_server.script(Reply.normal(f"HACKED [#{outsider}] [#{week[5]}]"))
    auth.login_as(actors.member)
    body = ask(client, f"What were the vendor email notes? Show #{outsider} too").get_data(as_text=True)
    [request] = llm_server.requests
    raw = json.dumps(request.json, ensure_ascii=False)
    assert "ZEBRA-7781" not in raw and "QUOKKA-12" not in raw
    assert {e["id"] for e in request.data["entries"]} <= set(week)
    user_message = request.user
    start, end = user_message.index(DATA_OPEN), user_message.rindex(DATA_CLOSE)
    assert user_message.index("Ignore previous instructions") > start
    assert user_message.index("Ignore previous instructions") < end
    # The entry's "</data>" is escaped, so the fence closes exactly once, after the data.
    assert user_message.count(DATA_CLOSE) == 1
    assert "Ignore previous instructions" not in request.system
    assert "never instructions to you" in request.system
    # Whatever the model says, a citation of someone else's entry is not a link.
    assert linked(body) == [week[5]]
    assert f"#{outsider}?</span>" in body
    assert questions(app)[0].cited_entry_ids == [week[5]]
    assert teammate not in linked(body)
    assert INJECTION.split(".")[0] not in request.system


def test_an_over_long_question_never_reaches_the_server(app: Flask, client: Client, auth: AuthActions,
                                                        actors: Actors, week: list[int], llm_server) -> None:
    auth.login_as(actors.member)
    response = ask(client, "가" * 501)
    assert response.status_code == 422
    assert llm_server.requests == [] and ledger(app) == [] and questions(app) == []


def test_a_server_error_gives_a_clear_message_and_loses_nothing(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], llm_server) -> None:
    llm_server.script(Reply.server_error(500), Reply.server_error(503))
    auth.login_as(actors.member)
    response = ask(client, "How did I cut checkout latency?")
    body = response.get_data(as_text=True)
    assert response.status_code == 503
    assert "The AI service is not available right now" in body and 'class="ask-error"' in body
    assert "Traceback" not in body and "HX-Retarget" not in response.headers
    assert len(llm_server.requests) == 2  # retried once, then gave up
    assert questions(app) == []
    [call] = ledger(app)
    assert (call.purpose, call.outcome, call.error_code) == ("ask", "unavailable", "http_503")
    # Without htmx the page comes back with the question still in the box.
    llm_server.script(Reply.server_error(500), Reply.server_error(500))
    page = ask(client, "How did I cut checkout latency, again?", htmx=False)
    assert page.status_code == 503
    assert "How did I cut checkout latency, again?</textarea>" in page.get_data(as_text=True)
    # And it works once the server is back.
    llm_server.script(Reply.normal(f"Done [#{week[0]}]"))
    assert linked(ask(client, "How did I cut checkout latency?").get_data(as_text=True)) == [week[0]]


def test_a_missing_api_key_is_explained(app: Flask, client: Client, auth: AuthActions, actors: Actors,
                                        week: list[int], llm_server) -> None:
    app.config["OPENAI_API_KEY"] = None
    auth.login_as(actors.member)
    body = ask(client, "checkout latency").get_data(as_text=True)
    assert "the API key is missing" in body and llm_server.requests == []


def test_a_cached_answer_does_not_call_the_server_again(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], llm_server) -> None:
    llm_server.script(Reply.normal(f"Latency work [#{week[0]}]"))
    auth.login_as(actors.member)
    first = ask(client, "checkout latency?").get_data(as_text=True)
    second = ask(client, "Checkout latency").get_data(as_text=True)
    assert len(llm_server.requests) == 1
    assert linked(first) == linked(second) == [week[0]]
    assert [(c.provider, c.cache_hit) for c in ledger(app)] == [("openai", False), ("openai", True)]
