"""Suggestions from repositories, against a local GitHub/GitLab stand-in: each user's own
items only, paged, conditional requests, rate limits; accept, edit and dismiss on /log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app import jobs
from app.extensions import db
from app.models import LogEntry, RepoConnection, Suggestion
from app.services.repos import fetch_job
from tests.repos_support import RepoStandIn

OCTO = "ghp_octo_token_0000000000000000"
MONA = "ghp_mona_token_1111111111111111"


@pytest.fixture
def forge() -> Iterator[RepoStandIn]:
    with RepoStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def config_overrides() -> dict:
    return {"LOGIN_RATE_LIMIT": "1000/minute"}


def connect(client, auth, user, forge, token=OCTO, provider="github") -> None:
    auth.login_as(user)
    response = client.post_form(f"/account/integrations/{provider}",
                                {"token": token, "base_url": forge.base})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def suggestions(app, user) -> list[Suggestion]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Suggestion).where(Suggestion.user_id == user.id)
                                  .order_by(Suggestion.id)).all()
        db.session.expunge_all()
        return rows


def refetch(app, user, *, forget_etags: bool = False) -> str:
    with app.app_context():
        row = db.session.scalar(sa.select(RepoConnection).where(RepoConnection.user_id == user.id))
        if forget_etags:
            row.etags, row.last_run_at = {}, None
            db.session.commit()
        return fetch_job(connection_id=row.id)


def tray(client) -> str:
    return client.get("/log/suggestions", headers={"HX-Request": "true"}).get_data(as_text=True)


def test_each_user_gets_suggestions_from_their_own_prs_only(app, client, auth, actors, forge):
    connect(client, auth, actors.member, forge, OCTO)
    connect(client, auth, actors.teammate, forge, MONA)
    assert jobs.drain(app)
    mine = suggestions(app, actors.member)
    assert sorted(s.title for s in mine) == ["Add rate limiter", "Crash on empty cart",
                                             "Cut deploy time in half", "Fix flaky payment test"]
    assert [s.title for s in suggestions(app, actors.teammate)] == ["Mona's redesign"]
    flaky = next(s for s in mine if s.title == "Fix flaky payment test")
    assert flaky.url == "https://github.example/octo/app/pull/12"
    assert "Python" in flaky.draft["tags"] and "TypeScript" in flaky.draft["tags"]
    assert flaky.draft["situation"] or flaky.draft["action"]  # a STAR draft
    # Paged with Link headers: the second page of octo's PRs was read.
    assert any("page=2" in p for p in forge.paths())
    # The token is stored encrypted, never in the clear.
    with app.app_context():
        stored = db.session.scalar(sa.select(RepoConnection.token_encrypted).where(
            RepoConnection.user_id == actors.member.id))
    assert OCTO not in stored and stored.startswith("fernet:")

    auth.login_as(actors.member)
    html = tray(client)
    assert "Fix flaky payment test" in html and "Mona" not in html
    assert "Fix flaky payment test" not in client.get("/log").get_data(as_text=True)  # a fragment
    auth.login_as(actors.teammate)
    assert "Fix flaky payment test" not in tray(client)
    page = client.get("/account/integrations").get_data(as_text=True)
    assert "••••1111" in page and MONA not in page


def test_accept_makes_an_entry_and_dismissed_never_comes_back(app, client, auth, actors, forge):
    connect(client, auth, actors.member, forge, OCTO)
    assert jobs.drain(app)
    by_title = {s.title: s for s in suggestions(app, actors.member)}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LogEntry.id))) == 0  # never without action

    accepted = client.post_form(f"/log/suggestions/{by_title['Fix flaky payment test'].id}/accept")
    assert accepted.status_code == 302 and accepted.headers["Location"].endswith("/edit")
    with app.app_context():
        entry = db.session.scalar(sa.select(LogEntry))
        assert entry.user_id == actors.member.id and entry.title == "Fix flaky payment test"
        assert "Python" in entry.tags and "https://github.example/octo/app/pull/12" in entry.situation
        assert entry.work_date.isoformat() == "2026-11-18"
    assert client.get(accepted.headers["Location"]).status_code == 200  # editable

    # Edit: the draft in the form, saved as the user changed it.
    edit = client.get(f"/log/suggestions/{by_title['Add rate limiter'].id}/edit")
    assert edit.status_code == 200 and "Add rate limiter" in edit.get_data(as_text=True)
    saved = client.post_form(f"/log/suggestions/{by_title['Add rate limiter'].id}/accept",
                             {"title": "Rate limiter per API token", "situation": "", "task": "",
                              "action": "Wrote it.", "result": "", "work_date": "2026-11-17",
                              "impact": "High", "tags": "Python", "category": ""})
    assert saved.status_code == 302
    with app.app_context():
        titles = set(db.session.scalars(sa.select(LogEntry.title)))
    assert titles == {"Fix flaky payment test", "Rate limiter per API token"}

    dismissed = client.post_form(f"/log/suggestions/{by_title['Cut deploy time in half'].id}/dismiss",
                                 htmx=True)
    assert dismissed.status_code == 200 and "Cut deploy time in half" not in dismissed.get_data(as_text=True)

    # Everything fetched again from scratch: nothing dismissed or accepted comes back.
    assert refetch(app, actors.member, forget_etags=True) == "0 new"
    left = [s.title for s in suggestions(app, actors.member) if s.status == "suggested"]
    assert left == ["Crash on empty cart"]


def test_the_next_run_is_a_conditional_request(app, client, auth, actors, forge):
    connect(client, auth, actors.member, forge, OCTO)
    assert jobs.drain(app)
    before = len(forge.requests)
    assert refetch(app, actors.member) == "0 new"
    again = forge.requests[before:]
    searches = [(p, h) for p, h in again if p.startswith("/search/issues")]
    assert searches and all(h.get("If-None-Match", "").startswith('W/"octo-') for _, h in searches)
    assert not any("page=2" in p for p, _ in again)  # 304: no pages, no languages
    assert not any("/languages" in p for p, _ in again)


def test_a_spent_rate_limit_pauses_until_its_reset(app, client, auth, actors, forge):
    forge.rate_limit_left = 2  # /user and one search page, then X-RateLimit-Remaining: 0
    connect(client, auth, actors.member, forge, OCTO)
    assert jobs.drain(app)
    with app.app_context():
        row = db.session.scalar(sa.select(RepoConnection))
        assert row.paused_until is not None and int(row.paused_until.timestamp()) == forge.reset_at
        assert row.last_run_at is None
    assert suggestions(app, actors.member) == []
    before = len(forge.requests)
    assert refetch(app, actors.member) == "paused"
    assert len(forge.requests) == before  # nothing asked before the reset
    assert "Rate limit reached" in client.get("/account/integrations").get_data(as_text=True)


def test_gitlab_merge_requests_become_suggestions(app, client, auth, actors, forge):
    connect(client, auth, actors.member, forge, "glpat-octo-2222222222222222", provider="gitlab")
    assert jobs.drain(app)
    [mr] = suggestions(app, actors.member)
    assert mr.title == "Speed up CI cache" and "Go" in mr.draft["tags"]
    assert mr.url.endswith("/merge_requests/9")


def test_suggestions_of_one_user_are_404_to_another(app, client, auth, actors, forge):
    connect(client, auth, actors.member, forge, OCTO)
    assert jobs.drain(app)
    one = suggestions(app, actors.member)[0]
    auth.login_as(actors.teammate)
    assert client.get(f"/log/suggestions/{one.id}/edit").status_code == 404
    assert client.post_form(f"/log/suggestions/{one.id}/accept").status_code == 404
    assert client.post_form(f"/log/suggestions/{one.id}/dismiss").status_code == 404
    assert client.post_form("/account/integrations/github/disconnect").status_code == 404
    assert suggestions(app, actors.member)[0].status == "suggested"
