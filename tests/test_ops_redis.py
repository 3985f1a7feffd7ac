"""Several instances share rate limits through Redis; with Redis down, limits stay on per process."""

from __future__ import annotations

import http.cookiejar
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import _create_pg_database, _drop_pg_database, _migrate, _postgres_url, service_missing
from tests.ops_support import CSRF_META, closed_port, get, samples, start_gunicorn, value


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        service_missing("REDIS_URL is not set; the shared rate-limit tests need Redis")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at REDIS_URL is unreachable: {exc}")
    return url


class Browser:
    """A cookie jar and the CSRF token of one instance's sign-in page."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )
        with self.opener.open(f"{base}/auth/login", timeout=10) as response:  # noqa: S310
            self.token = CSRF_META.search(response.read().decode()).group(1)

    def login(self, email: str, password: str) -> int:
        data = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": self.token})
        request = urllib.request.Request(f"{self.base}/auth/login", data=data.encode())  # noqa: S310
        try:
            with self.opener.open(request, timeout=10) as response:  # noqa: S310
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


def _scratch_redis(url: str) -> str:
    """Redis database 13, without the login counters an earlier run (same IP) left there."""
    import redis

    scratch = urllib.parse.urlsplit(url)._replace(path="/13").geturl()
    client = redis.Redis.from_url(scratch)
    for key in client.scan_iter("LIMITS:LIMITER/worklog/*"):
        client.delete(key)
    client.close()
    return scratch


@pytest.fixture
def shared_postgres():
    admin = _postgres_url()
    if admin is None:
        service_missing("TEST_DATABASE_URL is not set; two instances share PostgreSQL")
    try:
        name, url = _create_pg_database(admin)
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    yield url
    _drop_pg_database(admin, name)


def test_two_instances_share_login_limits_through_redis(tmp_path, shared_postgres):
    redis_url = _scratch_redis(_redis_url())
    _migrate(shared_postgres, tmp_path)
    env = {"REDIS_URL": redis_url, "LOGIN_RATE_LIMIT": "3/minute"}
    a = start_gunicorn(tmp_path, shared_postgres, workers=2, extra_env=env, name="a")
    b = start_gunicorn(tmp_path, shared_postgres, workers=2, extra_env=env, name="b")
    try:
        browsers = [Browser(a.url), Browser(b.url)]
        email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
        # Alternate between the instances: one shared budget of 3 attempts, not 3 each.
        statuses = [browsers[i % 2].login(email, "wrong") for i in range(4)]
        assert statuses == [401, 401, 401, 429], statuses
        assert browsers[0].login(email, "wrong") == 429

        refused = []
        for server in (a, b):
            parsed = samples(get(f"{server.url}/metrics")[1])
            refused.append(value(parsed, "rate_limit_exceeded_total", route="/auth/login"))
            assert value(parsed, "auth_attempts_total", outcome="failure") >= 1
        # Each instance counts its own refusals: the 4th try went to b, the 5th to a.
        assert refused == [1, 1]
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def config_overrides():
    return {
        "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{closed_port()}/0",
        "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "LOGIN_RATE_LIMIT": "2/minute",
    }


def test_with_redis_down_login_limits_still_apply_per_process(client, caplog):
    from app.extensions import limiter

    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        statuses = [
            client.post_form("/auth/login", {"email": "x@example.com", "password": "nope"}).status_code
            for _ in range(3)
        ]
    try:
        # The limit did not switch off: it moved to this process's memory.
        assert statuses == [401, 401, 429]
        down = [r for r in caplog.records if getattr(r, "event", None) == "rate_limit_storage_unavailable"]
        assert down and down[0].levelno == logging.ERROR
    finally:
        limiter._storage_dead = False  # the shared limiter must not stay in fallback for later tests
