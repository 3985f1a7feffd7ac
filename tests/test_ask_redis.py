"""Two app instances (separate gunicorn processes) share the ask limit and answer cache via Redis."""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import AskQuestion, LLMCall
from tests.conftest import PASSWORD, _base_config, _migrate, make_user
from tests.log_support import make_entry
from tests.ops_support import start_gunicorn
from tests.test_ops_redis import Browser, _redis_url, _scratch_redis, shared_postgres  # noqa: F401

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _ask(browser: Browser, question: str) -> tuple[int, str, dict]:
    data = urllib.parse.urlencode({"question": question, "csrf_token": browser.token}).encode()
    request = urllib.request.Request(f"{browser.base}/ask", data=data,  # noqa: S310 - loopback
                                     headers={"HX-Request": "true", "X-CSRFToken": browser.token})
    try:
        with browser.opener.open(request, timeout=20) as response:  # noqa: S310
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def _signed_in(base: str, email: str) -> Browser:
    browser = Browser(base)
    assert browser.login(email, PASSWORD) == 200
    # A new session has a new CSRF token: read it from a page.
    with browser.opener.open(f"{base}/ask", timeout=10) as response:  # noqa: S310
        browser.token = CSRF_META.search(response.read().decode()).group(1)
    return browser


def test_two_instances_share_the_ask_limit_and_cache(tmp_path, shared_postgres) -> None:  # noqa: F811
    redis_url = _scratch_redis(_redis_url())
    _migrate(shared_postgres, tmp_path)
    app = create_app(_base_config(shared_postgres, tmp_path))
    email = f"asker-{uuid.uuid4().hex[:8]}@example.com"
    with app.app_context():
        user = make_user(email)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
    entry_id = make_entry(app, user, "Cut checkout latency", result="p95 from 900 ms to 310 ms.")
    env = {"REDIS_URL": redis_url, "ASK_RATE_LIMIT": "3/minute",
           "LLM_PROVIDER": "offline"}
    a = start_gunicorn(tmp_path, shared_postgres, workers=2, extra_env=env, name="a")
    b = start_gunicorn(tmp_path, shared_postgres, workers=2, extra_env=env, name="b")
    try:
        browsers = [_signed_in(a.url, email), _signed_in(b.url, email)]
        results = [_ask(browsers[i % 2], "How did I cut checkout latency?") for i in range(4)]
        statuses = [status for status, _body, _headers in results]
        # One shared budget of 3 questions across both instances, not 3 each.
        assert statuses == [200, 200, 200, 429], statuses
        assert "Try again in" in results[3][1]
        assert f'href="/log/entries/{entry_id}"' in results[1][1]
    finally:
        a.stop()
        b.stop()
    with app.app_context():
        rows = db.session.scalars(sa.select(AskQuestion).order_by(AskQuestion.id)).all()
        calls = db.session.scalars(sa.select(LLMCall).order_by(LLMCall.id)).all()
        # Asked on a, then answered from the shared cache on b, and again on a.
        assert [r.cache_hit for r in rows] == [False, True, True]
        assert [c.cache_hit for c in calls] == [False, True, True]
        key = f"worklog:ask:{user.id}:{rows[0].cache_key}"
        db.session.remove()
        db.engine.dispose()
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        assert client.exists(key)  # the answer is kept in Redis, where every instance finds it
        client.delete(key)
    finally:
        client.close()
