"""Security headers on every response, and session cookie flags per environment."""

from __future__ import annotations

import pytest

PRODUCTION = {"APP_ENV": "production", "SECRET_KEY": "p" * 48, "BASE_URL": "https://localhost"}


@pytest.fixture
def config_overrides(request):
    return getattr(request, "param", {})


def csp(response) -> dict[str, list[str]]:
    policy = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, *values = directive.split()
        policy[name] = values
    return policy


PAGES = ["/auth/login", "/nowhere", "/health", "/static/app.js"]


@pytest.mark.parametrize("path", PAGES)
def test_it_sends_a_strict_content_security_policy(client, path):
    response = client.get(path)
    policy = csp(response)
    everything = response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in everything
    assert "'unsafe-inline'" not in everything
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]


@pytest.mark.parametrize("path", PAGES)
def test_it_sends_the_other_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_it_sends_security_headers_on_errors_too(client, auth, actors):
    auth.login(actors.member)
    for response in (client.get("/admin"), client.post("/auth/logout"),
                     client.get("/admin", headers={"HX-Request": "true"})):
        assert response.status_code in (400, 403)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_it_keeps_scripts_and_styles_out_of_the_page(client):
    page = client.get("/auth/login").get_data(as_text=True)
    # The CSP forbids inline script and style, so the page must not rely on them.
    assert "<script>" not in page
    assert "<style" not in page
    assert " style=" not in page
    assert " onclick=" not in page
    assert '"allowEval":false' in page


def test_it_does_not_send_hsts_outside_production(client):
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


@pytest.mark.parametrize("config_overrides", [PRODUCTION], indirect=True)
def test_it_sends_hsts_in_production(client):
    response = client.get("/auth/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def session_cookie(response) -> str:
    cookies = response.headers.getlist("Set-Cookie")
    [cookie] = [c for c in cookies if c.startswith("worklog_session=")]
    return cookie


def test_it_sets_an_httponly_samesite_lax_session_cookie(client, auth, actors):
    response = auth.login(actors.member)
    cookie = session_cookie(response)
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # development runs on plain http://127.0.0.1


@pytest.mark.parametrize("config_overrides", [PRODUCTION], indirect=True)
def test_it_sets_a_secure_session_cookie_in_production(client):
    response = client.get("/auth/login", base_url="https://localhost")
    cookie = session_cookie(response)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize("config_overrides", [PRODUCTION], indirect=True)
def test_it_signs_in_over_https_in_production(client, actors):
    import re

    page = client.get("/auth/login", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post(
        "/auth/login",
        base_url="https://localhost",
        data={"email": actors.member.email, "password": "correct horse battery staple"},
        headers={"X-CSRFToken": token, "Referer": "https://localhost/auth/login"},
    )
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie
    home = client.get("/log", base_url="https://localhost")
    assert home.status_code == 200
    assert "Strict-Transport-Security" in home.headers


def test_it_does_not_set_a_session_cookie_on_health_checks(client):
    response = client.get("/health")
    assert not [c for c in response.headers.getlist("Set-Cookie") if "worklog_session" in c]
