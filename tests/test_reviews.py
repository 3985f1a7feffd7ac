"""Weekly reviews: who may see and do what, the workflow, stale saves, citations, the queue."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import AuditEvent, LLMCall, ReviewComment, User, WeeklyReview
from app.services.isoweek import IsoWeek
from tests.llm_server import INJECTION, WEEK, make_week
from tests.log_support import assert_inert, count_statements, make_entry


@pytest.fixture
def config_overrides() -> dict:
    # These tests sign in and out many times a minute.
    return {"LLM_OFFLINE_CHUNK_DELAY": 0, "LOGIN_RATE_LIMIT": "1000/minute"}


def review_of(app: Flask, user: User, week: str = WEEK) -> WeeklyReview | None:
    with app.app_context():
        review = db.session.scalar(sa.select(WeeklyReview).where(
            WeeklyReview.user_id == user.id, WeeklyReview.week == week))
        if review is not None:
            db.session.expunge(review)
        return review


def actions(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.action.like("review.%"))
            .order_by(AuditEvent.id)))


def waiting(client) -> str:
    """The "waiting for you" part of the lead's queue."""
    page = client.get("/reviews/queue").get_data(as_text=True)
    start = page.index('id="waiting-heading"')
    return page[start:page.index("</section>", start)]


def save(client, body: str, version: int, week: str = WEEK, **extra):
    return client.post_form(f"/reviews/{week}", {"body": body, "version": str(version), **extra})


def submitted_review(app: Flask, client, auth, author: User, body: str = "Shipped it.") -> int:
    """`author` writes and submits a review of WEEK; returns its id. Leaves author logged out."""
    auth.login_as(author)
    assert save(client, body, 0, action="submit").status_code == 302
    auth.logout()
    return review_of(app, author).id


# --- the author's pages ----------------------------------------------------------------


def test_weeks_list_counts_entries_and_shows_status(app, client, auth, actors):
    make_entry(app, actors.member, "Monday work", work_date=IsoWeek.parse(WEEK).start)
    make_entry(app, actors.member, "Sunday work", work_date=IsoWeek.parse(WEEK).end)
    make_entry(app, actors.member, "Next Monday", work_date=IsoWeek.parse(WEEK).shift(1).start)
    auth.login_as(actors.member)
    save(client, "Draft text", 0)
    page = client.get("/reviews?page=1").get_data(as_text=True)
    row = re.search(rf'<a href="/reviews/{WEEK}">{WEEK}</a>.*?</tr>', page, re.S).group(0)
    assert '<td class="num">2</td>' in row
    assert "Draft" in row
    next_row = re.search(r'<a href="/reviews/2026-W48">2026-W48</a>.*?</tr>', page, re.S).group(0)
    assert '<td class="num">1</td>' in next_row and "No review" in next_row


def test_week_page_shows_only_own_entries_of_that_week(app, client, auth, actors):
    mine = make_entry(app, actors.member, "My week entry", work_date=IsoWeek.parse(WEEK).start)
    make_entry(app, actors.member, "Week before", work_date=IsoWeek.parse(WEEK).shift(-1).end)
    make_entry(app, actors.teammate, "Teammate entry", work_date=IsoWeek.parse(WEEK).start)
    auth.login_as(actors.member)
    page = client.get(f"/reviews/{WEEK}").get_data(as_text=True)
    assert "My week entry" in page and f"/log/entries/{mine}" in page
    assert "Week before" not in page and "Teammate entry" not in page


@pytest.mark.parametrize("week", ["2026-W54", "2026-47", "W47", "2026-W7", "x" * 50, "2026-W00",
                                  "9999-W52", "0001-W01", "0000-W01"])
def test_a_week_that_is_not_an_iso_week_is_404(client, auth, actors, week):
    auth.login_as(actors.member)
    assert client.get(f"/reviews/{week}").status_code == 404


@pytest.mark.parametrize("url", ["/reviews?page=9000", "/reviews?page=99999999999999999999",
                                 "/reviews?page=-3", "/reviews?page=x"])
def test_any_page_number_answers_a_page(client, auth, actors, url):
    auth.login_as(actors.member)
    response = client.get(url)
    assert response.status_code == 200
    assert 'class="weeks-table"' in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/reviews/r/99999999999999999999", "/reviews/r/2147483648",
                                  "/log/entries/99999999999999999999", "/log/entries/2147483648/history"])
def test_ids_too_large_to_exist_are_404(client, auth, actors, path):
    auth.login_as(actors.member)
    assert client.get(path).status_code == 404


def test_stale_save_is_refused_and_the_text_kept(app, client, auth, actors):
    auth.login_as(actors.member)
    assert save(client, "First text", 0).status_code == 302
    assert save(client, "Second text from another tab", 1).status_code == 302
    response = save(client, "My careful edit from the first tab", 1)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "changed elsewhere" in page
    assert "My careful edit from the first tab" in page  # still in the editor
    assert review_of(app, actors.member).body == "Second text from another tab"
    # Two "first saves" of a review that did not exist: the second is stale, not a crash.
    assert save(client, "Another new review", 0).status_code == 409


def test_save_with_htmx_answers_the_editor(app, client, auth, actors):
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}", {"body": "Hello", "version": "0"}, htmx=True)
    assert response.status_code == 200
    assert 'id="review-editor"' in response.get_data(as_text=True)
    assert 'class="review-version" value="1"' in response.get_data(as_text=True)


def test_save_rejects_a_missing_version(client, auth, actors):
    auth.login_as(actors.member)
    assert client.post_form(f"/reviews/{WEEK}", {"body": "x"}).status_code == 400


def test_oversized_review_is_refused_and_nothing_saved(app, client, auth, actors):
    auth.login_as(actors.member)
    response = save(client, "x" * 50_001, 0)
    assert response.status_code == 422
    assert "too long" in response.get_data(as_text=True)
    assert review_of(app, actors.member) is None


def test_csrf_less_post_is_refused(app, client, auth, actors):
    auth.login_as(actors.member)
    response = client.post(f"/reviews/{WEEK}", data={"body": "x", "version": "0"})
    assert response.status_code == 400
    assert review_of(app, actors.member) is None


# --- the workflow ------------------------------------------------------------------------


def test_member_to_lead_flow_with_audit(app, client, auth, actors):
    review_id = submitted_review(app, client, auth, actors.member, "Cut latency by half.")
    assert review_of(app, actors.member).status == "submitted"
    # Submitted: the author can no longer edit it.
    auth.login_as(actors.member)
    assert save(client, "sneaky edit", 2).status_code == 409
    auth.logout()

    auth.login_as(actors.lead)
    queue = waiting(client)
    assert f"/reviews/r/{review_id}" in queue and "Mina Member" in queue
    response = client.post_form(f"/reviews/r/{review_id}/request-changes", {"comment": "  "})
    assert response.status_code == 422
    assert "comment is required" in response.get_data(as_text=True)
    assert review_of(app, actors.member).status == "submitted"
    response = client.post_form(f"/reviews/r/{review_id}/request-changes",
                                {"comment": "Add the numbers, please."})
    assert response.status_code == 302
    auth.logout()

    auth.login_as(actors.member)
    week_page = client.get(f"/reviews/{WEEK}").get_data(as_text=True)
    assert "asked for changes" in week_page and "Add the numbers, please." in week_page
    review = review_of(app, actors.member)
    assert save(client, "Cut latency by half (900 → 450 ms).", review.version,
                action="submit").status_code == 302
    auth.logout()

    auth.login_as(actors.lead)
    assert client.post_form(f"/reviews/r/{review_id}/approve", {"comment": ""}).status_code == 302
    assert f"/reviews/r/{review_id}" not in waiting(client)
    auth.logout()

    auth.login_as(actors.member)
    page = client.get(f"/reviews/r/{review_id}").get_data(as_text=True)
    assert "Approved" in page and "900 → 450 ms" in page
    final = review_of(app, actors.member)
    assert final.status == "approved" and final.reviewer_id == actors.lead.id
    assert actions(app) == ["review.created", "review.submitted", "review.changes_requested",
                            "review.saved", "review.submitted", "review.approved"]
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "review.approved"))
        assert event.details["from"] == "submitted" and event.details["to"] == "approved"
        assert event.actor_id == actors.lead.id


def test_empty_review_cannot_be_submitted(app, client, auth, actors):
    auth.login_as(actors.member)
    response = save(client, "   ", 0, action="submit")
    assert response.status_code == 422
    assert "Write the review" in response.get_data(as_text=True)
    assert review_of(app, actors.member) is None  # save and submit are one step: neither happened


def test_approving_twice_is_refused(app, client, auth, actors):
    review_id = submitted_review(app, client, auth, actors.member)
    auth.login_as(actors.lead)
    assert client.post_form(f"/reviews/r/{review_id}/approve").status_code == 302
    response = client.post_form(f"/reviews/r/{review_id}/request-changes", {"comment": "late"})
    assert response.status_code == 409
    assert review_of(app, actors.member).status == "approved"


def test_comments_thread_between_author_and_lead(app, client, auth, actors):
    review_id = submitted_review(app, client, auth, actors.member)
    auth.login_as(actors.lead)
    assert client.post_form(f"/reviews/r/{review_id}/comments",
                            {"body": "Nice <script>alert(1)</script>"}).status_code == 302
    auth.logout()
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/r/{review_id}/comments", {"body": "Thanks!"}, htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.index("Nice") < html.index("Thanks!")
    assert_inert(html)
    assert client.post_form(f"/reviews/r/{review_id}/comments", {"body": ""}).status_code == 422
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ReviewComment.id))) == 2


# --- the permission matrix -----------------------------------------------------------------

# (method, path) for one review; {id} is the member's submitted review.
REVIEW_ROUTES = [
    ("GET", "/reviews/r/{id}"),
    ("POST", "/reviews/r/{id}/submit"),
    ("POST", "/reviews/r/{id}/approve"),
    ("POST", "/reviews/r/{id}/request-changes"),
    ("POST", "/reviews/r/{id}/comments"),
]
# Who gets what for each route: the author reads, comments, submits (refused: already
# submitted, so 302 back with a message); the lead reads, decides and comments; everyone else
# gets 404, so review ids do not leak.
EXPECTED = {
    "member": {"GET": 200, "submit": 302, "approve": 404, "request-changes": 404, "comments": 302},
    "lead": {"GET": 200, "submit": 404, "approve": 302, "request-changes": 302, "comments": 302},
    "teammate": {"GET": 404, "submit": 404, "approve": 404, "request-changes": 404, "comments": 404},
    "outsider": {"GET": 404, "submit": 404, "approve": 404, "request-changes": 404, "comments": 404},
    "admin": {"GET": 404, "submit": 404, "approve": 404, "request-changes": 404, "comments": 404},
}


@pytest.mark.parametrize("actor", list(EXPECTED))
@pytest.mark.parametrize("method,path", REVIEW_ROUTES)
def test_permission_matrix(app, client, auth, actors, actor, method, path):
    review_id = submitted_review(app, client, auth, actors.member)
    auth.login_as(getattr(actors, actor))
    url = path.format(id=review_id)
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post_form(url, {"comment": "ok", "body": "a comment", "version": "2"})
    key = "GET" if method == "GET" else path.rsplit("/", 1)[1]
    assert response.status_code == EXPECTED[actor][key], (actor, url)
    if response.status_code == 404:
        assert review_of(app, actors.member).status == "submitted"


def test_anonymous_is_sent_to_login(app, client, actors):
    for url in ("/reviews", f"/reviews/{WEEK}", "/reviews/queue", "/reviews/r/1"):
        response = client.get(url)
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_lead_cannot_review_their_own(app, client, auth, actors):
    # The team's only lead has nobody to review them: their review stays a draft (issue 17).
    submitted_review(app, client, auth, actors.lead)
    assert review_of(app, actors.lead).status == "draft"
    with app.app_context():  # a second lead in the team reviews the first
        db.session.get(User, actors.teammate.id).role = "lead"
        db.session.commit()
    auth.login_as(actors.lead)
    review_id = review_of(app, actors.lead).id
    assert client.post_form(f"/reviews/r/{review_id}/submit", {"version": "1"}).status_code == 302
    assert review_of(app, actors.lead).status == "submitted"
    assert f"/reviews/r/{review_id}" not in waiting(client)
    assert client.post_form(f"/reviews/r/{review_id}/approve").status_code == 404
    assert review_of(app, actors.lead).status == "submitted"


def test_queue_is_for_leads_only(client, auth, actors):
    for actor in ("member", "outsider", "admin"):
        auth.login_as(getattr(actors, actor))
        assert client.get("/reviews/queue").status_code == 404
        auth.logout()


def test_lead_of_another_team_cannot_see_it(app, client, auth, actors):
    review_id = submitted_review(app, client, auth, actors.member)
    with app.app_context():
        outsider = db.session.get(User, actors.outsider.id)
        outsider.role = "lead"
        db.session.commit()
    auth.login_as(actors.outsider)
    assert client.get(f"/reviews/r/{review_id}").status_code == 404
    assert client.post_form(f"/reviews/r/{review_id}/approve").status_code == 404


def test_queue_oldest_first_with_entry_counts_in_constant_queries(app, client, auth, actors):
    with app.app_context():
        team = db.session.get(User, actors.member.id).team
        members = [User(email=f"m{i}@example.com", display_name=f"Member {i}", role="member",
                        team_id=team.id, password_hash="x") for i in range(6)]
        db.session.add_all(members)
        db.session.commit()
        member_ids = [m.id for m in members]

    def add_submitted(user_id: int, week: IsoWeek, entries: int) -> None:
        owner = User(id=user_id)
        for day in range(entries):
            make_entry(app, owner, f"Entry {day}", work_date=week.start)
        with app.app_context():
            db.session.add(WeeklyReview(user_id=user_id, week=str(week), body="x",
                                        status="submitted", submitted_at=_at(week)))
            db.session.commit()

    week = IsoWeek.parse(WEEK)
    add_submitted(actors.member.id, week, 3)
    add_submitted(actors.teammate.id, week.shift(-1), 1)  # submitted earlier: listed first
    auth.login_as(actors.lead)
    with count_statements(app) as few:
        page = client.get("/reviews/queue").get_data(as_text=True)
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="/reviews/r/\d+">([^<]+)</a></th>\s*'
                      r'<td[^>]*>([^<]+)</td>\s*<td class="num">(\d+)</td>', page)
    assert rows == [("teammate", str(week.shift(-1)), "1"), ("Mina Member", WEEK, "3")]
    for i, user_id in enumerate(member_ids):
        add_submitted(user_id, week.shift(-2 - i), 2)
    with count_statements(app) as many:
        page = client.get("/reviews/queue").get_data(as_text=True)
    assert page.count('<td class="num">2</td>') == 6
    assert many.count == few.count


def _at(week: IsoWeek):
    from datetime import UTC, datetime, time

    return datetime.combine(week.end, time(12), tzinfo=UTC)


# --- citations ------------------------------------------------------------------------------


def test_citations_link_only_to_entries_the_draft_may_cite(app, client, auth, actors):
    ids = make_week(app, actors.member)
    other_week = make_entry(app, actors.member, "Old work", work_date=IsoWeek.parse(WEEK).shift(-3).start)
    outsider_entry = make_entry(app, actors.outsider, "Outsider secret", work_date=IsoWeek.parse(WEEK).start)
    auth.login_as(actors.member)
    body = (f"Real [#{ids[0]}], invented [#999999], someone else's [#{outsider_entry}], "
            f"another week [#{other_week}], in code `[#{ids[1]}]`.")
    save(client, body, 0)
    page = client.get(f"/reviews/{WEEK}").get_data(as_text=True)
    preview = page[page.index('id="review-preview"'):]
    assert f'<a class="citation" href="/log/entries/{ids[0]}"' in preview
    for bad in (999999, outsider_entry, other_week):
        assert f'href="/log/entries/{bad}"' not in preview
        assert f"#{bad}?</span>" in preview
    assert f"<code>[#{ids[1]}]</code>" in preview
    assert "Outsider secret" not in page


def test_lead_sees_the_same_links_and_a_trashed_entry_is_no_longer_linked(app, client, auth, actors):
    ids = make_week(app, actors.member)
    trashed = make_entry(app, actors.member, "Gone", work_date=IsoWeek.parse(WEEK).start, trashed=True)
    review_id = submitted_review(app, client, auth, actors.member, f"Did [#{ids[0]}] and [#{trashed}].")
    auth.login_as(actors.lead)
    page = client.get(f"/reviews/r/{review_id}").get_data(as_text=True)
    assert f'<a class="citation" href="/log/entries/{ids[0]}"' in page
    assert f"#{trashed}?</span>" in page
    # The lead can follow the link: leads read their team's entries.
    assert client.get(f"/log/entries/{ids[0]}").status_code == 200


def test_review_body_is_rendered_inert(app, client, auth, actors):
    hostile = ('<img src=x onerror=alert(1)> [x](javascript:alert(1)) <script>alert(2)</script> '
               '[#1"><script>alert(3)</script>] **ok**')
    review_id = submitted_review(app, client, auth, actors.member, hostile)
    auth.login_as(actors.lead)
    page = client.get(f"/reviews/r/{review_id}").get_data(as_text=True)
    assert_inert(page)
    assert "<strong>ok</strong>" in page


def test_preview_renders_markdown_without_saving(app, client, auth, actors):
    ids = make_week(app, actors.member)
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/preview", {"body": f"**Bold** [#{ids[0]}]"}, htmx=True)
    html = response.get_data(as_text=True)
    assert "<strong>Bold</strong>" in html and f'href="/log/entries/{ids[0]}"' in html
    assert review_of(app, actors.member) is None


# --- AI drafts with the offline provider ------------------------------------------------------


def stream(client, week: str = WEEK, version: int = 0):
    response = client.post_form(f"/reviews/{week}/draft", {"version": str(version)},
                                headers={"Accept": "text/event-stream"}, buffered=True)
    events = []
    if not response.headers["Content-Type"].startswith("text/event-stream"):
        return response, events
    for block in response.get_data(as_text=True).split("\n\n"):
        if block.strip():
            name = re.search(r"^event: (\w+)", block, re.M).group(1)
            data = json.loads(re.search(r"^data: (.*)$", block, re.M).group(1))
            events.append((name, data))
    return response, events


def test_offline_draft_streams_cites_the_week_and_is_saved(app, client, auth, actors):
    ids = make_week(app, actors.member)
    make_entry(app, actors.teammate, "Teammate's own work", work_date=IsoWeek.parse(WEEK).start)
    auth.login_as(actors.member)
    response, events = stream(client)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    chunks = [data for name, data in events if name == "chunk"]
    assert len(chunks) > 5  # written piece by piece, not in one go
    name, done = events[-1]
    assert name == "done" and done["version"] == 1
    review = review_of(app, actors.member)
    assert review.body.strip() == "".join(chunks).strip()
    assert review.drafted_by_ai and sorted(review.cited_entry_ids) == sorted(ids)
    cited = {int(i) for i in re.findall(r"\[#(\d+)\]", review.body)}
    assert cited and cited <= set(ids)
    assert "Teammate's own work" not in review.body
    page = client.get(f"/reviews/{WEEK}").get_data(as_text=True)
    assert f'<a class="citation" href="/log/entries/{ids[0]}"' in page
    with app.app_context():
        [call] = db.session.scalars(sa.select(LLMCall)).all()
        assert (call.purpose, call.user_id, call.outcome) == ("weekly_review", actors.member.id, "ok")


def test_draft_without_javascript_saves_and_redirects(app, client, auth, actors):
    make_week(app, actors.member)
    auth.login_as(actors.member)
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"})
    assert response.status_code == 302
    assert "Draft written from 6 entries" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert review_of(app, actors.member).body


def test_draft_of_an_empty_week_is_refused_before_any_call(app, client, auth, actors):
    auth.login_as(actors.member)
    response, _events = stream(client)
    assert response.status_code == 422
    assert response.get_json()["error"] == "no_entries"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(LLMCall.id))) == 0


def test_draft_of_a_submitted_review_is_refused(app, client, auth, actors):
    make_week(app, actors.member)
    submitted_review(app, client, auth, actors.member, "Mine, by hand.")
    auth.login_as(actors.member)
    response, _events = stream(client, version=2)
    assert response.status_code == 409
    assert review_of(app, actors.member).body == "Mine, by hand."


def test_draft_over_a_newer_version_keeps_the_newer_text(app, client, auth, actors):
    make_week(app, actors.member)
    auth.login_as(actors.member)
    save(client, "v1", 0)
    save(client, "v2 written in another tab", 1)
    _response, events = stream(client, version=1)
    name, data = events[-1]
    assert name == "failed" and "changed elsewhere" in data["message"]
    assert review_of(app, actors.member).body == "v2 written in another tab"


def test_draft_uses_only_the_authors_entries_whatever_they_contain(app, client, auth, actors):
    ids = make_week(app, actors.member)  # includes an entry with prompt-injection text
    make_entry(app, actors.teammate, "Teammate secret plan", work_date=IsoWeek.parse(WEEK).start)
    auth.login_as(actors.member)
    _response, events = stream(client)
    assert events[-1][0] == "done"
    review = review_of(app, actors.member)
    assert "HACKED" not in review.body.split("\n")[0]
    assert "Teammate secret plan" not in review.body
    assert set(review.cited_entry_ids) == set(ids)
    assert INJECTION  # the week really contains it (see tests/llm_server.py)
