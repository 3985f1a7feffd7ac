"""Repeat views answer 304 only while nothing the page shows has changed; compression; /admin."""

from __future__ import annotations

import gzip
import json
import logging
import re
from datetime import UTC, date, datetime, timedelta

import brotli
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import User
from tests.conftest import Actors, AuthActions, Client
from tests.log_support import count_statements, make_entries, make_entry
from tests.test_tokens import bearer, issue

LIST = {"HX-Request": "true", "HX-Target": "entry-list"}
CSRF = re.compile(r'(name="csrf_token" value="|name="csrf-token" content=")[^"]+"')


def again(client: Client, url: str, etag: str, **headers: str):
    return client.get(url, headers={"If-None-Match": etag, **headers})


def version_of(app, user) -> int:
    with app.app_context():
        return db.session.get(User, user.id).data_version


@pytest.fixture
def member(client: Client, auth: AuthActions, actors: Actors) -> Actors:
    auth.login_as(actors.member)
    return actors


def test_a_repeat_view_is_304_until_the_api_writes(app, client: Client, member: Actors) -> None:
    make_entry(app, member.member, "First")
    first = client.get("/log")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and "private" in first.headers["Cache-Control"]
    repeat = again(client, "/log", etag)
    assert repeat.status_code == 304 and repeat.get_data() == b""
    # The list fragment is another representation: its own ETag.
    fragment = client.get("/log", headers=LIST)
    assert fragment.headers["ETag"] != etag
    assert again(client, "/log", fragment.headers["ETag"], **LIST).status_code == 304

    _id, raw = issue(app, member.member)
    created = client.post("/api/daily-logs", data=json.dumps({"date": "2026-11-21", "title": "From the API"}),
                          headers={**bearer(raw), "Content-Type": "application/json"})
    assert created.status_code == 201, created.get_data(as_text=True)
    after = again(client, "/log", etag)
    assert after.status_code == 200
    assert "From the API" in after.get_data(as_text=True)
    assert after.headers["ETag"] != etag
    assert again(client, "/log", fragment.headers["ETag"], **LIST).status_code == 200


def test_a_write_from_another_device_is_seen(app, client: Client, member: Actors, auth) -> None:
    etag = client.get("/log").headers["ETag"]
    other = app.test_client()
    AuthActions(other).login_as(member.member)
    assert other.post_form("/log/entries", {"title": "Written on the laptop"}).status_code in (200, 302, 303)
    response = again(client, "/log", etag)
    assert response.status_code == 200
    assert "Written on the laptop" in response.get_data(as_text=True)


def test_a_pending_message_is_never_a_304(app, client: Client, member: Actors) -> None:
    etag = client.get("/log").headers["ETag"]
    client.post_form("/log/entries", {"title": "Saved with a message"})
    etag_after_write = None
    shown = again(client, "/log", etag)
    assert shown.status_code == 200
    assert "Entry saved." in shown.get_data(as_text=True)
    assert "ETag" not in shown.headers  # the message is shown once: this copy is not reusable
    etag_after_write = client.get("/log").headers["ETag"]
    assert again(client, "/log", etag_after_write).status_code == 304


def test_locale_timezone_and_other_edits_change_the_etag(app, client: Client, member: Actors) -> None:
    entry_id = make_entry(app, member.member, "To be trashed")
    etag = client.get("/log").headers["ETag"]
    with app.app_context():
        db.session.get(User, member.member.id).locale = "ko"
        db.session.commit()
    korean = again(client, "/log", etag)
    assert korean.status_code == 200 and "업무 일지" in korean.get_data(as_text=True)
    etag = korean.headers["ETag"]
    with app.app_context():
        db.session.get(User, member.member.id).timezone = "Asia/Seoul"
        db.session.commit()
    assert again(client, "/log", etag).status_code == 200
    etag = client.get("/log").headers["ETag"]
    before = version_of(app, member.member)
    client.post_form(f"/log/entries/{entry_id}/delete", {})
    client.get("/log")  # shows the message
    assert version_of(app, member.member) > before
    assert again(client, "/log", etag).status_code == 200
    # A teammate's write does not change this member's version.
    mine = version_of(app, member.member)
    make_entry(app, member.teammate, "Teammate's")
    assert version_of(app, member.member) == mine


def test_the_leads_queue_is_not_304_after_a_member_changes(app, client: Client, auth, actors: Actors) -> None:
    auth.login_as(actors.lead)
    etag = client.get("/reviews/queue").headers["ETag"]
    assert again(client, "/reviews/queue", etag).status_code == 304
    make_entry(app, actors.teammate, "Teammate wrote")
    assert again(client, "/reviews/queue", etag).status_code == 200
    etag = client.get("/reviews/queue").headers["ETag"]
    with app.app_context():  # someone joins the team
        db.session.get(User, actors.outsider.id).team_id = actors.lead.team_id
        db.session.commit()
    assert again(client, "/reviews/queue", etag).status_code == 200


def test_the_api_list_answers_304_and_changes_with_a_write(app, client: Client, actors: Actors) -> None:
    _id, raw = issue(app, actors.member)
    first = client.get("/api/daily-logs", headers=bearer(raw))
    etag = first.headers["ETag"]
    assert client.get("/api/daily-logs", headers={**bearer(raw), "If-None-Match": etag}).status_code == 304
    make_entry(app, actors.member, "New one")
    assert client.get("/api/daily-logs", headers={**bearer(raw), "If-None-Match": etag}).status_code == 200


def test_the_304_path_runs_a_constant_number_of_statements(app, client: Client, member: Actors) -> None:
    def count() -> int:
        etag = client.get("/log").headers["ETag"]
        with count_statements(app) as counter:
            assert again(client, "/log", etag).status_code == 304
        return counter.count

    make_entries(app, member.member, 5)
    small = count()
    make_entries(app, member.member, 60, start=date(2025, 6, 1))
    assert count() == small <= 3


def test_compressed_pages_decompress_to_the_same_bytes(app, client: Client, member: Actors) -> None:
    make_entries(app, member.member, 10)
    plain = client.get("/log", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    for encoding, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        packed = client.get("/log", headers={"Accept-Encoding": encoding})
        assert packed.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert len(packed.get_data()) < len(plain.get_data()) / 3
        text = decode(packed.get_data()).decode()
        # CSRF tokens are signed with the time of rendering: the same secret, other bytes.
        assert CSRF.sub("", text) == CSRF.sub("", plain.get_data(as_text=True))
    _id, raw = issue(app, member.member)
    api_plain = client.get("/api/daily-logs", headers={**bearer(raw), "Accept-Encoding": "identity"})
    api_gzip = client.get("/api/daily-logs", headers={**bearer(raw), "Accept-Encoding": "gzip"})
    assert api_gzip.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(api_gzip.get_data()) == api_plain.get_data()


def test_static_files_have_hashed_urls_long_life_and_compression(app, client: Client, member) -> None:
    page = client.get("/log").get_data(as_text=True)
    url = re.search(r'href="(/static/app\.css\?v=[0-9a-f]+)"', page).group(1)
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "immutable" in plain.headers["Cache-Control"]
    packed = client.get(url, headers={"Accept-Encoding": "br"})
    assert packed.headers["Content-Encoding"] == "br"
    assert brotli.decompress(packed.get_data()) == plain.get_data()
    stale = client.get("/static/app.css?v=0000", headers={"Accept-Encoding": "identity"})
    assert "immutable" not in stale.headers.get("Cache-Control", "")


def test_admin_runs_at_most_six_statements(app, client: Client, auth, actors: Actors) -> None:
    auth.login_as(actors.admin)
    for i in range(25):  # more audit events than the page lists
        make_entry(app, actors.member, f"Audited {i}")
    client.get("/admin")
    with count_statements(app) as counter:
        assert client.get("/admin").status_code == 200
    assert counter.count <= 6, counter.count


def test_generated_request_ids_are_never_masked(app) -> None:
    from app.logging_setup import ConsoleFormatter, JsonFormatter

    rid = "b104990123" + "f" * 22  # digits that the phone pattern would take
    record = logging.LogRecord("worklog.test", logging.INFO, __file__, 1, "call 010-1234-5678", (), None)
    record.request_id = rid
    line = JsonFormatter().format(record)
    assert json.loads(line)["request_id"] == rid
    assert "010-1234-5678" not in line  # the message is still masked
    assert f"[{rid}]" in ConsoleFormatter().format(record)


def test_the_week_page_is_not_304_after_the_lead_comments_or_decides(app, client: Client, auth,
                                                                     actors: Actors) -> None:
    from tests.test_reviews import WEEK, submitted_review

    review_id = submitted_review(app, client, auth, actors.member)
    auth.login_as(actors.member)
    etag = client.get(f"/reviews/{WEEK}").headers["ETag"]
    assert again(client, f"/reviews/{WEEK}", etag).status_code == 304
    lead = app.test_client()
    AuthActions(lead).login_as(actors.lead)
    assert lead.post_form(f"/reviews/r/{review_id}/comments", {"body": "Looks good"}).status_code == 302
    shown = again(client, f"/reviews/{WEEK}", etag)
    assert shown.status_code == 200 and "Looks good" in shown.get_data(as_text=True)
    etag = shown.headers["ETag"]
    assert lead.post_form(f"/reviews/r/{review_id}/approve", {}).status_code == 302  # a Core UPDATE
    assert again(client, f"/reviews/{WEEK}", etag).status_code == 200


def test_the_heatmap_is_built_once_per_data_version(app, client: Client, member: Actors) -> None:
    make_entry(app, member.member, "Counted", work_date=date(2026, 11, 20))
    client.get("/log")
    with count_statements(app) as counter:
        page = client.get("/log").get_data(as_text=True)
    assert "1 entry on Nov 20, 2026" in page
    assert not [s for s in counter.statements if "GROUP BY log_entries.work_date" in s]
    make_entry(app, member.member, "Counted too", work_date=date(2026, 11, 20))
    assert "2 entries on Nov 20, 2026" in client.get("/log").get_data(as_text=True)


def test_server_sent_events_are_never_compressed(app, client: Client, member: Actors) -> None:
    from tests.test_reviews import WEEK

    make_entry(app, member.member, "Something to draft from", work_date=date(2026, 11, 17))
    response = client.post_form(f"/reviews/{WEEK}/draft", {"version": "0"}, buffered=True,
                                headers={"Accept": "text/event-stream", "Accept-Encoding": "br, gzip"})
    assert response.mimetype == "text/event-stream"
    assert "Content-Encoding" not in response.headers
    assert "event: " in response.get_data(as_text=True)


def test_a_members_reviews_page_follows_the_teams_lead_changing(app, client: Client, auth,
                                                               actors: Actors) -> None:
    """Whether the member can submit depends on their team having a lead: an admin changing
    that must not leave the member a cached page that still offers (or refuses) Submit."""
    from app.services.admin import directory

    auth.login_as(actors.member)
    etag = client.get("/reviews").headers["ETag"]
    assert again(client, "/reviews", etag).status_code == 304
    with app.app_context():
        lead = db.session.get(User, actors.lead.id)
        directory.set_lead(lead.team, lead, False)
        db.session.commit()
    page = again(client, "/reviews", etag)
    assert page.status_code == 200
    etag = page.headers["ETag"]
    with app.app_context():
        lead = db.session.get(User, actors.lead.id)
        directory.change_role(lead, "lead")
        db.session.commit()
    assert again(client, "/reviews", etag).status_code == 200


@pytest.fixture
def no_etags(config_overrides: dict) -> dict:
    # Every request runs the view: what is tested is the server-side copy of the list.
    config_overrides["ETAGS_ENABLED"] = False
    return config_overrides


def delete_token(page: str, entry_id: int) -> str:
    form = re.search(rf'action="/log/entries/{entry_id}/delete".*?name="csrf_token" value="([^"]+)"',
                     page, re.S)
    assert form, "no delete form for the entry"
    return form.group(1)


def test_a_kept_list_carries_each_sessions_own_csrf_token(app, no_etags, client: Client,
                                                           member: Actors) -> None:
    from app.log.pages import _csrf_slot

    keep = make_entry(app, member.member, "Keep me")
    gone = make_entry(app, member.member, "Delete me from the laptop")
    client.get("/log")  # renders the list and keeps it
    laptop = app.test_client()
    AuthActions(laptop).login_as(member.member)
    with count_statements(app) as counter:
        page = laptop.get("/log").get_data(as_text=True)
    assert not [s for s in counter.statements if "FROM log_entries" in s], "the list was not reused"
    with app.test_request_context():
        assert _csrf_slot() not in page
    # The laptop's copy came from the phone's render, yet its forms work with its own session.
    deleted = laptop.post(f"/log/entries/{gone}/delete",
                          data={"csrf_token": delete_token(page, gone)})
    assert deleted.status_code in (302, 303), deleted.get_data(as_text=True)[:300]
    # And the phone's next view no longer lists it (the data version moved on).
    fresh = client.get("/log").get_data(as_text=True)
    assert "Delete me from the laptop" not in fresh and "Keep me" in fresh
    assert keep != gone


def test_a_kept_list_is_not_served_after_a_write_elsewhere(app, no_etags, client: Client,
                                                           member: Actors) -> None:
    make_entry(app, member.member, "Older entry")
    before = client.get("/log", headers=LIST).get_data(as_text=True)
    assert "Older entry" in before
    _id, raw = issue(app, member.member)
    created = client.post("/api/daily-logs", data=json.dumps({"date": "2026-11-21", "title": "Via API"}),
                          headers={**bearer(raw), "Content-Type": "application/json"})
    assert created.status_code == 201
    assert "Via API" in client.get("/log", headers=LIST).get_data(as_text=True)
    assert "Via API" in client.get("/log").get_data(as_text=True)


def test_search_results_are_kept_per_query(app, no_etags, client: Client, member: Actors) -> None:
    make_entry(app, member.member, "결제 모듈 정리")
    make_entry(app, member.member, "Release notes")
    payment = client.get("/log?q=결제", headers=LIST).get_data(as_text=True)
    release = client.get("/log?q=release", headers=LIST).get_data(as_text=True)
    assert "<mark>결제</mark>" in payment and "Release notes" not in payment
    assert "<mark>Release</mark>" in release and "결제" not in release
    assert client.get("/log?q=결제", headers=LIST).get_data(as_text=True) == payment


def _sessions_of(app, user) -> list:
    from app.models import UserSession

    with app.app_context():
        return list(db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user.id)))


def _age_sessions(app, user, minutes: float) -> None:
    from app.models import UserSession
    from app.models.base import utcnow

    with app.app_context():
        db.session.execute(sa.update(UserSession).where(UserSession.user_id == user.id)
                           .values(last_seen_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()


def test_a_repeat_view_is_one_statement_and_no_orm_session_lookup(app, client: Client,
                                                                  member: Actors) -> None:
    make_entries(app, member.member, 5)
    etag = client.get("/log").headers["ETag"]
    with count_statements(app) as counter:
        assert again(client, "/log", etag).status_code == 304
    assert counter.count == 1, counter.statements
    assert "log_entries" not in counter.statements[0]


def test_no_304_after_sign_out_everywhere_or_deactivation(app, client: Client, member: Actors) -> None:
    from app.models import UserSession

    etag = client.get("/log").headers["ETag"]
    assert again(client, "/log", etag).status_code == 304
    with app.app_context():
        UserSession.end_all_for(member.member.id, "signed_out_everywhere")
        db.session.commit()
    ended = again(client, "/log", etag)
    assert ended.status_code in (302, 303) and "/auth/login" in ended.headers["Location"]

    AuthActions(client).login_as(member.member)
    etag = client.get("/log").headers["ETag"]
    with app.app_context():
        db.session.get(User, member.member.id).is_active = False
        db.session.commit()
    gone = again(client, "/log", etag)
    assert gone.status_code in (302, 303) and "/auth/login" in gone.headers["Location"]


def test_a_session_not_seen_lately_is_refreshed_then_304_the_same_etag(app, client: Client,
                                                                       member: Actors) -> None:
    etag = client.get("/log").headers["ETag"]
    _age_sessions(app, member.member, 5)
    with count_statements(app) as counter:
        assert again(client, "/log", etag).status_code == 304  # the normal path: same ETag
    assert any("UPDATE user_sessions" in s for s in counter.statements), "last_seen not refreshed"
    (record,) = [s for s in _sessions_of(app, member.member) if s.ended_at is None]
    assert datetime.now(UTC) - record.last_seen_at < timedelta(minutes=1)
    # A session idle past SESSION_IDLE_DAYS is ended, not answered 304.
    _age_sessions(app, member.member, 60 * 24 * (app.config["SESSION_IDLE_DAYS"] + 1))
    expired = again(client, "/log", etag)
    assert expired.status_code in (302, 303)


def test_the_language_cookie_is_part_of_a_repeat_views_etag(app, client: Client, member: Actors) -> None:
    with app.app_context():
        db.session.get(User, member.member.id).locale = None
        db.session.commit()
    client.set_cookie("lang", "ko")
    korean = client.get("/log")
    assert "업무 일지" in korean.get_data(as_text=True)
    with count_statements(app) as counter:
        assert again(client, "/log", korean.headers["ETag"]).status_code == 304
    assert counter.count == 1
    client.set_cookie("lang", "en")
    assert again(client, "/log", korean.headers["ETag"]).status_code == 200
