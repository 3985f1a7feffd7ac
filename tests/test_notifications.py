"""In-app notifications (the bell, /notifications) and their e-mails to a real SMTP server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app import jobs
from app.extensions import db
from app.models import Notification, User, WeeklyReview
from tests.llm_server import WEEK
from tests.mail_support import Mailbox, html_of, text_of
from tests.test_admin_access import team_id

SECRET_BODY = "Quietly rewrote the billing ledger"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with Mailbox() as box:
        yield box


@pytest.fixture
def config_overrides(mailbox: Mailbox) -> dict:
    return {"SMTP_URL": mailbox.url, "MAIL_FROM": "Worklog <worklog@example.com>",
            "SERVER_NAME": "worklog.test", "JOBS_RETRY_BASE_SECONDS": 0.05,
            "LOGIN_RATE_LIMIT": "1000/minute"}


def submit_review(client, auth, member) -> None:
    auth.login_as(member)
    response = client.post_form(f"/reviews/{WEEK}", {"body": SECRET_BODY, "version": "0",
                                                      "action": "submit"})
    assert response.status_code == 302


HX = {"HX-Request": "true"}


def badge(client) -> str:
    return client.get("/notifications/badge", headers=HX).get_data(as_text=True)


def count_in(html: str) -> int:
    found = re.search(r'data-count="(\d+)"', html)
    return int(found.group(1)) if found else -1


def test_it_lights_the_members_bell_and_emails_them_when_changes_are_requested(
        app, client, auth, actors, mailbox):
    with app.app_context():
        db.session.get(User, actors.member.id).locale = "ko"
        db.session.commit()
    submit_review(client, auth, actors.member)
    auth.login_as(actors.lead)
    client.post_form("/reviews/r/1/request-changes", {"comment": "Numbers, please."})
    assert jobs.drain(app)

    auth.login_as(actors.member)
    assert count_in(badge(client)) == 1
    page = client.get("/notifications").get_data(as_text=True)
    assert "요청" in page or "requested changes" in page
    assert "/notifications/" in page

    [message] = mailbox.to("member@example.com")
    assert message.is_multipart()
    assert WEEK in message["Subject"] and "변경" in message["Subject"]  # Korean, her language
    assert "http://worklog.test/reviews/r/1" in text_of(message)
    assert "http://worklog.test/reviews/r/1" in html_of(message)
    assert message["List-Unsubscribe"].startswith("<http://worklog.test/notifications/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The lead got the submission e-mail, in English, without the author's text.
    [to_lead] = mailbox.to("lead@example.com")
    assert "submitted their weekly review for " + WEEK in to_lead["Subject"]
    for m in mailbox.messages:
        assert SECRET_BODY not in text_of(m) and SECRET_BODY not in html_of(m)


def test_it_opens_the_object_marks_it_read_and_the_badge_goes_down(app, client, auth, actors):
    submit_review(client, auth, actors.member)
    auth.login_as(actors.lead)
    assert count_in(badge(client)) == 1
    with app.app_context():
        note = db.session.scalar(sa.select(Notification))
    response = client.get(f"/notifications/{note.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith("/reviews/r/1")
    assert count_in(badge(client)) == 0
    assert client.get("/notifications/badge", headers=HX).headers["Cache-Control"] == "no-store"
    # Opened directly (not by htmx), the badge is the notifications page.
    direct = client.get("/notifications/badge")
    assert direct.status_code == 302 and direct.headers["Location"].endswith("/notifications")


def test_mark_read_and_all_read(app, client, auth, actors):
    submit_review(client, auth, actors.member)
    auth.login_as(actors.lead)
    client.post_form("/reviews/r/1/comments", {"body": "Looking."})
    auth.login_as(actors.member)
    client.post_form("/reviews/r/1/comments", {"body": "Thanks."})
    auth.login_as(actors.lead)
    assert count_in(badge(client)) == 2  # submitted + the author's comment
    with app.app_context():
        first = db.session.scalar(sa.select(Notification).where(
            Notification.user_id == actors.lead.id).order_by(Notification.id))
    assert client.post_form(f"/notifications/{first.id}/read").status_code == 302
    assert count_in(badge(client)) == 1
    client.post_form("/notifications/read-all")
    assert count_in(badge(client)) == 0
    assert "Mark all as read" not in client.get("/notifications").get_data(as_text=True)


def test_comments_go_to_the_other_party_only(app, client, auth, actors):
    submit_review(client, auth, actors.member)
    auth.login_as(actors.lead)
    client.post_form("/reviews/r/1/comments", {"body": "Which ledger?"})
    with app.app_context():
        kinds = {(n.user_id, n.kind) for n in db.session.scalars(sa.select(Notification))}
    assert kinds == {(actors.lead.id, "review_submitted"), (actors.member.id, "review_comment")}


def test_notifications_of_one_user_are_never_visible_to_another(app, client, auth, actors):
    submit_review(client, auth, actors.member)
    with app.app_context():
        note = db.session.scalar(sa.select(Notification))
    assert note.user_id == actors.lead.id
    for other in (actors.member, actors.teammate, actors.outsider, actors.admin):
        auth.login_as(other)
        assert client.get(f"/notifications/{note.id}").status_code == 404
        assert client.post_form(f"/notifications/{note.id}/read").status_code == 404
        assert count_in(badge(client)) == 0
        assert WEEK not in client.get("/notifications").get_data(as_text=True)
    auth.login_as(actors.lead)
    assert client.get(f"/notifications/{note.id + 1000}").status_code == 404
    assert client.get(f"/notifications/{note.id}").status_code == 302


def test_a_notification_is_hidden_once_its_object_may_no_longer_be_seen(app, client, auth, actors):
    submit_review(client, auth, actors.member)
    with app.app_context():
        db.session.get(User, actors.lead.id).team_id = team_id(app, "Growth")
        db.session.commit()
        note = db.session.scalar(sa.select(Notification))
    auth.login_as(actors.lead)
    assert count_in(badge(client)) == 0
    assert client.get(f"/notifications/{note.id}").status_code == 404


def test_publish_failed_tells_the_author_and_admins(app, client, auth, actors, mailbox):
    from app.services.notifications import notify_publish_failed

    submit_review(client, auth, actors.member)
    with app.app_context():
        review = db.session.get(WeeklyReview, 1)
        assert notify_publish_failed(review, "Notion", "HTTP 401 from Notion") == 2
        db.session.commit()
    assert jobs.drain(app)
    for user in (actors.member, actors.admin):
        auth.login_as(user)
        page = client.get("/notifications").get_data(as_text=True)
        assert "to Notion failed" in page and "HTTP 401 from Notion" in page
        assert count_in(badge(client)) == 1
    assert len(mailbox.to("admin@example.com")) == 1
    # The admin may not read the review: their link goes to the job queue, the author's to it.
    assert "http://worklog.test/admin/jobs" in text_of(mailbox.to("admin@example.com")[0])
    assert "http://worklog.test/reviews/r/1" in text_of(mailbox.to("member@example.com")[0])
    with app.app_context():
        note = db.session.scalar(sa.select(Notification).where(Notification.user_id == actors.admin.id))
    auth.login_as(actors.admin)
    assert client.get(f"/notifications/{note.id}").headers["Location"].endswith("/admin/jobs")
    assert "HTTP 401" in text_of(mailbox.to("member@example.com")[0])


def test_invite_accepted_tells_the_inviting_admin(app, client, auth, actors):
    from tests.test_admin_users import _invite

    auth.login_as(actors.admin)
    path = "/auth/invite/" + _invite(app, client).rsplit("/", 1)[1]
    client.post_form("/auth/logout")
    form = {"display_name": "Nico New", "password": "a brand new password",
            "confirm": "a brand new password"}
    assert client.post_form(path, form).status_code == 302
    auth.login_as(actors.admin)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Nico New accepted your invite" in page
    auth.login_as(actors.lead)  # only the inviting admin hears of it
    assert "accepted your invite" not in client.get("/notifications").get_data(as_text=True)


def test_preferences_choose_the_channels_and_unsubscribe_works_without_signing_in(
        app, client, auth, actors, mailbox):
    auth.login_as(actors.lead)
    form = {f"channel_{k}": "both" for k in ("review_approved", "review_changes_requested",
                                               "review_comment", "publish_failed", "invite_accepted")}
    form |= {"channel_review_submitted": "email", "daily_time": "17:00", "weekly_time": "15:00",
             "leads_time": "09:00", "weekly_day": "5", "weekly_enabled": "on",
             "reminder_email": "on"}
    assert client.post_form("/account/notifications", form).status_code == 302
    assert 'value="email" selected' in client.get("/account").get_data(as_text=True)
    submit_review(client, auth, actors.member)
    assert jobs.drain(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 0  # e-mail only
    [message] = mailbox.to("lead@example.com")
    link = message["List-Unsubscribe"].strip("<>").replace("http://worklog.test", "")

    client.post_form("/auth/logout")
    anonymous = app.test_client()
    assert "Unsubscribe" in anonymous.get(link).get_data(as_text=True)
    # A mail client's one-click POST (RFC 8058): no session, no CSRF token.
    assert anonymous.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert anonymous.get("/notifications/unsubscribe/forged.token").status_code == 404

    # Now in-app only: the next submission lights the bell and sends no e-mail.
    auth.login_as(actors.member)
    client.post_form("/reviews/r/1/comments", {"body": "One more thing."})
    with app.app_context():
        db.session.execute(sa.update(WeeklyReview).values(status="draft"))
        db.session.commit()
    client.post_form(f"/reviews/{WEEK}", {"body": "v2", "version": "1", "action": "submit"})
    assert jobs.drain(app)
    auth.login_as(actors.lead)
    assert count_in(badge(client)) == 2
    assert len(mailbox.to("lead@example.com")) == 2  # the first, plus the comment (still "both")
    assert all("submitted" not in m["Subject"] for m in mailbox.to("lead@example.com")[1:])


def test_a_temporary_smtp_failure_is_retried(app, client, auth, actors, mailbox):
    mailbox.refuse = 1
    submit_review(client, auth, actors.member)
    assert jobs.drain(app)
    # The retry is due after its back-off (25-50 ms here); on the queue a worker run started
    # sooner finds nothing due yet, so run one again until it is.
    deadline = time.monotonic() + 10
    while not mailbox.to("lead@example.com") and time.monotonic() < deadline:
        time.sleep(0.05)
        assert jobs.drain(app)
    assert len(mailbox.to("lead@example.com")) == 1


def test_the_bell_is_a_fragment_not_part_of_the_page(app, client, auth, actors):
    auth.login_as(actors.member)
    page = client.get("/log").get_data(as_text=True)
    assert 'hx-get="/notifications/badge"' in page
    assert "data-count" not in page



def test_smtp_settings_from_a_url_or_the_separate_variables():
    from app.services.mail import smtp_settings

    s = smtp_settings({"SMTP_URL": "smtp://mailer%40corp:p%3Ass@mail.example.com:587?starttls=1"})
    assert (s.host, s.port, s.user, s.password, s.starttls, s.ssl) == (
        "mail.example.com", 587, "mailer@corp", "p:ss", True, False)
    s = smtp_settings({"SMTP_URL": "smtps://u:p@mail.example.com"})
    assert (s.port, s.ssl, s.starttls) == (465, True, False)
    s = smtp_settings({"SMTP_HOST": "relay", "SMTP_PORT": 25, "SMTP_STARTTLS": False})
    assert (s.host, s.port, s.starttls, s.user) == ("relay", 25, False, None)
    assert smtp_settings({}) is None and smtp_settings({"SMTP_URL": "http://nope"}) is None
