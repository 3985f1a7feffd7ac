"""Ask your log with embeddings: off by default; when on, meaning-based retrieval through a real
OpenAI-compatible server on 127.0.0.1, only over entries the asker may see, falling back to
keyword search whenever the embeddings endpoint fails."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from app.cli.config import config_cli
from app.extensions import db
from app.models import EntryEmbedding, LogEntry, User
from app.services.ask import retrieval
from app.services.log.entries import purge_entry, trash_entry, update_entry, validate_entry
from tests.conftest import Actors, AuthActions, Client
from tests.llm_server import API_KEY, Reply, embedding_words, make_week
from tests.log_support import count_statements, make_entries, make_entry
from tests.test_ask import ask, ledger, linked, questions

LAUNCH = "what did I launch?"
NOTHING_FOUND = "I found nothing in the entries you can see"


@pytest.fixture
def config_overrides(llm_server) -> dict:
    # The offline provider answers; only the embeddings go to the test server.
    return llm_server.embeddings_config(LLM_TIMEOUT_SECONDS=1, LLM_MAX_ATTEMPTS=2,
                                        LLM_RETRY_AFTER_MAX_SECONDS=2, REDIS_URL=None,
                                        ASK_RATE_LIMIT="100/minute")


@pytest.fixture
def week(app: Flask, actors: Actors) -> list[int]:
    return make_week(app, actors.member)


@pytest.fixture
def shipped(app: Flask, actors: Actors) -> int:
    """An entry about launching something that never says "launch"."""
    return make_entry(app, actors.member, "Shipped the payments release", work_date=date(2026, 11, 13),
                      action="Moved all merchants to the new card flow.", tags="payments")


def embeddings_ledger(app: Flask):
    return [c for c in ledger(app) if c.model == "test-embedding"]


def stored(app: Flask) -> dict[int, EntryEmbedding]:
    with app.app_context():
        rows = {r.entry_id: r for r in db.session.scalars(sa.select(EntryEmbedding))}
        db.session.expunge_all()
        return rows


def edit(app: Flask, owner: User, entry_id: int, **changes: str) -> None:
    with app.app_context():
        user = db.session.get(User, owner.id)
        entry = db.session.get(LogEntry, entry_id)
        data, errors = validate_entry({**entry.snapshot(), "tags": ", ".join(entry.tags), **changes},
                                      date(2026, 11, 23))
        assert data is not None, errors
        update_entry(user, entry, data, entry.version)
        db.session.commit()


class TestOffByDefault:
    @pytest.fixture
    def config_overrides(self, llm_server, monkeypatch) -> dict:
        # An endpoint and a key are there; only the model setting is missing, as by default.
        monkeypatch.delenv("ASK_EMBEDDINGS_MODEL", raising=False)
        return {"OPENAI_BASE_URL": llm_server.url, "OPENAI_API_KEY": "sk-test", "REDIS_URL": None}

    def test_no_embeddings_request_is_ever_made(self, app: Flask, client: Client, auth: AuthActions,
                                                actors: Actors, week: list[int], shipped: int,
                                                llm_server) -> None:
        assert app.config["ASK_EMBEDDINGS_MODEL"] is None
        auth.login_as(actors.member)
        assert NOTHING_FOUND in ask(client, LAUNCH).get_data(as_text=True)  # keywords alone miss it
        assert linked(ask(client, "checkout latency").get_data(as_text=True)) == [week[0]]
        assert llm_server.embedding_requests == [] and llm_server.requests == []
        assert stored(app) == {}
        assert [c.provider for c in ledger(app)] == ["offline"]


def test_it_finds_an_entry_by_meaning_that_keyword_search_misses(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], shipped: int,
        llm_server) -> None:
    auth.login_as(actors.member)
    app.config["ASK_EMBEDDINGS_MODEL"] = None
    assert NOTHING_FOUND in ask(client, LAUNCH).get_data(as_text=True)
    assert llm_server.embedding_requests == []

    app.config["ASK_EMBEDDINGS_MODEL"] = "test-embedding"
    body = ask(client, LAUNCH).get_data(as_text=True)
    assert NOTHING_FOUND not in body
    assert linked(body) == [shipped]
    assert "Shipped the payments release" in body
    # The question once, then every visible entry (title, STAR parts, tags), in one batch.
    question, entries = llm_server.embedding_requests
    assert question.inputs == [LAUNCH]
    assert question.json["model"] == "test-embedding"
    assert question.headers["authorization"] == f"Bearer {API_KEY}"
    assert len(entries.inputs) == len(week) + 1
    assert ("Shipped the payments release\nMoved all merchants to the new card flow.\n"
            "Tags: payments") in entries.inputs
    assert set(stored(app)) == {*week, shipped}
    [row] = [q for q in questions(app) if q.cited_entry_ids]
    assert row.cited_entry_ids == [shipped]
    # Each embeddings call is in the ledger, as Ask's, with the tokens the server reported.
    calls = embeddings_ledger(app)
    assert [(c.purpose, c.provider, c.outcome, c.user_id) for c in calls] == [
        ("ask", "openai", "ok", actors.member.id)] * 2
    assert (calls[0].prompt_tokens, calls[0].completion_tokens) == (1, 0)  # "launch"
    assert calls[1].prompt_tokens == sum(len(embedding_words(text)) for text in entries.inputs)
    assert not any(c.usage_estimated for c in calls)


def test_keyword_matches_still_come_first_among_close_meanings(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], shipped: int,
        llm_server) -> None:
    auth.login_as(actors.member)
    body = ask(client, "How did I cut checkout latency?").get_data(as_text=True)
    assert linked(body)[0] == week[0]
    assert "p95 dropped from 900 ms to 310 ms" in body


def test_only_entries_the_asker_may_see_are_embedded_or_sent(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, shipped: int, llm_server) -> None:
    app.config.update(llm_server.config(), ASK_EMBEDDINGS_MODEL="test-embedding")  # chat here too
    outsider = make_entry(app, actors.outsider, "Shipped the payments release ZEBRA-7781",
                          work_date=date(2026, 11, 13), action="Cut over all merchants. ZEBRA-7781")
    teammate = make_entry(app, actors.teammate, "Launched the ledger QUOKKA-12")
    trashed = make_entry(app, actors.member, "Released the refunds flow WOMBAT-3", trashed=True)
    llm_server.responder = lambda request: Reply(text=" ".join(
        f"[#{e['id']}]" for e in request.data["entries"]) + f" [#{outsider}]")
    auth.login_as(actors.member)
    body = ask(client, LAUNCH).get_data(as_text=True)
    assert linked(body) == [shipped]
    assert f"#{outsider}?</span>" in body  # named by the model, but not a citation
    [chat] = llm_server.requests
    assert [e["id"] for e in chat.data["entries"]] == [shipped]
    sent = json.dumps([r.json for r in llm_server.embedding_requests])
    assert "ZEBRA" not in sent and "QUOKKA" not in sent and "WOMBAT" not in sent
    assert set(stored(app)) == {shipped}
    # A lead who includes the team finds the teammate's launch; the outsider's stays out.
    auth.logout()
    auth.login_as(actors.lead)
    body = ask(client, LAUNCH, include_team=True).get_data(as_text=True)
    assert set(linked(body)) == {shipped, teammate}
    sent = json.dumps([r.json for r in llm_server.embedding_requests])
    assert "QUOKKA-12" in sent and "ZEBRA" not in sent and "WOMBAT" not in sent
    assert outsider not in stored(app) and trashed not in stored(app)
    assert all(outsider not in q.cited_entry_ids for q in questions(app))


def test_an_edited_entry_is_embedded_again_and_unchanged_ones_are_not(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], shipped: int,
        llm_server) -> None:
    auth.login_as(actors.member)
    ask(client, LAUNCH)
    assert len(llm_server.embedded_texts) == 1 + len(week) + 1
    before = stored(app)

    llm_server.embedding_requests.clear()
    ask(client, "Which defects did I handle?")
    assert llm_server.embedded_texts == ["Which defects did I handle?"]  # the question alone

    llm_server.embedding_requests.clear()
    edit(app, actors.member, week[2], result="Also released the hiring rubric.")
    body = ask(client, LAUNCH).get_data(as_text=True)  # new data: not from the cache
    question, batch = llm_server.embedding_requests
    assert question.inputs == [LAUNCH]
    assert len(batch.inputs) == 1 and batch.inputs[0].endswith("Also released the hiring rubric.")
    assert stored(app)[week[2]].content_hash != before[week[2]].content_hash
    assert week[2] in linked(body)  # found by the meaning of its new text

    # An edit outside the embedded text (the category) is noticed, and costs no embedding.
    llm_server.embedding_requests.clear()
    edit(app, actors.member, week[3], category="Operations")
    ask(client, "Any outages?")
    assert llm_server.embedded_texts == ["Any outages?"]
    assert stored(app)[week[3]].content_hash == before[week[3]].content_hash


def test_switching_the_model_does_not_serve_an_old_answer(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], shipped: int,
        llm_server) -> None:
    auth.login_as(actors.member)
    ask(client, LAUNCH)
    assert "from the cache" in ask(client, LAUNCH).get_data(as_text=True)
    requests_before = len(llm_server.embedding_requests)
    app.config["ASK_EMBEDDINGS_MODEL"] = "test-embedding-2"
    body = ask(client, LAUNCH).get_data(as_text=True)
    assert "from the cache" not in body and linked(body) == [shipped]
    new = llm_server.embedding_requests[requests_before:]
    assert {r.json["model"] for r in new} == {"test-embedding-2"}
    assert len(new[1].inputs) == len(week) + 1  # every entry again, under the new model
    assert {r.model for r in stored(app).values()} == {"test-embedding-2"}
    assert [q.cache_hit for q in questions(app)] == [False, True, False]


FAILURES = {
    "server_error": [Reply.server_error(500), Reply.server_error(503)],
    "malformed_json": [Reply.malformed('{"object": "list", "data": [')],
    "wrong_shape": [Reply(kind="raw", body=json.dumps({"object": "list", "data": [], "model": "x"}))],
    "timeout": [Reply.hang(5)],
    "entries_batch_fails": [Reply(), Reply.server_error(500), Reply.server_error(500)],
}
OUTCOMES = {"server_error": ["unavailable"], "malformed_json": ["malformed"], "wrong_shape": ["malformed"],
            "timeout": ["timeout"], "entries_batch_fails": ["ok", "unavailable"]}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_a_failing_endpoint_falls_back_to_keyword_search(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], shipped: int,
        llm_server, failure: str) -> None:
    llm_server.script_embeddings(*FAILURES[failure])
    auth.login_as(actors.member)
    response = ask(client, "How did I cut checkout latency?")
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert linked(body) == [week[0]] and "p95 dropped from 900 ms to 310 ms" in body
    assert "went wrong" not in body and 'class="ask-error"' not in body
    calls = embeddings_ledger(app)
    assert [c.outcome for c in calls] == OUTCOMES[failure]
    assert all(c.purpose == "ask" and c.user_id == actors.member.id for c in calls)
    assert calls[-1].error_code
    if failure == "server_error":
        assert (calls[0].error_code, calls[0].attempts) == ("http_503", 2)
    # The degraded answer is not cached: once the endpoint is back, the same question finds more.
    body = ask(client, "How did I cut checkout latency?").get_data(as_text=True)
    assert "from the cache" not in body and linked(body)[0] == week[0]
    assert embeddings_ledger(app)[-1].outcome == "ok"
    assert [q.cache_hit for q in questions(app)] == [False, False]


def test_a_missing_api_key_falls_back_and_is_recorded(app: Flask, client: Client, auth: AuthActions,
                                                      actors: Actors, week: list[int], llm_server) -> None:
    app.config["OPENAI_API_KEY"] = None
    auth.login_as(actors.member)
    assert linked(ask(client, "checkout latency").get_data(as_text=True)) == [week[0]]
    assert llm_server.embedding_requests == []
    [call] = embeddings_ledger(app)
    assert (call.outcome, call.error_code) == ("error", "missing_api_key")


def test_only_the_newest_candidates_are_compared(app: Flask, client: Client, auth: AuthActions,
                                                 actors: Actors, week: list[int], shipped: int,
                                                 llm_server) -> None:
    app.config["ASK_EMBEDDINGS_MAX_CANDIDATES"] = 3  # the shipped entry is the oldest
    auth.login_as(actors.member)
    assert shipped not in linked(ask(client, LAUNCH).get_data(as_text=True))
    assert len(llm_server.embedding_requests[1].inputs) == 3
    assert shipped not in stored(app)


def test_a_question_embeds_a_bounded_number_of_entries_and_is_not_cached_until_all_are(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int], shipped: int,
        llm_server, monkeypatch) -> None:
    monkeypatch.setattr(retrieval, "EMBED_PER_QUESTION", 4)
    monkeypatch.setattr(retrieval, "EMBED_BATCH", 3)
    question = "What did I launch in payments?"
    auth.login_as(actors.member)
    first = ask(client, question).get_data(as_text=True)
    assert [len(r.inputs) for r in llm_server.embedding_requests] == [1, 3, 1]
    assert linked(first) and set(stored(app)) == {week[5], week[4], week[3], week[2]}  # the newest
    second = ask(client, question).get_data(as_text=True)
    assert "from the cache" not in second and linked(second)
    assert [len(r.inputs) for r in llm_server.embedding_requests[3:]] == [1, 3]
    assert set(stored(app)) == {*week, shipped}
    assert "from the cache" in ask(client, question).get_data(as_text=True)
    assert [q.cache_hit for q in questions(app)] == [False, False, True]


@pytest.mark.parametrize("embeddings", ["on", "off"])
def test_it_asks_in_a_constant_number_of_queries(app: Flask, client: Client, auth: AuthActions,
                                                 actors: Actors, llm_server, embeddings: str) -> None:
    if embeddings == "off":
        app.config["ASK_EMBEDDINGS_MODEL"] = None
    auth.login_as(actors.member)
    make_entries(app, actors.member, 3)
    ask(client, "entry python")  # embeds them all
    with count_statements(app) as few:
        ask(client, "entry backend")
    make_entries(app, actors.member, 40, start=date(2026, 10, 1))
    ask(client, "entry python again")
    with count_statements(app) as many:
        body = ask(client, "entry backend again").get_data(as_text=True)
    assert len(linked(body)) > 0 and len(stored(app)) == (43 if embeddings == "on" else 0)
    assert many.count == few.count, many.statements


def test_a_purged_entry_takes_its_embedding_with_it(app: Flask, client: Client, auth: AuthActions,
                                                    actors: Actors, shipped: int, llm_server) -> None:
    auth.login_as(actors.member)
    ask(client, LAUNCH)
    assert shipped in stored(app)
    with app.app_context():
        trash_entry(db.session.get(User, actors.member.id), db.session.get(LogEntry, shipped))
        db.session.commit()
    assert shipped in stored(app)  # trash can be undone: the vector stays, unused
    with app.app_context():
        purge_entry(db.session.get(User, actors.member.id), db.session.get(LogEntry, shipped))
        db.session.commit()
    assert shipped not in stored(app)


class TestConfigCheck:
    @pytest.fixture
    def env(self, monkeypatch, tmp_path):
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASK_EMBEDDINGS_MODEL", "ASK_EMBEDDINGS_BASE_URL",
                     "ASK_EMBEDDINGS_MAX_CANDIDATES", "APP_ENV", "LLM_PROVIDER", "SECRET_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path))
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'check.db'}")
        return monkeypatch.setenv

    def test_embeddings_without_a_key_are_a_problem(self, env) -> None:
        env("ASK_EMBEDDINGS_MODEL", "text-embedding-3-small")
        env("ASK_EMBEDDINGS_BASE_URL", "ftp://models.internal/v1")
        result = CliRunner().invoke(config_cli, ["check", "--no-connect"])
        assert result.exit_code == 1
        assert "ASK_EMBEDDINGS_MODEL is set but OPENAI_API_KEY is not" in result.output
        assert "ASK_EMBEDDINGS_BASE_URL must be an http(s) URL" in result.output

    def test_embeddings_with_a_key_pass_and_off_needs_nothing(self, env) -> None:
        assert CliRunner().invoke(config_cli, ["check", "--no-connect"]).exit_code == 0
        env("ASK_EMBEDDINGS_MODEL", "text-embedding-3-small")
        env("OPENAI_API_KEY", "sk-abcdefghijklmnopqrstu")
        result = CliRunner().invoke(config_cli, ["check", "--no-connect"])
        assert result.exit_code == 0, result.output
