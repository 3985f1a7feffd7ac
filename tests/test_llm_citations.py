"""Only verified links in model output: the citation matrix.

The model (the test server) answers with every kind of link it could write: a citation of an
entry it was given, citations of an entry the reader may open but that was not given, of someone
else's entry and of no entry, Markdown links to entries (relative and absolute) and to an
external site, and an autolink. Whoever reads the answer — the asker (owner, a lead with or
without their team's entries), in the fresh answer, the saved one (/ask?a=…), the history, the
review pages, or an admin on /admin/feedback — the only live links are citations of entries
given to the model for that very answer that the reader may open now. With keyword and with
embeddings retrieval. The ledger counts the unverified citations and the links it stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import LLMCall, WeeklyReview
from tests.conftest import Actors, AuthActions, Client
from tests.llm_server import WEEK, RecordedRequest, Reply, make_week
from tests.log_support import make_entry
from tests.test_ask import ask, questions

ENTRY_HREF = re.compile(r'<a\b[^>]*\bhref="[^"]*/log/entries/(\d+)[^"]*"')
NOBODY = 999_999


@pytest.fixture(params=["keyword", "embeddings"])
def config_overrides(request: pytest.FixtureRequest, llm_server) -> dict:
    settings = llm_server.config(LLM_TIMEOUT_SECONDS=5, REDIS_URL=None, ASK_MAX_ENTRIES=2,
                                 LOGIN_RATE_LIMIT="1000/minute")
    if request.param == "embeddings":
        settings.update(llm_server.embeddings_config(LLM_TIMEOUT_SECONDS=5))
    return settings


def entry_links(html: str) -> set[int]:
    """Every entry a live link in `html` points at."""
    return {int(i) for i in ENTRY_HREF.findall(html)}


def review_markup(html: str) -> str:
    """Just the rendered review(s) of a page (the week's entries beside it are links anyway)."""
    found = re.findall(r'class="markdown review-rendered"[^>]*>(.*?)</div>', html, re.S)
    assert found
    return "\n".join(found)


def assert_no_live_external_link(html: str) -> None:
    assert re.search(r'href="[^"]*evil\.example', html) is None
    assert "evil.example" in html  # shown as text, so the reader sees what the model wrote


@dataclass
class Scene:
    """What one answer was written from, filled in by the test server as it answers."""

    foreign: int  # someone else's entry (outside the reader's team)
    readable: list[int]  # entries the reader may open (the one not sent is cited too)
    also: list[int] | None = None  # more ids cited that were not given
    sent: list[int] | None = None
    not_sent: int | None = None

    def answer(self, request: RecordedRequest) -> Reply:
        self.sent = [e["id"] for e in request.data["entries"]]
        self.not_sent = next(i for i in self.readable if i not in self.sent)
        given = self.sent[0]
        return Reply.normal(
            f"Verified [#{given}]. Not sent [#{self.not_sent}]. Foreign [#{self.foreign}]. "
            f"None [#{NOBODY}]. {' '.join(f'[#{i}]' for i in self.also or [])}\n\n"
            f"[the entry](/log/entries/{given}) [absolute](http://localhost/log/entries/{given}) "
            f"[other](/log/entries/{self.not_sent}) [queue](/reviews/queue?from=model) "
            f"[log in again](https://evil.example/login) <https://evil.example/auto>")

    def check(self, html: str, *, reader_may_open_given: bool = True) -> None:
        assert self.sent and self.not_sent is not None
        assert entry_links(html) == ({self.sent[0]} if reader_may_open_given else set())
        for marked in (self.not_sent, self.foreign, NOBODY, *(self.also or [])):
            assert f"#{marked}?</span>" in html
        assert_no_live_external_link(html)
        assert 'href="/reviews/queue?from=model"' not in html


def chat_call(app: Flask, purpose: str) -> LLMCall:
    with app.app_context():
        [row] = db.session.scalars(sa.select(LLMCall).where(
            LLMCall.purpose == purpose, LLMCall.model == "test-model"))
        db.session.expunge(row)
        return row


def assert_ledger_counts(app: Flask, purpose: str, unverified: int = 3) -> None:
    row = chat_call(app, purpose)
    assert row.outcome == "ok"
    # not sent, foreign, nonexistent (and any more); six Markdown links (the autolink is one)
    assert (row.unverified_citations, row.stripped_links) == (unverified, 6)


def ask_and_check_every_view(app: Flask, client: Client, auth: AuthActions, actors: Actors,
                             scene: Scene, asker, question: str, *, include_team: bool = False) -> None:
    auth.login_as(asker)
    fresh = ask(client, question, include_team=include_team)
    assert fresh.status_code == 200
    scene.check(fresh.get_data(as_text=True))
    [row] = questions(app)
    saved = client.get(f"/ask?a={row.id}").get_data(as_text=True)
    scene.check(saved)
    scene.check(client.get("/ask").get_data(as_text=True))  # the history
    assert_ledger_counts(app, "ask")
    # An admin reads the rated answer: none of its entries is theirs to open.
    client.post_form(f"/ask/{row.id}/feedback", {"rating": "down"}, htmx=True)
    auth.login_as(actors.admin)
    admin_view = client.get("/admin/feedback").get_data(as_text=True)
    assert question in admin_view
    scene.check(admin_view, reader_may_open_given=False)
    assert f"#{scene.sent[0]}?</span>" in admin_view


def test_the_owner_gets_a_link_only_for_the_entry_given(app: Flask, client: Client, auth: AuthActions,
                                                       actors: Actors, llm_server) -> None:
    mine = [make_entry(app, actors.member, "Cut checkout latency", result="p95 to 310 ms"),
            make_entry(app, actors.member, "Checkout latency dashboard"),
            make_entry(app, actors.member, "Interviewed a candidate"),
            make_entry(app, actors.member, "Wrote the onboarding guide")]
    scene = Scene(foreign=make_entry(app, actors.outsider, "Cut checkout latency elsewhere"),
                  readable=mine)
    llm_server.responder = scene.answer
    ask_and_check_every_view(app, client, auth, actors, scene, actors.member,
                             "How did I cut checkout latency?")


def test_a_lead_with_the_team_gets_links_only_for_entries_given(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, llm_server) -> None:
    team = [make_entry(app, actors.member, "Cut checkout latency", result="p95 to 310 ms"),
            make_entry(app, actors.teammate, "Checkout latency alerts"),
            make_entry(app, actors.member, "Interviewed a candidate"),
            make_entry(app, actors.teammate, "Wrote the onboarding guide")]
    scene = Scene(foreign=make_entry(app, actors.outsider, "Checkout latency in Growth"), readable=team)
    llm_server.responder = scene.answer
    ask_and_check_every_view(app, client, auth, actors, scene, actors.lead,
                             "How did the team cut checkout latency?", include_team=True)
    assert set(scene.sent) <= set(team)


def test_a_lead_without_the_team_gets_no_link_to_a_team_entry(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, llm_server) -> None:
    own = make_entry(app, actors.lead, "Checkout latency review with the team")
    team = [make_entry(app, actors.member, "Cut checkout latency", result="p95 to 310 ms"),
            make_entry(app, actors.teammate, "Checkout latency alerts")]
    # The lead may open the team's entries, but they were not given for this answer.
    scene = Scene(foreign=make_entry(app, actors.outsider, "Checkout latency in Growth"),
                  readable=[own, *team])
    llm_server.responder = scene.answer
    ask_and_check_every_view(app, client, auth, actors, scene, actors.lead,
                             "What about checkout latency?")
    assert scene.sent == [own]


def test_a_drafted_review_links_only_given_entries_for_author_and_lead(
        app: Flask, client: Client, auth: AuthActions, actors: Actors, llm_server) -> None:
    week = make_week(app, actors.member)
    earlier = make_entry(app, actors.member, "Last month's work", work_date=date(2026, 10, 5))
    teammate = make_entry(app, actors.teammate, "Teammate's work", work_date=date(2026, 11, 17))
    scene = Scene(foreign=make_entry(app, actors.outsider, "Someone else's work"),
                  readable=[*week, earlier], also=[teammate])
    llm_server.responder = lambda request: Reply.streamed(scene.answer(request).text)
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"},
                                headers={"Accept": "text/event-stream"}, buffered=True)
    assert "event: done" in response.get_data(as_text=True)
    assert scene.not_sent == earlier
    assert_ledger_counts(app, "weekly_review", unverified=4)
    with app.app_context():
        review_id = db.session.scalar(sa.select(WeeklyReview.id))
    scene.check(review_markup(client.get(f"/reviews/{WEEK}").get_data(as_text=True)))
    scene.check(review_markup(client.get(f"/reviews/r/{review_id}").get_data(as_text=True)))
    with app.app_context():
        body = db.session.get(WeeklyReview, review_id).body
    preview = client.post_form(f"/reviews/{WEEK}/preview", {"body": body}, htmx=True)
    scene.check(review_markup(preview.get_data(as_text=True)))
    # The lead reads it too: the teammate's entry is theirs to open, but was not given.
    client.post_form(f"/reviews/r/{review_id}/submit", {"version": "1"})
    auth.login_as(actors.lead)
    scene.check(review_markup(client.get(f"/reviews/r/{review_id}").get_data(as_text=True)))


def test_links_in_a_review_the_author_wrote_are_not_live_either(
        app: Flask, client: Client, auth: AuthActions, actors: Actors) -> None:
    mine = make_entry(app, actors.member, "Shipped it", work_date=date(2026, 11, 17))
    auth.login_as(actors.member)
    body = (f"Shipped [#{mine}]. [Details](/log/entries/{mine}) and "
            f"[the vendor](https://vendor.example/page).")
    client.post_form(f"/reviews/{WEEK}", {"body": body, "version": "0"})
    page = review_markup(client.get(f"/reviews/{WEEK}").get_data(as_text=True))
    assert entry_links(page) == {mine}  # the citation, not the hand-made link
    assert 'Details <span class="citation-unverified"' in page
    assert 'href="https://vendor.example' not in page and "(https://vendor.example/page)" in page
