"""Who may see and do what, per kind of thing, over every kind of person (app/access.py).

Each table row is one person: the owner (author, asker), a teammate, the owner's own lead,
another team's lead, a lead of the owner's team who has been deactivated, an outsider and an
admin. What may not be seen is 404 (never 403), so ids do not leak; a deactivated person is
signed out (HTML: to the sign-in page; API: 401). The API serves its caller's own things only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from flask import Flask

from app.access import Action, can_read_entry, can_review, visible_owner_ids
from app.extensions import db
from app.models import (
    ApiToken,
    AskQuestion,
    LogEntry,
    ReviewComment,
    Role,
    Team,
    User,
    UserSession,
    WeeklyReview,
)
from app.services.accounts import tokens as token_service
from tests.conftest import Actors, AuthActions, Client, make_user
from tests.log_support import make_entry

PEOPLE = ["owner", "teammate", "own_lead", "other_lead", "deactivated_lead", "outsider", "admin"]
SIGNED_OUT = "signed out"  # HTML: 302 to sign-in; API: 401
WEEK = "2026-W47"
SECRET = "Member's private words"


@dataclass
class World:
    people: dict[str, User]
    tokens: dict[str, str]
    entry: int
    review: int
    comment_text: str
    question: int
    token: int
    session: int


@pytest.fixture
def world(app: Flask, actors: Actors) -> World:
    entry = make_entry(app, actors.member, SECRET, work_date=date(2026, 11, 18))
    with app.app_context():
        other_team = db.session.get(Team, actors.outsider.team_id)
        own_team = db.session.get(Team, actors.member.team_id)
        other_lead = make_user("other-lead@example.com", Role.LEAD, team=other_team)
        gone = make_user("gone-lead@example.com", Role.LEAD, team=own_team)
        db.session.flush()
        people = {
            "owner": db.session.get(User, actors.member.id),
            "teammate": db.session.get(User, actors.teammate.id),
            "own_lead": db.session.get(User, actors.lead.id),
            "other_lead": other_lead,
            "deactivated_lead": gone,
            "outsider": db.session.get(User, actors.outsider.id),
            "admin": db.session.get(User, actors.admin.id),
        }
        tokens = {name: token_service.issue_token(user, f"{name} token", None, via="test", actor=user).raw
                  for name, user in people.items()}
        review = WeeklyReview(user_id=actors.member.id, week=WEEK, body=f"{SECRET} [#{entry}]",
                              cited_entry_ids=[entry], status="submitted", version=2)
        db.session.add(review)
        db.session.flush()
        comment_text = "A lead's remark only the author and the lead may read"
        db.session.add(ReviewComment(review_id=review.id, author_id=actors.lead.id, body=comment_text))
        question = AskQuestion(user_id=actors.member.id, question="what did I ship?",
                               answer=f"{SECRET} [#{entry}]", cited_entry_ids=[entry], entries_used=1,
                               provider="offline", model="offline")
        db.session.add(question)
        record, _raw = UserSession.start(people["owner"], "127.0.0.1", "elsewhere")
        db.session.flush()
        token_id = db.session.scalar(db.select(ApiToken.id).where(ApiToken.user_id == actors.member.id))
        found = World({name: user for name, user in people.items()}, tokens, entry, review.id,
                      comment_text, question.id, token_id, record.id)
        db.session.commit()
        for user in people.values():
            db.session.refresh(user)
        db.session.expunge_all()
    return found


def as_person(app: Flask, world: World, who: str) -> Client:
    """A client signed in as `who`; the deactivated lead was switched off after signing in."""
    app.test_client_class = Client
    client = app.test_client()
    AuthActions(client).login_as(world.people[who])
    if who == "deactivated_lead":
        with app.app_context():
            db.session.get(User, world.people[who].id).deactivate()
            db.session.commit()
    return client  # type: ignore[return-value]


def outcome(response) -> object:
    if response.status_code == 302 and "/auth/login" in response.headers.get("Location", ""):
        return SIGNED_OUT
    if response.status_code == 401:
        return SIGNED_OUT
    return response.status_code


def api(client: Client, world: World, who: str, url: str):
    return client.get(url, headers={"Authorization": f"Bearer {world.tokens[who]}"})


def expect(table: dict[str, object], who: str) -> object:
    return table.get(who, 404)


def matrix(**rows: object) -> dict[str, object]:
    rows.setdefault("deactivated_lead", SIGNED_OUT)
    return rows


# --- entries -------------------------------------------------------------------------------

ENTRY_READ = matrix(owner=200, own_lead=200)
ENTRY_WRITE = matrix(owner=200)
ENTRY_API = matrix(owner=200)


@pytest.mark.parametrize("who", PEOPLE)
def test_entries(app: Flask, world: World, who: str) -> None:
    client = as_person(app, world, who)
    for url in (f"/log/entries/{world.entry}", f"/log/entries/{world.entry}/history"):
        response = client.get(url)
        assert outcome(response) == expect(ENTRY_READ, who), url
        shown = SECRET.replace("'", "&#39;") in response.get_data(as_text=True)
        assert shown == (response.status_code == 200)
    assert outcome(client.get(f"/log/entries/{world.entry}/edit")) == expect(ENTRY_WRITE, who)
    assert outcome(api(client, world, who, f"/api/daily-logs/{world.entry}")) == expect(ENTRY_API, who)
    deleted = None if who == "deactivated_lead" else client.post_form(f"/log/entries/{world.entry}/delete")
    with app.app_context():
        trashed = db.session.get(LogEntry, world.entry).deleted_at is not None
    assert trashed == (who == "owner")
    if deleted is not None and who != "owner":
        assert deleted.status_code == 404


# --- reviews and their comments --------------------------------------------------------------

REVIEW_READ = matrix(owner=200, own_lead=200)
REVIEW_COMMENT = matrix(owner=302, own_lead=302)
REVIEW_DECIDE = matrix(own_lead=302)
REVIEW_API = matrix(owner=200)


@pytest.mark.parametrize("who", PEOPLE)
def test_reviews_and_comments(app: Flask, world: World, who: str) -> None:
    client = as_person(app, world, who)
    page = client.get(f"/reviews/r/{world.review}")
    assert outcome(page) == expect(REVIEW_READ, who)
    text = page.get_data(as_text=True)
    assert (world.comment_text in text) == (page.status_code == 200)  # comments go with the review
    assert ("private words" in text) == (page.status_code == 200)
    if who != "deactivated_lead":
        commented = client.post_form(f"/reviews/r/{world.review}/comments", {"body": "Looks right."})
        assert outcome(commented) == expect(REVIEW_COMMENT, who)
        decided = client.post_form(f"/reviews/r/{world.review}/approve", {"comment": ""})
        assert outcome(decided) == expect(REVIEW_DECIDE, who)
    with app.app_context():
        review = db.session.get(WeeklyReview, world.review)
        assert (review.status == "approved") == (who == "own_lead")
        comments = db.session.scalar(db.select(db.func.count(ReviewComment.id))
                                     .where(ReviewComment.review_id == world.review))
        assert comments == (2 if who in ("owner", "own_lead") else 1)
    response = api(client, world, who, f"/api/weekly-reviews/{WEEK}")
    assert outcome(response) == expect(REVIEW_API, who)
    if response.status_code == 200:
        assert response.get_json()["id"] == world.review


# --- Ask answers -----------------------------------------------------------------------------

ASK_FEEDBACK = matrix(owner=302)


@pytest.mark.parametrize("who", PEOPLE)
def test_ask_answers(app: Flask, world: World, who: str) -> None:
    client = as_person(app, world, who)
    page = client.get(f"/ask?a={world.question}")
    if who == "deactivated_lead":
        assert outcome(page) == SIGNED_OUT
        return
    assert page.status_code == 200
    assert ("private words" in page.get_data(as_text=True)) == (who == "owner")
    rated = client.post_form(f"/ask/{world.question}/feedback", {"rating": "up"})
    assert outcome(rated) == expect(ASK_FEEDBACK, who)
    with app.app_context():
        assert (db.session.get(AskQuestion, world.question).rating is not None) == (who == "owner")


# --- API tokens and sessions ------------------------------------------------------------------

OWN_ONLY = matrix(owner=302)


@pytest.mark.parametrize("who", PEOPLE)
def test_tokens(app: Flask, world: World, who: str) -> None:
    client = as_person(app, world, who)
    listing = client.get("/account/tokens")
    if who == "deactivated_lead":
        assert outcome(listing) == SIGNED_OUT
    else:
        assert ("owner token" in listing.get_data(as_text=True)) == (who == "owner")
        assert outcome(client.post_form(f"/account/tokens/{world.token}/revoke")) == expect(OWN_ONLY, who)
    with app.app_context():
        revoked = db.session.get(ApiToken, world.token).revoked_at is not None
    assert revoked == (who == "owner")
    # Only the owner's own token reads the owner's things through the API.
    assert outcome(api(client, world, "owner", f"/api/daily-logs/{world.entry}")) == (
        SIGNED_OUT if who == "owner" else 200)


@pytest.mark.parametrize("who", PEOPLE)
def test_sessions(app: Flask, world: World, who: str) -> None:
    client = as_person(app, world, who)
    listing = client.get("/account/sessions")
    if who == "deactivated_lead":
        assert outcome(listing) == SIGNED_OUT
    else:
        assert ("elsewhere" in listing.get_data(as_text=True)) == (who == "owner")
        assert outcome(client.post_form(f"/account/sessions/{world.session}/end")) == expect(OWN_ONLY, who)
    with app.app_context():
        ended = db.session.get(UserSession, world.session).ended_at is not None
    assert ended == (who == "owner")


# --- the rules themselves -----------------------------------------------------------------------


def test_a_deactivated_lead_loses_every_read_at_once(app: Flask, world: World) -> None:
    with app.app_context():
        lead = db.session.get(User, world.people["own_lead"].id)
        entry = db.session.get(LogEntry, world.entry)
        review = db.session.get(WeeklyReview, world.review)
        owner_id = world.people["owner"].id
        assert can_read_entry(lead, entry) and can_review(lead, review, Action.DECIDE)
        assert owner_id in visible_owner_ids(lead)
        lead.is_active = False
        assert not lead.leads_team
        assert not can_read_entry(lead, entry)
        assert not can_review(lead, review) and not can_review(lead, review, Action.DECIDE)
        assert visible_owner_ids(lead) == [lead.id]
        db.session.rollback()
