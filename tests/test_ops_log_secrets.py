"""No secret in any log line of a real gunicorn in production, even when the database fails.

Triggers in PostgreSQL refuse a user's sign-in and their API writes with an error whose text
carries whole rows (email, Argon2id password hash, API token hash): the worst a driver error can
put in a traceback. A rate limit keyed by the email is hit too. Then the whole output of
gunicorn (its own lines and the app's, every worker) must hold none of those values, and each
event must be written once (one handler chain, no unmasked copy).
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Role
from app.services.accounts import tokens as token_service
from tests.conftest import (
    PASSWORD,
    _base_config,
    _create_pg_database,
    _drop_pg_database,
    _migrate,
    _postgres_url,
    make_user,
    service_missing,
)
from tests.ops_support import CSRF_META, SECRET, start_gunicorn

EMAIL = "bf@example.com"
OPENAI_KEY = "sk-live-abcdefghijklmnopqrstuvwxyz0123456789"
METRICS_TOKEN = "metrics-token-0123456789abcdefghij"  # noqa: S105 - a test value

TRIGGERS = """
CREATE FUNCTION worklog_test_refuse_login() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused to update %', NEW;
END $$;
CREATE TRIGGER worklog_test_refuse_login BEFORE UPDATE ON users FOR EACH ROW
  WHEN (OLD.last_login_at IS DISTINCT FROM NEW.last_login_at)
  EXECUTE FUNCTION worklog_test_refuse_login();
CREATE FUNCTION worklog_test_refuse_entry() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'refused entry of % with token %',
    (SELECT u FROM users u WHERE u.id = NEW.user_id),
    (SELECT t FROM api_tokens t WHERE t.user_id = NEW.user_id LIMIT 1);
END $$;
CREATE TRIGGER worklog_test_refuse_entry BEFORE INSERT ON log_entries FOR EACH ROW
  EXECUTE FUNCTION worklog_test_refuse_entry();
"""


@pytest.fixture
def database(tmp_path) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated PostgreSQL database with one user, their API token, and the failing triggers."""
    admin = _postgres_url()
    if admin is None:
        service_missing("TEST_DATABASE_URL is not set; this test needs PostgreSQL")
    try:
        name, url = _create_pg_database(admin)
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    try:
        _migrate(url, tmp_path / "migrate")
        app = create_app(_base_config(url, tmp_path / "setup"))
        with app.app_context():
            user = make_user(EMAIL, Role.MEMBER)
            db.session.flush()
            issued = token_service.issue_token(user, "script", None, via="test", actor=user)
            db.session.commit()
            secrets = {
                "email": EMAIL, "password": PASSWORD, "password hash": user.password_hash,
                "raw token": issued.raw, "token hash": issued.record.token_hash,
            }
            # The parts of the Argon2id string, in case a line splits it.
            secrets["password hash digest"] = user.password_hash.rsplit("$", 1)[1]
            secrets["password hash salt"] = user.password_hash.rsplit("$", 2)[1]
            db.session.execute(sa.text(TRIGGERS))
            db.session.commit()
            db.engine.dispose()
        yield url, secrets
    finally:
        _drop_pg_database(admin, name)


class Browser:
    """Cookies by hand: production cookies are Secure, and this talks plain HTTP on loopback."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            key, _, rest = header.partition("=")
            self.cookies[key] = rest.split(";", 1)[0]
        text = response.read().decode(errors="replace")
        conn.close()
        return response.status, text

    def post_form(self, path: str, data: dict[str, str]) -> int:
        status, page = self.request("GET", "/auth/login")
        token = CSRF_META.search(page).group(1)  # type: ignore[union-attr]
        body = urlencode({**data, "csrf_token": token}).encode()
        return self.request("POST", path, body,
                            {"Content-Type": "application/x-www-form-urlencoded"})[0]


def test_no_hash_token_email_or_key_in_any_line_of_a_real_gunicorn(database, tmp_path):
    url, secrets = database
    secrets.update({"SECRET_KEY": SECRET, "OPENAI_API_KEY": OPENAI_KEY, "METRICS_TOKEN": METRICS_TOKEN})
    # One worker: without Redis each worker counts the rate limit on its own.
    server = start_gunicorn(tmp_path, url, workers=1, extra_env={
        "APP_ENV": "production", "BASE_URL": "http://127.0.0.1", "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json", "LOGIN_RATE_LIMIT": "3/minute", "OPENAI_API_KEY": OPENAI_KEY,
        "METRICS_TOKEN": METRICS_TOKEN,
    })
    try:
        browser = Browser(server.port)
        # 1. Signing in writes last_login_at: the database refuses, quoting the whole row.
        assert browser.post_form("/auth/login", {"email": EMAIL, "password": PASSWORD}) == 500
        # 2. An API write: refused with the user's and the token's rows in the message.
        status, _ = browser.request(
            "POST", "/api/daily-logs",
            json.dumps({"date": "2026-11-20", "title": "Shipped"}).encode(),
            {"Authorization": f"Bearer {secrets['raw token']}", "Content-Type": "application/json"},
        )
        assert status == 500
        # 3. Wrong passwords until the per-account limit (keyed by the email) refuses.
        statuses = [browser.post_form("/auth/login", {"email": EMAIL, "password": "wrong-password-1"})
                    for _ in range(4)]
        assert 429 in statuses, statuses
    finally:
        server.stop()
    output = server.log()
    lines = [line for line in output.splitlines() if line.strip()]
    # Not vacuous: the failures were logged, with their tracebacks.
    unhandled = [json.loads(line) for line in lines if '"unhandled_exception"' in line]
    assert len(unhandled) == 2, output
    assert all("refused" in entry["exception"] for entry in unhandled)
    assert "[HASH]" in output and "[EMAIL]" in output
    # One handler chain: each event once, every line JSON.
    refusals = statuses.count(429)
    assert sum('"message": "ratelimit ' in line for line in lines) == refusals, output
    assert sum('"message": "POST /auth/login 429"' in line for line in lines) == refusals, output
    for line in lines:
        json.loads(line)
    for name, value in secrets.items():
        assert value not in output, f"the {name} is in gunicorn's output"
    assert not re.search(r"\$argon2id\$", output)


def test_any_handler_gets_masked_records_and_hash_fields_are_masked(tmp_path):
    """A handler that is not the app's (as gunicorn's or a library's would be) sees masked text."""
    import io
    import logging

    from app.logging_setup import JsonFormatter, install_record_masking
    from app.security.passwords import hash_password

    install_record_masking()
    stream = io.StringIO()
    foreign = logging.StreamHandler(stream)
    foreign.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    ours = io.StringIO()
    json_handler = logging.StreamHandler(ours)
    json_handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.foreign")
    logger.addHandler(foreign)
    logger.addHandler(json_handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    digest = "9f" * 32
    password_hash = hash_password("correct horse battery staple")
    try:
        logger.info("row (%s, %s, %s)", EMAIL, password_hash, digest)
        try:
            raise RuntimeError(f"refused {password_hash} token_hash={digest}")
        except RuntimeError:
            logger.exception("failed")
        logger.info("event", extra={"password_hash": "anything", "token_hash": "x", "invite_hash": 1})
    finally:
        logger.removeHandler(foreign)
        logger.removeHandler(json_handler)
    for out in (stream.getvalue(), ours.getvalue()):
        assert EMAIL not in out and password_hash not in out and digest not in out, out
        assert "argon2" not in out
    event = json.loads(ours.getvalue().splitlines()[-1])
    assert event["password_hash"] == event["token_hash"] == event["invite_hash"] == "[MASKED]"
