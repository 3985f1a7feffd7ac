"""Ask your log with the offline provider: visibility, citations, dates, limits, cache, history."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import LLMCall, User
from app.models.ask import AskQuestion
from app.services.log.entries import update_entry, validate_entry
from tests.conftest import Actors, AuthActions, Client
from tests.llm_server import make_week
from tests.log_support import assert_inert, count_statements, make_entry
from tests.test_ops_metrics import scrape, value

HX = {"HX-Request": "true"}
CITED_LINK = re.compile(r'<a class="citation" href="/log/entries/(\d+)"')


def ask(client: Client, question: str, *, htmx: bool = True, include_team: bool = False):
    data = {"question": question}
    if include_team:
        data["include_team"] = "1"
    return client.post_form("/ask", data, htmx=htmx)


def linked(body: str) -> list[int]:
    return [int(i) for i in CITED_LINK.findall(body)]


def ledger(app: Flask) -> list[LLMCall]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(LLMCall).order_by(LLMCall.id)))
        db.session.expunge_all()
        return rows


def questions(app: Flask) -> list[AskQuestion]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AskQuestion).order_by(AskQuestion.id)))
        db.session.expunge_all()
        return rows


@pytest.fixture
def week(app: Flask, actors: Actors) -> list[int]:
    return make_week(app, actors.member)


def test_it_needs_a_login(client: Client) -> None:
    response = client.get("/ask")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_it_shows_the_question_box_with_a_limit_and_a_counter(client: Client, auth: AuthActions,
                                                              actors: Actors) -> None:
    auth.login_as(actors.member)
    body = client.get("/ask").get_data(as_text=True)
    assert 'maxlength="500"' in body and 'data-char-counter="#ask-count"' in body
    assert "0 of 500 characters" in body
    assert 'href="/ask" aria-current="page"' in body  # the nav link
    assert "include_team" not in body  # only leads may widen the search


def test_it_answers_citing_the_entries_it_used(app: Flask, client: Client, auth: AuthActions,
                                               actors: Actors, week: list[int]) -> None:
    auth.login_as(actors.member)
    response = ask(client, "How did I cut checkout latency?")
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body
    assert week[0] in linked(body)
    assert "p95 dropped from 900 ms to 310 ms" in body
    assert response.headers["HX-Trigger"] == "ask-answered"
    [row] = questions(app)
    assert row.user_id == actors.member.id and week[0] in row.cited_entry_ids
    assert set(row.cited_entry_ids) <= set(week)
    [call] = ledger(app)
    assert (call.purpose, call.provider, call.outcome, call.cache_hit) == ("ask", "offline", "ok", False)
    assert call.user_id == actors.member.id


def test_without_htmx_it_redirects_to_the_answer(client: Client, auth: AuthActions, actors: Actors,
                                                  week: list[int]) -> None:
    auth.login_as(actors.member)
    response = ask(client, "checkout latency", htmx=False)
    assert response.status_code == 303
    assert re.search(r"/ask\?a=\d+#answer$", response.headers["Location"])
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    assert week[0] in linked(body) and 'id="answer-' in body


def test_it_finds_korean_substrings(client: Client, auth: AuthActions, actors: Actors,
                                    week: list[int]) -> None:
    auth.login_as(actors.member)
    body = ask(client, "결제 리팩터링은 어떻게 했어?").get_data(as_text=True)
    assert linked(body)[0] == week[1]
    assert "환불" in body


def test_it_never_uses_an_outsiders_entry(app: Flask, client: Client, auth: AuthActions,
                                          actors: Actors, week: list[int]) -> None:
    secret = make_entry(app, actors.outsider, "Secret checkout latency plan",
                        result="Outsider-only checkout latency numbers.")
    auth.login_as(actors.member)
    body = ask(client, f"Secret checkout latency plan #{secret} [#{secret}]").get_data(as_text=True)
    assert secret not in linked(body)
    assert "Outsider-only" not in body
    assert "Secret checkout latency plan</strong>" not in body
    [row] = questions(app)
    assert secret not in row.cited_entry_ids
    assert set(row.cited_entry_ids) <= set(week)


def test_a_lead_may_include_the_teams_entries(app: Flask, client: Client, auth: AuthActions,
                                              actors: Actors) -> None:
    theirs = make_entry(app, actors.teammate, "Rolled out the ledger service",
                        result="Ledger service live in all regions.")
    outside = make_entry(app, actors.outsider, "Rolled out the ledger cache",
                         result="Other team's ledger.")
    auth.login_as(actors.lead)
    page = client.get("/ask").get_data(as_text=True)
    assert 'name="include_team"' in page
    alone = ask(client, "ledger rollout").get_data(as_text=True)
    assert theirs not in linked(alone)
    with_team = ask(client, "ledger rollout", include_team=True).get_data(as_text=True)
    assert linked(with_team) == [theirs]
    assert outside not in linked(with_team) and "Other team" not in with_team


def test_a_member_cannot_include_anyone_elses_entries(app: Flask, client: Client, auth: AuthActions,
                                                      actors: Actors) -> None:
    theirs = make_entry(app, actors.teammate, "Rolled out the ledger service")
    auth.login_as(actors.member)
    body = ask(client, "ledger", include_team=True).get_data(as_text=True)
    assert theirs not in linked(body)
    assert questions(app)[0].include_team is False


def test_nothing_found_is_said_plainly_without_asking_a_model(app: Flask, client: Client,
                                                              auth: AuthActions, actors: Actors,
                                                              week: list[int]) -> None:
    auth.login_as(actors.member)
    body = ask(client, "kubernetes helm upgrade").get_data(as_text=True)
    assert "I found nothing in the entries you can see" in body
    assert linked(body) == []
    assert ledger(app) == []


def test_it_reads_dates_in_the_question(app: Flask, client: Client, auth: AuthActions,
                                        actors: Actors) -> None:
    october = make_entry(app, actors.member, "Payments: card vault", work_date=date(2026, 10, 3))
    november = make_entry(app, actors.member, "Payments: refunds", work_date=date(2026, 11, 3))
    auth.login_as(actors.member)
    body = ask(client, "What did I ship for payments in October 2026?").get_data(as_text=True)
    assert linked(body) == [october]
    body = ask(client, "2026-11-03 payments").get_data(as_text=True)
    assert linked(body) == [november]
    body = ask(client, "What did I do in 2026-W40?").get_data(as_text=True)  # Sep 28 - Oct 4
    assert linked(body) == [october]


@pytest.mark.parametrize("question", ["payments in 0000-01", "payments jan 0000", "0000년 1월 결제",
                                      "payments in 9999-12", "payments 0000-W01", "payments 0000-00-00"])
def test_dates_no_calendar_has_are_not_dates(client: Client, auth: AuthActions, actors: Actors,
                                             question: str) -> None:
    make_entry(client.application, actors.member, "Payments: card vault 결제", work_date=date(2026, 10, 3))
    auth.login_as(actors.member)
    response = ask(client, question)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "card vault" in body or "I found nothing in the entries you can see" in body


@pytest.mark.parametrize("answer", ["%C2%B2", "99999999999999999999", "9" * 5000, "-1", "x"])
def test_a_strange_answer_id_shows_the_page(client: Client, auth: AuthActions, actors: Actors,
                                            answer: str) -> None:
    auth.login_as(actors.member)
    response = client.get(f"/ask?a={answer}")
    assert response.status_code == 200
    assert 'name="question"' in response.get_data(as_text=True)


@pytest.mark.parametrize("question", ["a" * 501, "가" * 501])
def test_an_over_long_question_is_refused_before_any_work(app: Flask, client: Client, auth: AuthActions,
                                                          actors: Actors, week: list[int],
                                                          question: str) -> None:
    auth.login_as(actors.member)
    response = ask(client, question)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Your question has 501 characters; the limit is 500" in body
    assert "HX-Retarget" not in response.headers  # shown in the answer area, not as a toast
    assert ledger(app) == [] and questions(app) == []
    page = ask(client, question, htmx=False)
    assert page.status_code == 422
    assert "the limit is 500" in page.get_data(as_text=True)
    assert question in page.get_data(as_text=True)  # nothing the user typed is lost


def test_500_korean_characters_are_accepted(app: Flask, client: Client, auth: AuthActions,
                                            actors: Actors, week: list[int]) -> None:
    auth.login_as(actors.member)
    question = ("결제모듈 리팩터링 " * 60)[:500]
    assert len(question) == 500 and len(question.encode()) > 1000
    response = ask(client, question)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert questions(app)[0].question == question.strip()


def test_an_empty_question_is_refused(app: Flask, client: Client, auth: AuthActions,
                                      actors: Actors) -> None:
    auth.login_as(actors.member)
    response = ask(client, "   ")
    assert response.status_code == 422 and "Type a question first" in response.get_data(as_text=True)
    assert questions(app) == []


class TestRateLimit:
    def test_the_11th_question_in_a_minute_is_refused_in_the_answer_area(
            self, app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int]) -> None:
        auth.login_as(actors.member)
        ask(client, "x" * 501)  # refused before any work: does not use up the limit
        statuses = [ask(client, f"checkout latency {i}").status_code for i in range(10)]
        assert statuses == [200] * 10
        before = scrape(client)
        refused = ask(client, "checkout latency again")
        body = refused.get_data(as_text=True)
        assert refused.status_code == 429
        seconds = int(refused.headers["Retry-After"])
        assert 0 < seconds <= 60
        assert re.search(r"as many questions as allowed for now \(10 per minute\)\. Try again in \d+ seconds",
                         body), body
        assert "HX-Retarget" not in refused.headers and 'class="ask-error"' in body
        after = scrape(client)
        assert value(after, "rate_limit_exceeded_total", route="/ask") - value(
            before, "rate_limit_exceeded_total", route="/ask") == 1
        page = ask(client, "checkout latency, a full page", htmx=False)
        assert page.status_code == 429
        page_body = page.get_data(as_text=True)
        assert "Try again in" in page_body and "checkout latency, a full page" in page_body
        assert len(questions(app)) == 10

    def test_the_limit_is_per_user(self, client: Client, auth: AuthActions, actors: Actors,
                                   week: list[int], app: Flask) -> None:
        app.config["ASK_RATE_LIMIT"] = "2/minute"
        auth.login_as(actors.member)
        assert [ask(client, "latency").status_code for _ in range(3)] == [200, 200, 429]
        auth.logout()
        auth.login_as(actors.teammate)
        assert ask(client, "latency").status_code == 200

    def test_viewing_the_page_is_not_limited(self, client: Client, auth: AuthActions, actors: Actors,
                                             app: Flask) -> None:
        app.config["ASK_RATE_LIMIT"] = "1/minute"
        auth.login_as(actors.member)
        assert {client.get("/ask").status_code for _ in range(3)} == {200}


@pytest.mark.parametrize("store", ["redis", "database"])
class TestCache:
    @pytest.fixture
    def config_overrides(self, store: str) -> dict:
        import os

        if store == "database":
            return {"REDIS_URL": None}
        url = os.environ.get("REDIS_URL")
        if not url:
            from tests.conftest import service_missing

            service_missing("REDIS_URL is not set; the Redis answer cache is not tested")
        return {"REDIS_URL": url}

    def test_the_same_question_over_unchanged_data_is_answered_from_the_cache(
            self, app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int]) -> None:
        auth.login_as(actors.member)
        before = scrape(client)
        first = ask(client, "How did I cut checkout latency?").get_data(as_text=True)
        second = ask(client, "  how did i cut   CHECKOUT latency ").get_data(as_text=True)
        after = scrape(client)
        assert "from the cache" not in first and "from the cache" in second
        assert linked(second) == linked(first) and week[0] in linked(second)
        rows = questions(app)
        assert [r.cache_hit for r in rows] == [False, True]
        assert rows[0].answer == rows[1].answer
        calls = ledger(app)
        assert [(c.purpose, c.cache_hit) for c in calls] == [("ask", False), ("ask", True)]
        assert calls[1].prompt_tokens == 0 and calls[1].completion_tokens == 0

        def delta(operation: str) -> float:
            return value(after, "cache_operations_total", cache="ask", operation=operation) - value(
                before, "cache_operations_total", cache="ask", operation=operation)

        assert (delta("miss"), delta("hit")) == (1, 1)

    def test_editing_a_visible_entry_invalidates_the_answer(
            self, app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int]) -> None:
        auth.login_as(actors.member)
        ask(client, "checkout latency")
        with app.app_context():
            user = db.session.get(User, actors.member.id)
            entry = db.session.get(__import__("app.models", fromlist=["LogEntry"]).LogEntry, week[0])
            data, _errors = validate_entry({**entry.snapshot(), "tags": ", ".join(entry.tags),
                                            "result": "p95 is now 250 ms."}, date(2026, 11, 23))
            update_entry(user, entry, data, entry.version)
            db.session.commit()
        body = ask(client, "checkout latency").get_data(as_text=True)
        assert "p95 is now 250 ms" in body
        assert [r.cache_hit for r in questions(app)] == [False, False]

    def test_deleting_or_adding_an_entry_invalidates_the_answer(
            self, app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int]) -> None:
        auth.login_as(actors.member)
        ask(client, "checkout latency")
        client.post_form(f"/log/entries/{week[3]}/delete")
        ask(client, "checkout latency")
        make_entry(app, actors.member, "More checkout latency work")
        ask(client, "checkout latency")
        ask(client, "checkout latency")
        assert [r.cache_hit for r in questions(app)] == [False, False, False, True]

    def test_the_cache_is_per_user_and_per_team_flag(
            self, app: Flask, client: Client, auth: AuthActions, actors: Actors) -> None:
        make_entry(app, actors.lead, "Checkout latency review")
        make_entry(app, actors.teammate, "Checkout latency fix")
        auth.login_as(actors.lead)
        ask(client, "checkout latency")
        ask(client, "checkout latency", include_team=True)
        auth.logout()
        auth.login_as(actors.teammate)
        ask(client, "checkout latency")
        assert [r.cache_hit for r in questions(app)] == [False, False, False]


class TestFeedback:
    def test_the_asker_rates_and_comments(self, app: Flask, client: Client, auth: AuthActions,
                                          actors: Actors, week: list[int]) -> None:
        auth.login_as(actors.member)
        ask(client, "checkout latency")
        [row] = questions(app)
        response = client.post_form(f"/ask/{row.id}/feedback", {"rating": "down", "where": "answer"},
                                    htmx=True)
        assert response.status_code == 200 and "Thanks, your feedback was saved" in response.get_data(
            as_text=True)
        client.post_form(f"/ask/{row.id}/feedback", {"comment": "  Missed the Redis part.  "}, htmx=True)
        [row] = questions(app)
        assert (row.rating, row.feedback_comment) == (-1, "Missed the Redis part.")
        assert row.feedback_at is not None
        plain = client.post_form(f"/ask/{row.id}/feedback", {"rating": "up", "comment": ""})
        assert plain.status_code == 302 and plain.headers["Location"].endswith(f"/ask?a={row.id}#answer")
        [row] = questions(app)
        assert (row.rating, row.feedback_comment) == (1, None)
        from tests.log_support import audit_events

        assert len(audit_events(app, "ask.feedback")) == 3

    def test_a_too_long_comment_is_refused(self, app: Flask, client: Client, auth: AuthActions,
                                           actors: Actors, week: list[int]) -> None:
        auth.login_as(actors.member)
        ask(client, "checkout latency")
        [row] = questions(app)
        response = client.post_form(f"/ask/{row.id}/feedback", {"comment": "x" * 1001}, htmx=True)
        assert response.status_code == 422 and "At most 1000 characters" in response.get_data(as_text=True)
        assert questions(app)[0].feedback_at is None

    @pytest.mark.parametrize("who", ["teammate", "lead", "admin"])
    def test_nobody_else_may_rate_an_answer(self, app: Flask, client: Client, auth: AuthActions,
                                            actors: Actors, week: list[int], who: str) -> None:
        auth.login_as(actors.member)
        ask(client, "checkout latency")
        [row] = questions(app)
        auth.logout()
        auth.login_as(getattr(actors, who))
        response = client.post_form(f"/ask/{row.id}/feedback", {"rating": "down"}, htmx=True)
        assert response.status_code == 404
        assert client.get(f"/ask?a={row.id}").get_data(as_text=True).count(f'id="answer-{row.id}"') == 0
        assert questions(app)[0].rating is None

    def test_feedback_needs_a_login(self, client: Client) -> None:
        assert client.post_form("/ask/1/feedback", {"rating": "up"}).status_code == 302


class TestAdminFeedback:
    @pytest.fixture
    def rated(self, app: Flask, client: Client, auth: AuthActions, actors: Actors,
              week: list[int]) -> list[int]:
        ids = []
        for who, question, rating, comment in [
                (actors.member, "checkout latency", "up", "Spot on"),
                (actors.member, "postmortem outage", "down", "Wrong <b>week</b>"),
                (actors.teammate, "anything", None, "Only a comment")]:
            auth.login_as(who)
            ask(client, question)
            row = questions(app)[-1]
            data = {"comment": comment, **({"rating": rating} if rating else {})}
            client.post_form(f"/ask/{row.id}/feedback", data, htmx=True)
            auth.logout()
            ids.append(row.id)
        ask_without_feedback = ids
        return ask_without_feedback

    def test_admins_see_every_detail(self, client: Client, auth: AuthActions, actors: Actors,
                                     rated: list[int], week: list[int]) -> None:
        auth.login_as(actors.admin)
        body = client.get("/admin/feedback").get_data(as_text=True)
        for text in ("checkout latency", "Spot on", "Only a comment", "member@example.com",
                     "teammate@example.com", f"#{week[0]} Cut checkout latency"):
            assert text in body, text
        assert "Wrong &lt;b&gt;week&lt;/b&gt;" in body
        assert body.index("Only a comment") < body.index("Spot on")  # newest first

    def test_it_filters_by_rating_user_and_date(self, client: Client, auth: AuthActions,
                                                actors: Actors, rated: list[int]) -> None:
        auth.login_as(actors.admin)
        down = client.get("/admin/feedback?rating=down").get_data(as_text=True)
        assert "Wrong &lt;b&gt;week" in down and "Spot on" not in down
        mine = client.get("/admin/feedback?user=Member@Example.com").get_data(as_text=True)
        assert "Spot on" in mine and "Only a comment" not in mine
        past = client.get("/admin/feedback?to=2000-01-01").get_data(as_text=True)
        assert "No feedback matches these filters" in past
        today = client.get("/admin/feedback?from=2000-01-01").get_data(as_text=True)
        assert "Spot on" in today

    @pytest.mark.parametrize("who", ["member", "lead"])
    def test_it_is_for_admins_only(self, client: Client, auth: AuthActions, actors: Actors,
                                   rated: list[int], who: str) -> None:
        auth.login_as(getattr(actors, who))
        response = client.get("/admin/feedback")
        assert response.status_code == 403 and "Spot on" not in response.get_data(as_text=True)
        json_response = client.get("/admin/feedback", headers={"Accept": "application/json"})
        assert json_response.status_code == 403
        assert json_response.get_json()["error"] == "insufficient_permissions"

    def test_it_pages_in_a_constant_number_of_queries(self, app: Flask, client: Client,
                                                      auth: AuthActions, actors: Actors,
                                                      week: list[int]) -> None:
        def add(n: int, start: int) -> None:
            with app.app_context():
                for i in range(start, start + n):
                    row = AskQuestion(user_id=actors.member.id if i % 2 else actors.teammate.id,
                                      question=f"q{i}", answer=f"a [#{week[0]}]", cited_entry_ids=[week[0]])
                    row.give_feedback(1, f"comment {i}")
                    db.session.add(row)
                db.session.commit()

        auth.login_as(actors.admin)
        add(2, 0)
        with count_statements(app) as few:
            client.get("/admin/feedback")
        add(30, 2)
        with count_statements(app) as many:
            body = client.get("/admin/feedback").get_data(as_text=True)
        assert many.count == few.count
        assert body.count('class="feedback-item"') == 20 and 'rel="next"' in body
        page2 = client.get("/admin/feedback?page=2").get_data(as_text=True)
        assert page2.count('class="feedback-item"') == 12 and 'rel="prev"' in page2


def test_history_is_paginated_in_a_constant_number_of_queries(app: Flask, client: Client,
                                                              auth: AuthActions, actors: Actors,
                                                              week: list[int]) -> None:
    def add(n: int, start: int) -> None:
        with app.app_context():
            for i in range(start, start + n):
                db.session.add(AskQuestion(user_id=actors.member.id, question=f"question {i:02d}",
                                           answer=f"answer {i} [#{week[i % 5]}]",
                                           cited_entry_ids=[week[i % 5]]))
            db.session.commit()

    auth.login_as(actors.member)
    add(2, 0)
    with count_statements(app) as few:
        client.get("/ask")
    add(10, 2)
    with count_statements(app) as many:
        body = client.get("/ask").get_data(as_text=True)
    assert many.count == few.count
    assert body.count('<li id="q-') == 10 and "question 11" in body and "question 01" not in body
    older = client.get("/ask?page=2", headers={**HX, "HX-Target": "ask-history"}).get_data(as_text=True)
    assert older.count('<li id="q-') == 2 and "<html" not in older and "question 01" in older
    assert set(linked(older)) <= set(week) and linked(older)


def test_a_citation_is_a_link_only_when_it_was_given_and_is_visible(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, week: list[int]) -> None:
    secret = make_entry(app, actors.outsider, "Outsider's entry")
    with app.app_context():
        db.session.add(AskQuestion(user_id=actors.member.id, question="q",
                                   answer=f"Mine [#{week[0]}], invented [#{week[1]}], theirs [#{secret}]",
                                   cited_entry_ids=[week[0], secret]))
        db.session.commit()
    auth.login_as(actors.member)
    body = client.get("/ask").get_data(as_text=True)
    assert linked(body) == [week[0]]
    assert f"#{week[1]}?</span>" in body and f"#{secret}?</span>" in body


def test_questions_and_answers_are_shown_inert(app: Flask, client: Client, auth: AuthActions,
                                               actors: Actors) -> None:
    make_entry(app, actors.member, "<script>alert(1)</script> checkout",
               result='<img src=x onerror="alert(2)"> [x](javascript:alert(3))')
    auth.login_as(actors.member)
    body = ask(client, "<script>alert(4)</script> checkout").get_data(as_text=True)
    assert_inert(body)
    assert_inert(client.get("/ask").get_data(as_text=True))


@pytest.mark.parametrize("question,start,end", [
    ("what did I ship for payments in October?", "2026-10-01", "2026-10-31"),
    ("last month", "2026-10-01", "2026-10-31"),
    ("지난달 결제", "2026-10-01", "2026-10-31"),
    ("this week", "2026-11-23", "2026-11-29"),
    ("지난주에 뭐 했어", "2026-11-16", "2026-11-22"),
    ("이번 주", "2026-11-23", "2026-11-29"),
    ("10월 결제", "2026-10-01", "2026-10-31"),
    ("12월 회고", "2025-12-01", "2025-12-31"),  # a month not yet begun this year: last year's
    ("2025년 3월", "2025-03-01", "2025-03-31"),
    ("2026-W45", "2026-11-02", "2026-11-08"),
    ("on 2026-10-03", "2026-10-03", "2026-10-03"),
    ("yesterday and today", "2026-11-22", "2026-11-23"),
    ("last 7 days", "2026-11-17", "2026-11-23"),
    ("최근 2주", "2026-11-10", "2026-11-23"),
    ("December 2025", "2025-12-01", "2025-12-31"),
])
def test_it_reads_dates_relative_to_the_askers_today(question: str, start: str, end: str) -> None:
    from app.services.ask.dates import parse_dates

    period, rest = parse_dates(question, date(2026, 11, 23))
    assert period is not None
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)
    assert not re.search(r"october|10월|2026-W45|지난|this week", rest, re.I)


@pytest.mark.parametrize("question", ["What may I have missed?", "refactoring the payment module", "v2026"])
def test_words_that_are_not_dates_stay_words(question: str) -> None:
    from app.services.ask.dates import parse_dates

    assert parse_dates(question, date(2026, 11, 23)) == (None, question)


def test_today_is_the_askers_today(app: Flask, actors: Actors) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    with app.app_context():
        for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+14 and UTC-11: a day apart
            user = db.session.get(User, actors.member.id)
            user.timezone = zone
            assert user.today() == datetime.now(ZoneInfo(zone)).date()
