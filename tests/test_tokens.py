"""Personal API tokens: created at /account/tokens or with `flask tokens create`, shown once,
stored hashed, used as Bearer credentials, last use recorded, expiring, revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.logging_setup import mask
from app.models import User
from app.models.base import utcnow
from app.models.token import ApiToken
from app.services.accounts import tokens as token_service
from tests.log_support import audit_events

TOKEN_RE = re.compile(r"\bwl_[A-Za-z0-9_-]{43}\b")


def issue(app, user, name="script", days=None) -> tuple[int, str]:
    with app.app_context():
        owner = db.session.get(User, user.id)
        issued = token_service.issue_token(owner, name, days, via="test", actor=owner)
        db.session.commit()
        return issued.record.id, issued.raw


def load_token(app, token_id) -> ApiToken:
    with app.app_context():
        record = db.session.get(ApiToken, token_id)
        db.session.expunge_all()
        return record


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(app, client, auth, actors):
    auth.login_as(actors.member)
    page = client.get("/account/tokens")
    assert page.status_code == 200
    assert "You have no API tokens yet." in page.get_data(as_text=True)

    created = client.post_form("/account/tokens", {"name": "CI upload", "expires_days": "30"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    shown = TOKEN_RE.findall(html)
    assert len(set(shown)) == 1
    raw = shown[0]
    assert "shown only this once" in html
    assert created.headers["Cache-Control"] == "no-store"

    with app.app_context():
        record = db.session.scalars(sa.select(ApiToken)).one()
        assert record.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        assert record.name == "CI upload"
        assert record.user_id == actors.member.id
        stored = [str(v) for v in db.session.execute(sa.select(ApiToken.__table__)).one()]
        assert not any(raw in value for value in stored)
        assert timedelta(days=29, hours=23) < record.expires_at - record.created_at <= timedelta(days=30)

    again = client.get("/account/tokens").get_data(as_text=True)
    assert raw not in again
    assert "CI upload" in again and raw[:8] + "…" in again

    event = audit_events(app, "api_token.created")[-1]
    assert event.actor_id == actors.member.id and event.details["via"] == "web"
    assert raw not in str(event.details)
    # And the token works.
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200


def test_the_account_menu_links_to_tokens_and_the_page_needs_sign_in(client, auth, actors):
    assert client.get("/account/tokens").status_code == 302
    auth.login_as(actors.member)
    assert 'href="/account/tokens"' in client.get("/log").get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"name": "", "expires_days": ""}, "This field is required."),
        ({"name": "x" * 101, "expires_days": ""}, "Field cannot be longer than 100 characters."),
        ({"name": "ok", "expires_days": "0"}, "Number must be between 1 and 3650."),
        ({"name": "ok", "expires_days": "4000"}, "Number must be between 1 and 3650."),
        ({"name": "ok", "expires_days": "soon"}, "Not a valid integer value."),
    ],
)
def test_invalid_token_requests_are_refused_with_a_message(app, client, auth, actors, form, message):
    auth.login_as(actors.member)
    response = client.post_form("/account/tokens", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and not TOKEN_RE.search(html)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_creating_without_the_csrf_token_is_refused(app, client, auth, actors):
    auth.login_as(actors.member)
    assert client.post("/account/tokens", data={"name": "x"}).status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_last_use_is_recorded_at_most_once_a_minute(app, client, actors):
    token_id, raw = issue(app, actors.member)
    assert load_token(app, token_id).last_used_at is None
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    first = load_token(app, token_id).last_used_at
    assert first is not None
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    assert load_token(app, token_id).last_used_at == first  # no write per request

    with app.app_context():
        db.session.execute(sa.update(ApiToken).values(last_used_at=utcnow() - timedelta(minutes=2)))
        db.session.commit()
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    assert load_token(app, token_id).last_used_at > first


def test_the_list_shows_created_last_used_and_expiry(app, client, auth, actors):
    issue(app, actors.member, "never used", days=7)
    _used_id, used = issue(app, actors.member, "used daily")
    client.get("/api/daily-logs", headers=bearer(used))
    auth.login_as(actors.member)
    html = client.get("/account/tokens").get_data(as_text=True)
    rows = re.findall(r'<tr id="token-\d+".*?</tr>', html, re.S)
    assert len(rows) == 2
    never_used = next(r for r in rows if "never used" in r)
    used_row = next(r for r in rows if "used daily" in r)
    # never used: created, "Never" for last use, an expiry time
    assert never_used.count("<time") == 2 and "Never" in never_used
    # used, no expiry: created, last used, "Never" for expiry
    assert used_row.count("<time") == 2 and "Never" in used_row


def test_an_expired_token_is_refused(app, client, auth, actors):
    token_id, raw = issue(app, actors.member, days=1)
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    response = client.get("/api/daily-logs", headers=bearer(raw))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    auth.login_as(actors.member)
    html = client.get("/account/tokens").get_data(as_text=True)
    row = re.search(rf'<tr id="token-{token_id}".*?</tr>', html, re.S).group(0)
    assert "Expired" in row and "Revoke" not in row


def test_revoking_stops_the_token_at_once_and_is_audited(app, client, auth, actors):
    token_id, raw = issue(app, actors.member, "old laptop")
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    auth.login_as(actors.member)
    response = client.post_form(f"/account/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 401
    assert load_token(app, token_id).revoked_at is not None
    page = client.get("/account/tokens").get_data(as_text=True)
    assert "Token “old laptop” revoked." in page and "Revoked" in page
    event = audit_events(app, "api_token.revoked")[-1]
    assert event.actor_id == actors.member.id and event.target_id == str(token_id)


def test_someone_elses_token_cannot_be_revoked(app, client, auth, actors):
    token_id, raw = issue(app, actors.teammate)
    auth.login_as(actors.member)
    assert client.post_form(f"/account/tokens/{token_id}/revoke").status_code == 404
    assert client.post_form("/account/tokens/999999/revoke").status_code == 404
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    assert audit_events(app, "api_token.revoked") == []


def test_revoking_without_the_csrf_token_is_refused(app, client, auth, actors):
    token_id, raw = issue(app, actors.member)
    auth.login_as(actors.member)
    assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 400
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200


def test_a_deactivated_owners_tokens_stop_working(app, client, actors):
    _token_id, raw = issue(app, actors.member)
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    with app.app_context():
        db.session.get(User, actors.member.id).deactivate()
        db.session.commit()
    response = client.get("/api/daily-logs", headers=bearer(raw))
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    with app.app_context():
        db.session.get(User, actors.member.id).is_active = True
        db.session.commit()
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200


def test_the_cli_prints_only_a_working_token(app, client, runner, actors):
    result = runner.invoke(args=["tokens", "create", "MEMBER@example.com", "--name", "nightly import",
                                 "--expires-days", "7"])
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert result.stdout == raw + "\n"
    assert TOKEN_RE.fullmatch(raw)
    assert client.get("/api/daily-logs", headers=bearer(raw)).status_code == 200
    with app.app_context():
        record = db.session.scalars(sa.select(ApiToken)).one()
        assert record.name == "nightly import" and record.user_id == actors.member.id
        assert record.expires_at is not None
    event = audit_events(app, "api_token.created")[-1]
    assert event.actor_id is None and event.details["via"] == "cli"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody@example.com", "--name", "x"], "No user with email"),
        (["member@example.com", "--name", "   "], "--name must not be empty"),
        (["member@example.com", "--name", "x", "--expires-days", "0"], "Invalid value"),
    ],
)
def test_the_cli_refuses_bad_requests_without_printing_a_token(app, runner, actors, args, message):
    result = runner.invoke(args=["tokens", "create", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert not TOKEN_RE.search(result.output)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_the_cli_refuses_a_deactivated_user(app, runner, actors):
    with app.app_context():
        db.session.get(User, actors.member.id).deactivate()
        db.session.commit()
    result = runner.invoke(args=["tokens", "create", "member@example.com", "--name", "x"])
    assert result.exit_code != 0 and "deactivated" in result.output


def test_tokens_are_masked_in_log_lines(app, actors):
    _token_id, raw = issue(app, actors.member)
    for line in (f"Authorization: Bearer {raw}", f"token={raw}", f"curl -H 'x: {raw}'", raw):
        assert raw not in mask(line)
        assert raw[3:] not in mask(line)
