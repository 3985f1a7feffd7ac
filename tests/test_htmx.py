"""HTMX plumbing: CSRF on every request, Vary, out-of-band flashes, client-side redirects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import flash, render_template_string

from tests.conftest import CSRF_META

HTMX = {"HX-Request": "true"}


@pytest.fixture
def flash_routes(app):
    """Two test-only views: one answers a fragment, one a full page; both flash."""

    @app.get("/_test/fragment")
    def fragment() -> str:
        flash("Saved the thing.", "success")
        return '<p id="thing">the thing</p>'

    @app.get("/_test/page")
    def page() -> str:
        flash("Saved the page.", "success")
        return render_template_string(
            '{% extends "base.html" %}{% block content %}page{% endblock %}'
        )

    return app


# --- CSRF ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/login", "/log", "/account/sessions"])
def test_it_puts_the_csrf_token_in_a_meta_tag(client, auth, actors, path):
    auth.login_as(actors.member)
    if path == "/auth/login":
        auth.logout()
    response = client.get(path)
    assert response.status_code == 200
    assert CSRF_META.search(response.get_data(as_text=True))


def test_it_accepts_the_meta_tag_token_as_the_x_csrftoken_header(client, actors):
    token = CSRF_META.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    response = client.post(
        "/auth/login",
        data={"email": actors.member.email, "password": "correct horse battery staple"},
        headers={"X-CSRFToken": token, **HTMX},
    )
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/"


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_it_refuses_a_post_without_a_valid_csrf_token(app, client, auth, actors, token):
    auth.login_as(actors.member)
    headers = {"X-CSRFToken": token} if token else {}
    response = client.post("/account/sessions/end-others", headers=headers)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "This form has expired or was not sent from Worklog." in page
    assert "<html" in page
    # Nothing happened.
    assert client.get("/log").status_code == 200


def test_it_shows_htmx_a_csrf_failure_as_a_retargeted_toast(client, auth, actors):
    auth.login_as(actors.member)
    response = client.post("/auth/logout", headers=HTMX)
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Reswap"] == "afterbegin"
    page = response.get_data(as_text=True)
    assert "This form has expired or was not sent from Worklog." in page
    assert "<html" not in page
    assert client.get("/log").status_code == 200


def test_it_answers_json_clients_a_csrf_failure_in_json(client, actors):
    response = client.post("/auth/login", headers={"Accept": "application/json"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "csrf_failed"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_it_refuses_a_csrf_token_from_another_session(app, client, actors):
    other = app.test_client()
    token = CSRF_META.search(other.get("/auth/login").get_data(as_text=True)).group(1)
    client.get("/auth/login")
    response = client.post(
        "/auth/login",
        data={"email": actors.member.email, "password": "correct horse battery staple"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 400


# --- Vary ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [("/auth/login", 200), ("/", 302), ("/admin", 302), ("/nowhere", 404), ("/health", 200),
     ("/static/app.js", 200)],
)
@pytest.mark.parametrize("htmx", [False, True])
def test_it_varies_every_response_on_hx_request(client, path, status, htmx):
    response = client.get(path, headers=HTMX if htmx else {})
    expected = 200 if (htmx and status == 302) else status
    assert response.status_code == expected
    assert "HX-Request" in response.vary


def test_it_varies_error_responses_on_hx_request(client, auth, actors):
    auth.login_as(actors.member)
    response = client.get("/admin")
    assert response.status_code == 403
    assert "HX-Request" in response.vary
    response = client.post("/auth/logout")
    assert response.status_code == 400
    assert "HX-Request" in response.vary


# --- flashes --------------------------------------------------------------------------------


def test_it_sends_flashes_out_of_band_with_htmx_fragments(flash_routes, client):
    response = client.get("/_test/fragment", headers=HTMX)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.startswith('<p id="thing">the thing</p>')
    assert 'id="flashes" hx-swap-oob="afterbegin"' in page
    assert "Saved the thing." in page
    # Delivered once: the next page does not repeat it.
    assert "Saved the thing." not in client.get("/auth/login").get_data(as_text=True)


def test_it_keeps_flashes_for_the_next_page_without_htmx(flash_routes, client):
    response = client.get("/_test/fragment")
    page = response.get_data(as_text=True)
    assert "hx-swap-oob" not in page
    assert "Saved the thing." not in page
    assert "Saved the thing." in client.get("/auth/login").get_data(as_text=True)


def test_it_does_not_repeat_a_flash_a_full_page_already_shows(flash_routes, client):
    page = client.get("/_test/page", headers=HTMX).get_data(as_text=True)
    assert page.count("Saved the page.") == 1
    assert "hx-swap-oob" not in page


def test_it_keeps_flashes_across_an_htmx_redirect(client, auth, actors):
    auth.login_as(actors.member)
    response = client.post_form("/auth/logout", htmx=True)
    assert response.headers["HX-Redirect"] == "/auth/login"
    assert "You have signed out." not in response.get_data(as_text=True)
    assert "You have signed out." in client.get("/auth/login").get_data(as_text=True)


# --- redirects ----------------------------------------------------------------------------


def test_it_redirects_an_anonymous_htmx_request_with_hx_redirect(client):
    response = client.get(
        "/account/sessions",
        headers={**HTMX, "HX-Current-URL": "http://localhost/account?tab=2"},
    )
    assert response.status_code == 200
    target = urlsplit(response.headers["HX-Redirect"])
    assert target.path == "/auth/login"
    # Back to the page the user was on, not to the fragment's URL.
    assert parse_qs(target.query)["next"] == ["/account?tab=2"]
    assert response.get_data(as_text=True) == ""


def test_it_redirects_an_anonymous_browser_with_a_302(client):
    response = client.get("/account/sessions")
    assert response.status_code == 302
    assert "HX-Redirect" not in response.headers
    target = urlsplit(response.headers["Location"])
    assert parse_qs(target.query)["next"] == ["/account/sessions"]


def test_it_does_not_follow_an_offsite_current_url_after_sign_in(client, actors):
    response = client.get(
        "/account/sessions", headers={**HTMX, "HX-Current-URL": "https://evil.com//evil.com/x"}
    )
    next_url = parse_qs(urlsplit(response.headers["HX-Redirect"]).query)["next"][0]
    signed_in = client.post_form(
        "/auth/login", {"email": actors.member.email, "password": "correct horse battery staple"},
        query_string={"next": next_url},
    )
    assert signed_in.headers["Location"] == "/"


# --- app/web/htmx.py ----------------------------------------------------------------------


def test_trigger_merges_events_instead_of_overwriting(app) -> None:
    from flask import Response

    from app.web import trigger

    with app.test_request_context():
        response = trigger(Response(""), "log-changed")
        assert response.headers["HX-Trigger"] == "log-changed"
        trigger(response, "ask-answered")
        assert response.headers["HX-Trigger"] == "log-changed, ask-answered"
        trigger(response, "toast", {"text": "저장됨"})
        assert json.loads(response.headers["HX-Trigger"]) == {
            "log-changed": None, "ask-answered": None, "toast": {"text": "저장됨"}}


def test_every_event_the_app_triggers_has_a_listener() -> None:
    """An HX-Trigger event nobody listens for is noise: each one sent is heard somewhere."""
    root = Path(__file__).resolve().parent.parent
    sent = set()
    for path in (root / "app").rglob("*.py"):
        sent.update(re.findall(r'trigger\([^,()]+, "([a-z0-9-]+)"', path.read_text()))
        assert 'headers["HX-Trigger"]' not in path.read_text() or path.name == "htmx.py", path
    assert sent, "no events found: the pattern above no longer matches the code"
    heard = "\n".join(p.read_text() for p in [*(root / "templates").rglob("*.html"),
                                              *(root / "static").glob("*.js")])
    for event in sent:
        assert f"{event} from:body" in heard or f"'{event}'" in heard or f'"{event}"' in heard, event
