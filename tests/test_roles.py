"""Role checks: the admin area for admins only, readable 403s, JSON 403s for JSON clients."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

JSON = {"Accept": "application/json"}
NOT_ADMINS = ["member", "lead", "outsider"]


def test_it_shows_the_admin_page_to_an_admin(client, auth, actors):
    auth.login(actors.admin)
    response = client.get("/admin")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Recent audit events" in page
    assert "auth.login_succeeded" in page


def test_it_links_the_admin_area_for_admins_only(client, auth, actors):
    auth.login_as(actors.admin)
    assert 'href="/admin"' in client.get("/log").get_data(as_text=True)
    auth.logout()
    auth.login_as(actors.member)
    assert 'href="/admin"' not in client.get("/log").get_data(as_text=True)


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_it_refuses_the_admin_page_to_others_with_a_readable_page(client, auth, actors, who):
    auth.login_as(getattr(actors, who))
    response = client.get("/admin")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Not allowed" in page
    assert "You do not have permission to do that." in page
    assert response.headers["X-Request-ID"] in page
    assert "Recent audit events" not in page


@pytest.mark.parametrize("who", NOT_ADMINS)
def test_it_refuses_the_admin_page_to_json_clients_with_json(client, auth, actors, who):
    auth.login_as(getattr(actors, who))
    response = client.get("/admin", headers=JSON)
    assert response.status_code == 403
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        "error": "insufficient_permissions",
        "message": "You do not have permission to do that.",
        "request_id": response.headers["X-Request-ID"],
    }


def test_it_answers_html_to_browsers_that_also_accept_json(client, auth, actors):
    auth.login_as(actors.member)
    response = client.get(
        "/admin",
        headers={"Accept": "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8"},
    )
    assert response.status_code == 403
    assert response.mimetype == "text/html"


def test_it_refuses_the_admin_page_to_htmx_with_a_toast(client, auth, actors):
    auth.login_as(actors.lead)
    response = client.get("/admin", headers={"HX-Request": "true"})
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#flashes"
    page = response.get_data(as_text=True)
    assert "You do not have permission to do that." in page
    assert "<html" not in page


def test_it_sends_anonymous_browsers_to_sign_in(client, actors):
    response = client.get("/admin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=/admin"


def test_it_sends_anonymous_htmx_requests_to_sign_in_client_side(client, actors):
    response = client.get("/admin", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert urlsplit(response.headers["HX-Redirect"]).path == "/auth/login"
    assert response.get_data(as_text=True) == ""


def test_it_answers_401_json_to_anonymous_json_clients(client, actors):
    response = client.get("/admin", headers=JSON)
    assert response.status_code == 401
    assert response.get_json() == {
        "error": "authentication_required",
        "message": "Sign in to continue.",
        "request_id": response.headers["X-Request-ID"],
    }


def test_it_stops_a_demoted_admin_at_once(app, client, auth, actors):
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import User

    auth.login_as(actors.admin)
    assert client.get("/admin").status_code == 200
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == actors.admin.id).values(role="member"))
        db.session.commit()
    assert client.get("/admin").status_code == 403
