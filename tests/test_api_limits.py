"""The per-token rate limit on /api: one budget per token, shared through Redis by every instance."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from app import create_app
from app.extensions import db
from app.models import User
from app.services.accounts import tokens as token_service
from tests.conftest import _base_config, make_user
from tests.ops_support import start_gunicorn
from tests.test_api import SEED_BODY, assert_error
from tests.test_ops_redis import _redis_url, shared_postgres  # noqa: F401  (fixture)
from tests.test_tokens import bearer, issue


@pytest.fixture
def config_overrides():
    settings = {"API_RATE_LIMIT": "3/minute"}
    if os.environ.get("REDIS_URL"):
        settings["RATELIMIT_STORAGE_URI"] = _redis_url()
    return settings


def test_each_token_has_its_own_budget_and_429_says_when_to_retry(app, client, actors):
    first_id, first = issue(app, actors.member, "first")
    _second_id, second = issue(app, actors.member, "second")
    statuses = [
        client.get("/api/daily-logs", headers=bearer(first)).status_code,
        client.post("/api/daily-logs", data=SEED_BODY, headers=bearer(first)).status_code,
        client.get("/api/daily-logs/999999", headers=bearer(first)).status_code,
    ]
    assert statuses == [200, 201, 404]  # every endpoint draws on the same budget
    refused = client.get("/api/weekly-reviews/2026-W47", headers=bearer(first))
    assert_error(refused, 429, "rate_limited")
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Another token of the same user, from the same address, is not affected.
    assert client.get("/api/daily-logs", headers=bearer(second)).status_code == 200
    # The public description is not limited.
    assert client.get("/api/openapi.json").status_code == 200

    if os.environ.get("REDIS_URL"):
        import redis

        keys = [k.decode() for k in redis.Redis.from_url(_redis_url()).scan_iter(
            f"*{app.config['RATELIMIT_KEY_PREFIX']}*")]
        assert any(f"api-token:{first_id}" in key for key in keys), keys


def _call(base: str, token: str) -> int:
    request = urllib.request.Request(f"{base}/api/daily-logs", headers=bearer(token))  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read().decode())
        assert body["error"] in ("rate_limited", "invalid_token")
        return exc.code


def _clear_api_counters(url: str) -> str:
    """Redis database 12, without the API counters an earlier run left there."""
    import urllib.parse

    import redis

    scratch = urllib.parse.urlsplit(url)._replace(path="/12").geturl()
    client = redis.Redis.from_url(scratch)
    for key in client.scan_iter("*api-token*"):
        client.delete(key)
    client.close()
    return scratch


def test_two_instances_share_one_tokens_budget_through_redis(tmp_path, shared_postgres):  # noqa: F811
    from tests.conftest import _migrate

    redis_url = _clear_api_counters(_redis_url())
    _migrate(shared_postgres, tmp_path)
    setup = create_app(_base_config(shared_postgres, tmp_path))
    with setup.app_context():
        user = make_user("api-user@example.com")
        db.session.commit()
        issued = token_service.issue_token(db.session.get(User, user.id), "shared", None, via="test",
                                           actor=None)
        db.session.commit()
        raw = issued.raw
        db.engine.dispose()

    env = {"REDIS_URL": redis_url, "API_RATE_LIMIT": "3/minute"}
    a = start_gunicorn(tmp_path, shared_postgres, workers=1, extra_env=env, name="a")
    b = start_gunicorn(tmp_path, shared_postgres, workers=1, extra_env=env, name="b")
    try:
        servers = [a.url, b.url]
        statuses = [_call(servers[i % 2], raw) for i in range(4)]
        # One budget of 3 for the token across both instances, not 3 each.
        assert statuses == [200, 200, 200, 429], statuses
        assert _call(a.url, raw) == 429
    finally:
        a.stop()
        b.stop()
