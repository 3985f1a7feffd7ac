"""Absolute links never come from the request's Host; production answers only for its own host."""

from __future__ import annotations

import json

import pytest

from app import jobs
from tests.llm_server import WEEK
from tests.test_notify import Receiver
from tests.test_tokens import bearer, issue

BASE = "https://worklog.example.com/wl"
EVIL = "evil.example"


@pytest.fixture
def slack():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def config_overrides(slack: Receiver) -> dict:
    return {"BASE_URL": BASE, "SLACK_WEBHOOK_URL": slack.url, "NOTIFY_BACKOFF_SECONDS": 0.05,
            "LOGIN_RATE_LIMIT": "1000/minute"}


def post_as_host(client, url: str, data: dict, host: str):
    """A form post whose Host header is `host`, with the session a browser would send there."""
    token = client.csrf_token()
    for cookie in list(client._cookies.values()):
        client.set_cookie(cookie.key, cookie.value, domain=host)
    return client.post(url, data=data, headers={"Host": host, "X-CSRFToken": token})


def test_a_review_notification_links_to_base_url_whatever_host_was_asked(app, client, auth, actors, slack):
    auth.login_as(actors.member)
    response = post_as_host(client, f"/reviews/{WEEK}", {"body": "Shipped.", "version": "0",
                                                         "action": "submit"}, EVIL)
    assert response.status_code == 302  # development: no host check, only the links matter
    assert jobs.drain(app)
    (sent,) = [json.dumps(body) for body in slack.bodies]
    assert f"{BASE}/reviews/r/1" in sent
    assert EVIL not in sent


def test_invite_links_use_base_url(client, auth, actors):
    auth.login_as(actors.admin)
    response = post_as_host(client, "/admin/users/invite",
                            {"email": "new@example.com", "role": "member", "team": ""}, EVIL)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert f"{BASE}/auth/invite/" in page
    assert EVIL not in page


def test_api_url_fields_use_base_url(app, client, actors):
    _, raw = issue(app, actors.member)
    created = client.post("/api/daily-logs", json={"date": "2026-11-20", "title": "Shipped"},
                          headers={**bearer(raw), "Host": EVIL})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["url"].startswith(f"{BASE}/log/entries/")
    listed = client.get("/api/daily-logs", headers={**bearer(raw), "Host": EVIL}).get_json()
    assert all(item["url"].startswith(BASE + "/") for item in listed["items"])


PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "p" * 48, "BASE_URL": "https://worklog.example.com",
              "TRUSTED_HOSTS_EXTRA": ["alias.example.com"]}


@pytest.mark.parametrize("config_overrides", [PRODUCTION], indirect=False)
def test_production_answers_400_for_other_hosts(client):
    assert client.get("/auth/login", headers={"Host": EVIL}).status_code == 400
    assert client.get("/auth/login", headers={"Host": "worklog.example.com.evil.example"}).status_code == 400
    assert client.get("/auth/login", base_url="https://worklog.example.com").status_code == 200
    assert client.get("/auth/login", base_url="https://alias.example.com:8443").status_code == 200
    # Probes and scrapers call by address.
    assert client.get("/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200


def test_without_base_url_development_falls_back_to_the_request(app, client, actors):
    app.config["BASE_URL"] = None
    _, raw = issue(app, actors.member)
    created = client.post("/api/daily-logs", json={"date": "2026-11-20", "title": "Shipped"},
                          headers=bearer(raw))
    assert created.get_json()["url"].startswith("http://localhost/log/entries/")
