"""Issue 17 without a browser: dates in each language's own order, the offline AI answering
date questions, the queue badge fragment, the no-team rule on the server, readable devices,
escaped search highlights, the admin's view of the offline provider."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Team, User, UserSession, WeeklyReview
from app.services.isoweek import IsoWeek
from app.services.text import highlight
from tests.conftest import Actors, AuthActions, Client, make_user
from tests.log_support import make_entry
from tests.test_ask import ask, linked

HX = {"HX-Request": "true"}


def set_locale(app: Flask, user: User, locale: str) -> None:
    with app.app_context():
        db.session.get(User, user.id).locale = locale
        db.session.commit()


def today_of(app: Flask, user: User) -> date:
    with app.app_context():
        return db.session.get(User, user.id).today()


@pytest.mark.parametrize(("locale", "day", "span"), [
    ("en", "Mon, Nov 23", "Mon, Nov 23\u2009–\u2009Sun, Nov 29, 2026"),
    ("ko", "11월 23일 (월)", "2026년 11월 23일 (월)~29일 (일)"),
])
def test_dates_follow_the_language_not_a_fixed_pattern(app: Flask, client: Client, auth: AuthActions,
                                                       actors: Actors, locale: str, day: str,
                                                       span: str) -> None:
    make_entry(app, actors.member, "Tuned the cache", work_date=date(2026, 11, 23))
    set_locale(app, actors.member, locale)
    auth.login_as(actors.member)
    week = client.get("/reviews/2026-W48").get_data(as_text=True)
    assert day in week  # the week's entries, e.g. never "월 23 11월"
    assert span in week
    assert "월 23 11월" not in week


def test_the_weeks_list_shows_each_week_as_one_range(app: Flask, client: Client, auth: AuthActions,
                                                     actors: Actors) -> None:
    set_locale(app, actors.member, "ko")
    auth.login_as(actors.member)
    this_week = IsoWeek.of(today_of(app, actors.member))
    body = client.get("/reviews").get_data(as_text=True)
    assert f"{this_week.start.month}월 {this_week.start.day}일~" in body  # one range, the year in the week


def test_a_date_question_is_answered_with_that_periods_entries(app: Flask, client: Client,
                                                                auth: AuthActions, actors: Actors) -> None:
    today = today_of(app, actors.member)
    last_monday = today - timedelta(days=today.weekday() + 7)
    ids = [make_entry(app, actors.member, title, work_date=last_monday + timedelta(days=i))
           for i, title in enumerate(["Reviewed the API design", "Paired on the flaky test",
                                      "Wrote the runbook"])]
    make_entry(app, actors.member, "This week's work", work_date=today)
    auth.login_as(actors.member)
    body = ask(client, "What did I do last week?").get_data(as_text=True)
    assert sorted(linked(body)) == sorted(ids)  # every entry of the week, none mentions "do"
    assert "No entry mentions that directly" not in body
    assert "Your log from" in body

    october = [make_entry(app, actors.member, f"October work {i}", work_date=date(2026, 10, 5 + i))
               for i in range(3)]
    make_entry(app, actors.member, "Shipped the October release", work_date=date(2026, 10, 20))
    body = ask(client, "What did I ship in October 2026?").get_data(as_text=True)
    assert set(october) <= set(linked(body))  # not only the entry that says "shipped"


def test_nothing_found_says_what_was_searched(app: Flask, client: Client, auth: AuthActions,
                                              actors: Actors) -> None:
    make_entry(app, actors.member, "Tuned the cache", work_date=date(2026, 11, 3))
    auth.login_as(actors.member)
    body = ask(client, "kubernetes in September 2026").get_data(as_text=True)
    assert "I found nothing in the entries you can see" in body
    assert "“kubernetes”" in body and "Sep 1\u2009–\u200930, 2026" in body


def test_the_queue_badge_is_a_fragment_of_its_own(app: Flask, client: Client, auth: AuthActions,
                                                   actors: Actors) -> None:
    with app.app_context():
        db.session.add(WeeklyReview(user_id=actors.member.id, week="2026-W47", body="Done [#1].",
                                    status="submitted", version=2))
        db.session.commit()
    auth.login_as(actors.lead)
    page = client.get("/log").get_data(as_text=True)
    assert 'hx-get="/reviews/queue/badge" hx-trigger="load"' in page
    assert "reviews waiting" not in page  # the count is not in the (cacheable) page
    badge = client.get("/reviews/queue/badge", headers=HX)
    assert badge.status_code == 200 and "no-store" in badge.headers["Cache-Control"]
    assert "> 1<" in badge.get_data(as_text=True) and "review waiting" in badge.get_data(as_text=True)
    auth.login_as(actors.member)
    assert "/reviews/queue/badge" not in client.get("/log").get_data(as_text=True)
    assert "waiting" not in client.get("/reviews/queue/badge", headers=HX).get_data(as_text=True)
    # Opened directly (not by htmx), the badge is the queue page.
    auth.login_as(actors.lead)
    direct = client.get("/reviews/queue/badge")
    assert direct.status_code == 302 and direct.headers["Location"].endswith("/reviews/queue")


def test_without_a_lead_a_review_is_saved_but_not_submitted(app: Flask, client: Client,
                                                            auth: AuthActions, actors: Actors) -> None:
    with app.app_context():
        solo = make_user("solo@example.com")
        db.session.commit()
        db.session.refresh(solo)
        db.session.expunge(solo)
    auth.login_as(solo)
    response = client.post_form("/reviews/2026-W47", data={"body": "My week.", "version": 0,
                                                      "action": "submit"})
    assert response.status_code == 302
    with app.app_context():
        review = db.session.scalar(sa.select(WeeklyReview))
        assert (review.status, review.body) == ("draft", "My week.")
        review_id = review.id
    page = client.get("/reviews/2026-W47").get_data(as_text=True)
    assert "Your team has no lead to review this" in page
    refused = client.post_form(f"/reviews/r/{review_id}/submit", data={"version": 1})
    assert refused.status_code == 302
    with app.app_context():
        assert db.session.get(WeeklyReview, review_id).status == "draft"
    # A lead is not their own reviewer either: a team whose only lead is you has no reviewer.
    auth.login_as(actors.lead)
    assert "Your team has no lead to review this" in client.get("/reviews").get_data(as_text=True)
    auth.login_as(actors.member)
    assert "Your team has no lead to review this" not in client.get("/reviews").get_data(as_text=True)


def test_reviews_autosave_answers_json_and_refuses_a_stale_version(app: Flask, client: Client,
                                                                  auth: AuthActions, actors: Actors) -> None:
    auth.login_as(actors.member)
    json_headers = {"Accept": "application/json"}
    saved = client.post_form("/reviews/2026-W47", data={"body": "One.", "version": 0}, headers=json_headers)
    assert saved.status_code == 200
    assert saved.json["version"] == 1 and saved.json["status"] == "draft"
    assert saved.json["message"].startswith("Saved · ")
    stale = client.post_form("/reviews/2026-W47", data={"body": "Two.", "version": 0}, headers=json_headers)
    assert stale.status_code == 409 and stale.json["error"] == "stale"


def test_sessions_show_browser_and_system(app: Flask, client: Client, auth: AuthActions,
                                          actors: Actors) -> None:
    with app.app_context():
        UserSession.start(db.session.get(User, actors.member.id), "10.0.0.2",
                          "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
                          "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")
        db.session.commit()
    auth.login_as(actors.member)
    body = client.get("/account/sessions").get_data(as_text=True)
    assert "Chrome 131 on macOS" in body


def test_search_highlights_are_escaped() -> None:
    assert str(highlight("<b>Pay</b>ment", ["pay", "<b"])) == \
        "<mark>&lt;b</mark>&gt;<mark>Pay</mark>&lt;/b&gt;ment"
    assert str(highlight("결제모듈 리팩터링", ["결제"])) == "<mark>결제</mark>모듈 리팩터링"


def test_the_list_marks_search_matches(app: Flask, client: Client, auth: AuthActions,
                                       actors: Actors) -> None:
    make_entry(app, actors.member, "Payment <script>retry</script>", work_date=date(2026, 11, 3))
    auth.login_as(actors.member)
    body = client.get("/log?q=retry", headers={**HX, "HX-Target": "entry-list"}).get_data(as_text=True)
    assert "Payment &lt;script&gt;<mark>retry</mark>&lt;/script&gt;" in body


def test_the_admin_sees_the_offline_provider_for_what_it_is(client: Client, auth: AuthActions,
                                                            actors: Actors) -> None:
    auth.login_as(actors.admin)
    body = client.get("/admin/system").get_data(as_text=True)
    assert "offline (built-in, no model)" in body
    assert 'status-ok">offline<' not in body



def test_the_demo_log_does_not_repeat_itself(app: Flask, runner) -> None:
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        from app.models import LogEntry
        rows = db.session.execute(sa.select(LogEntry.user_id, LogEntry.title)).all()
    per_user: dict[int, list[str]] = {}
    for user_id, title in rows:
        per_user.setdefault(user_id, []).append(title)
    assert len(per_user) == 4
    for titles in per_user.values():
        assert len(titles) >= 15 and len(titles) == len(set(titles))
    every = [t for titles in per_user.values() for t in titles]
    assert any("\uac00" <= c <= "\ud7a3" for c in "".join(every))  # Korean weeks too
    assert any(t.isascii() for t in every)  # and English ones


def test_admins_are_told_when_a_team_cannot_submit(app: Flask, client: Client, auth: AuthActions,
                                                   actors: Actors) -> None:
    with app.app_context():
        teams = {t.name: t.id for t in db.session.scalars(sa.select(Team))}
    auth.login_as(actors.admin)
    body = client.get(f"/admin/teams/{teams['Growth']}").get_data(as_text=True)
    assert "This team has no lead" in body
    body = client.get(f"/admin/teams/{teams['Payments']}").get_data(as_text=True)
    assert "This team has no lead" not in body and "once the team has a second lead" in body
