"""AI drafts of weekly reviews through the real openai client against a local
OpenAI-compatible server, and the `flask reviews draft` batch."""

from __future__ import annotations

import json
import re
import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import LLMCall, User, WeeklyReview
from app.services.isoweek import IsoWeek
from app.services.reviews.batch import candidates, draft_week
from tests.llm_server import INJECTION, WEEK, Reply, make_week
from tests.log_support import make_entry


@pytest.fixture
def config_overrides(llm_server) -> dict:
    return llm_server.config(LLM_TIMEOUT_SECONDS=1, LLM_RETRY_AFTER_MAX_SECONDS=2,
                             LOGIN_RATE_LIMIT="1000/minute")


def stream(client, version: int = 0):
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": str(version)},
                                headers={"Accept": "text/event-stream"}, buffered=True)
    events = []
    for block in response.get_data(as_text=True).split("\n\n"):
        if block.strip():
            name = re.search(r"^event: (\w+)", block, re.M).group(1)
            events.append((name, json.loads(re.search(r"^data: (.*)$", block, re.M).group(1))))
    return response, events


def review_of(app: Flask, user: User) -> WeeklyReview | None:
    with app.app_context():
        review = db.session.scalar(sa.select(WeeklyReview).where(WeeklyReview.user_id == user.id))
        if review is not None:
            db.session.expunge(review)
        return review


def calls(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(c.purpose, c.outcome) for c in db.session.scalars(sa.select(LLMCall).order_by(LLMCall.id))]


def test_streamed_draft_from_the_server_is_saved_and_citations_checked(app, client, auth, actors, llm_server):
    ids = make_week(app, actors.member)
    text = f"Cut checkout p95 to 310 ms [#{ids[0]}]. Also did something [#424242]."
    llm_server.script(Reply.streamed(text))
    auth.login_as(actors.member)
    response, events = stream(client)
    assert response.status_code == 200
    chunks = [data for name, data in events if name == "chunk"]
    assert len(chunks) > 3 and "".join(chunks) == text
    assert events[-1][0] == "done"
    assert llm_server.requests[0].streamed
    review = review_of(app, actors.member)
    assert review.body.strip() == text
    page = client.get(f"/reviews/{WEEK}").get_data(as_text=True)
    preview = page[page.index('id="review-preview"'):]
    assert f'<a class="citation" href="/log/entries/{ids[0]}"' in preview
    assert "#424242?</span>" in preview and 'href="/log/entries/424242"' not in preview
    assert calls(app) == [("weekly_review", "ok")]


def test_429_then_200_is_retried_and_the_user_gets_the_draft(app, client, auth, actors, llm_server):
    make_week(app, actors.member)
    llm_server.script(Reply.rate_limited(retry_after=0.1), Reply.streamed("Recovered draft."))
    auth.login_as(actors.member)
    _response, events = stream(client)
    assert events[-1][0] == "done"
    assert review_of(app, actors.member).body.strip() == "Recovered draft."
    assert len(llm_server.requests) == 2


@pytest.mark.parametrize("reply,phrase", [
    (Reply.server_error(500), "try again"),
    (Reply.hang(10), "too long"),
    (Reply.malformed(), "try again"),
], ids=["500", "hang", "malformed"])
def test_a_failed_draft_says_so_and_loses_nothing(app, client, auth, actors, llm_server, reply, phrase):
    make_week(app, actors.member)
    llm_server.responder = lambda _request: reply
    auth.login_as(actors.member)
    client.post_form(f"/reviews/{WEEK}", {"body": "My own words, typed by hand.", "version": "0"})
    response, events = stream(client, version=1)
    assert response.status_code == 200
    name, data = events[-1]
    assert name == "failed"
    assert phrase in data["message"].lower()
    assert "Traceback" not in data["message"]
    review = review_of(app, actors.member)
    assert review.body == "My own words, typed by hand." and review.version == 1
    [(purpose, outcome)] = calls(app)
    assert purpose == "weekly_review" and outcome != "ok"


def test_without_javascript_a_failure_is_a_message_on_the_page(app, client, auth, actors, llm_server):
    make_week(app, actors.member)
    llm_server.responder = lambda _request: Reply.server_error(503)
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"}, follow_redirects=True)
    assert response.status_code == 200
    assert "try again" in response.get_data(as_text=True).lower()
    assert review_of(app, actors.member) is None


def test_prompt_holds_only_the_authors_week_with_injection_fenced_as_data(app, client, auth, actors,
                                                                         llm_server):
    ids = make_week(app, actors.member)
    teammate_entry = make_entry(app, actors.teammate, "Teammate plan", work_date=IsoWeek.parse(WEEK).start)
    outsider_entry = make_entry(app, actors.outsider, "Outsider plan", work_date=IsoWeek.parse(WEEK).start)
    llm_server.script(Reply.streamed("HACKED"))
    auth.login_as(actors.member)
    stream(client)
    [request] = llm_server.requests
    sent_ids = {entry["id"] for entry in request.data["entries"]}
    assert sent_ids == set(ids)
    assert teammate_entry not in sent_ids and outsider_entry not in sent_ids
    assert "Teammate plan" not in request.user and "Outsider plan" not in request.user
    assert "Ignore previous instructions" not in request.system
    assert any(INJECTION[:40] in (entry.get("action") or "") for entry in request.data["entries"])
    # The model's answer is only ever text in the author's own review.
    review = review_of(app, actors.member)
    assert review.user_id == actors.member.id and review.status == "draft"


# --- the batch -------------------------------------------------------------------------------


def reviews(app: Flask) -> list[tuple[int, str, str]]:
    with app.app_context():
        return [(r.user_id, r.week, r.status) for r in
                db.session.scalars(sa.select(WeeklyReview).order_by(WeeklyReview.user_id))]


def test_batch_dry_run_writes_nothing_and_calls_no_model(app, runner, actors, llm_server):
    make_week(app, actors.member)
    make_entry(app, actors.teammate, "Teammate work", work_date=IsoWeek.parse(WEEK).start)
    result = runner.invoke(args=["reviews", "draft", "--week", WEEK, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "2 review(s) would be drafted" in result.output
    assert "member@example.com" in result.output and "teammate@example.com" in result.output
    assert reviews(app) == [] and calls(app) == [] and llm_server.requests == []


def test_batch_drafts_each_user_once_and_is_idempotent(app, runner, actors, llm_server):
    make_week(app, actors.member)
    make_entry(app, actors.teammate, "Teammate work", work_date=IsoWeek.parse(WEEK).start)
    make_entry(app, actors.outsider, "Outsider work", work_date=IsoWeek.parse(WEEK).start)
    make_entry(app, actors.lead, "Next week", work_date=IsoWeek.parse(WEEK).shift(1).start)
    with app.app_context():  # an inactive user with entries gets no draft
        db.session.get(User, actors.outsider.id).is_active = False
        db.session.commit()
    llm_server.responder = lambda request: Reply.normal(f"Draft from {len(request.data['entries'])} entries.")
    result = runner.invoke(args=["reviews", "draft", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert "2 drafted, 0 skipped" in result.output and "0 failed" in result.output
    assert reviews(app) == [(actors.member.id, WEEK, "draft"), (actors.teammate.id, WEEK, "draft")]
    assert review_of(app, actors.member).body.strip() == "Draft from 6 entries."
    again = runner.invoke(args=["reviews", "draft", "--week", WEEK])
    assert again.exit_code == 0 and "nothing to draft" in again.output
    assert len(llm_server.requests) == 2


def test_batch_for_one_user(app, runner, actors, llm_server):
    make_week(app, actors.member)
    make_entry(app, actors.teammate, "Teammate work", work_date=IsoWeek.parse(WEEK).start)
    result = runner.invoke(args=["reviews", "draft", "--week", WEEK, "--user", "TEAMMATE@example.com"])
    assert result.exit_code == 0, result.output
    assert reviews(app) == [(actors.teammate.id, WEEK, "draft")]


def test_batch_exits_non_zero_on_failure_and_a_later_run_retries(app, runner, actors, llm_server):
    make_week(app, actors.member)
    llm_server.responder = lambda _request: Reply.server_error(500)
    result = runner.invoke(args=["reviews", "draft", "--week", WEEK])
    assert result.exit_code == 1
    assert "1 failed" in result.output and "member@example.com" in result.output
    assert reviews(app) == []  # the claim was given back
    llm_server.responder = lambda _request: Reply.normal("Second time lucky [#1].")
    assert runner.invoke(args=["reviews", "draft", "--week", WEEK]).exit_code == 0
    assert reviews(app) == [(actors.member.id, WEEK, "draft")]


def test_batch_never_overwrites_what_the_author_saved_while_the_model_wrote(app, runner, actors, llm_server):
    make_week(app, actors.member)

    def author_saves_meanwhile(_request):
        # The author opens the week, finds the batch's empty draft, writes and saves, all while
        # the model is still writing (this runs in the test server's thread, mid-call).
        with app.app_context():
            db.session.execute(sa.update(WeeklyReview).where(WeeklyReview.user_id == actors.member.id)
                               .values(body="My own words.\n", version=2))
            db.session.commit()
        return Reply.normal("The AI's draft.")

    llm_server.responder = author_saves_meanwhile
    result = runner.invoke(args=["reviews", "draft", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert "0 drafted, 1 skipped" in result.output
    review = review_of(app, actors.member)
    assert (review.body, review.version) == ("My own words.\n", 2)


def test_batch_rejects_a_bad_week(runner, actors):
    result = runner.invoke(args=["reviews", "draft", "--week", "2026-W99"])
    assert result.exit_code == 2 and "ISO week" in result.output


def test_two_batches_at_once_make_no_duplicates(app, actors, llm_server):
    make_week(app, actors.member)
    make_entry(app, actors.teammate, "Teammate work", work_date=IsoWeek.parse(WEEK).start)
    make_entry(app, actors.lead, "Lead work", work_date=IsoWeek.parse(WEEK).start)
    # Both runs see the same three candidates before either claims anything.
    gate = threading.Barrier(2)
    llm_server.responder = lambda _request: Reply.normal("Drafted.", chunk_delay=0.05)
    results = []

    def run() -> None:
        with app.app_context():
            users = candidates(IsoWeek.parse(WEEK))
            db.session.commit()  # end the read (on SQLite it holds the write lock) before waiting
            gate.wait(timeout=30)
            results.append(draft_week(IsoWeek.parse(WEEK), users=users))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 2
    assert all(len(r.candidates) == 3 for r in results)
    assert sum(len(r.drafted) for r in results) == 3
    assert sum(len(r.skipped) for r in results) == 3
    assert not any(r.failed for r in results)
    assert len(reviews(app)) == 3
    assert len(llm_server.requests) == 3
