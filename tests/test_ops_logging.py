"""Log lines: one JSON access line per request, security events with the client IP, secrets masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.logging_setup import ConsoleFormatter, JsonFormatter, RequestContextFilter

# (what is logged, the secret that must not appear, the mark that replaces it)
SECRET_KINDS = {
    "email": ("user ana.kim@example.co.kr signed up", "ana.kim@example.co.kr", "[EMAIL]"),
    "korean mobile": ("call 010-1234-5678 now", "1234-5678", "[PHONE]"),
    "international phone": ("call +49 (30) 1234 5678", "1234 5678", "[PHONE]"),
    "employee number": ("사번: 20231234 joined", "20231234", "[EMPLOYEE_NO]"),
    "employee number (en)": ("employee #884211 left", "884211", "[EMPLOYEE_NO]"),
    "bearer token": ("Authorization: Bearer abc.DEF-123_xyz987", "abc.DEF-123_xyz987", "Bearer [MASKED]"),
    "openai key": ("key sk-proj-A1b2C3d4E5f6G7h8", "A1b2C3d4E5f6G7h8", "sk-[MASKED]"),
    "personal api token": ("using wl_8f7e6d5c4b3a2910", "8f7e6d5c4b3a2910", "wl-[MASKED]"),
    "password field": ("password=hunter2hunter2 in form", "hunter2hunter2", "password=[MASKED]"),
    "json password": ('{"password": "s3cr3t-Value"}', "s3cr3t-Value", "[MASKED]"),
    "cookie header": ("Cookie: worklog_session=abcdef0123; theme=dark", "abcdef0123", "Cookie: [MASKED]"),
    "database url": ("postgresql://worklog:pa55word@db:5432/worklog", "pa55word", ":[MASKED]@"),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJlMTIz", "c2lnbmF0dXJlMTIz", "[JWT]"),
}


def _capture(formatter: logging.Formatter):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("test.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, handler, stream


@pytest.mark.parametrize("formatter", [JsonFormatter(), ConsoleFormatter()], ids=["json", "console"])
@pytest.mark.parametrize("kind", list(SECRET_KINDS))
def test_each_secret_kind_is_masked(kind, formatter):
    text, secret, mark = SECRET_KINDS[kind]
    logger, handler, stream = _capture(formatter)
    try:
        logger.info(text)  # in the message
        logger.info("event", extra={"detail": text})  # in a structured field
        try:
            raise ValueError(text)
        except ValueError:
            logger.exception("failed")  # in a traceback
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert secret not in out
    assert out.count(mark) >= 3, out


def test_values_under_secret_keys_are_masked_whatever_they_look_like():
    logger, handler, stream = _capture(JsonFormatter())
    try:
        logger.info("settings", extra={"api_key": "plainvalue", "openai_token": "x1", "csrf_token": "abc",
                                       "nested": {"password": "p", "keep": "visible"}})
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["api_key"] == line["openai_token"] == line["csrf_token"] == "[MASKED]"
    assert line["nested"] == {"password": "[MASKED]", "keep": "visible"}


@pytest.fixture
def json_lines(app):
    """Every record the app logs during the test, as the production JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_one_access_line_per_request_with_route_status_duration_and_user(client, actors, auth, json_lines):
    auth.login(actors.member)
    client.get("/log/entries/4242", headers={"X-Request-ID": "req-abc-123"})
    lines = [line for line in json_lines() if line["logger"] == "worklog.access"]
    line = next(x for x in lines if x.get("request_id") == "req-abc-123")
    assert line["method"] == "GET"
    assert line["route"] == "/log/entries/<int:entry_id>"
    assert line["path"] == "/log/entries/4242"
    assert line["status"] == 404
    assert isinstance(line["duration_ms"], float | int)
    assert line["user_id"] == actors.member.id
    assert {"timestamp", "level", "message"} <= set(line)
    assert len([x for x in lines if x.get("request_id") == "req-abc-123"]) == 1


def test_failed_sign_in_logs_auth_failed_with_client_ip(client, actors, auth, json_lines):
    auth.login(actors.member, "wrong password", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    event = next(x for x in json_lines() if x.get("event") == "auth_failed")
    assert event["client_ip"] == "203.0.113.9"
    assert event["reason"] == "bad_password"
    assert event["user_id"] == actors.member.id
    assert "member@example.com" not in json.dumps(json_lines())


@pytest.fixture
def config_overrides():
    return {"LOGIN_RATE_LIMIT": "1/minute"}


def test_rate_limit_exceeded_is_logged_with_client_ip(client, json_lines):
    for _ in range(2):
        client.post_form("/auth/login", {"email": "a@example.com", "password": "x"},
                         environ_base={"REMOTE_ADDR": "198.51.100.7"})
    event = next(x for x in json_lines() if x.get("event") == "rate_limit_exceeded")
    assert event["client_ip"] == "198.51.100.7"
    assert event["level"] == "WARNING"
