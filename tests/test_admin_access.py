"""Who may open the admin console: every route × every actor.

Anonymous visitors are sent to sign in (JSON clients get 401), signed-in non-admins get 403 —
or 404 on URLs that name an object, so they cannot probe which ids exist — and admins get in.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.models import Invite, Team, User, UserSession
from app.models.base import utcnow
from tests.conftest import PASSWORD, Actors, AuthActions, Client

ACTORS = ("member", "teammate", "lead", "outsider")


def signed_in(app: Flask, user: User, *, via_form: bool = False) -> Client:
    """A client of its own, signed in as `user` (through the sign-in form if `via_form`)."""
    app.test_client_class = Client
    client = app.test_client()
    if via_form:
        response = AuthActions(client).login(user)  # type: ignore[arg-type]
        assert response.status_code == 302, response.get_data(as_text=True)
    else:
        AuthActions(client).login_as(user)  # type: ignore[arg-type]
    return client  # type: ignore[return-value]


def backdate_sign_in(app: Flask, user: User, minutes: int = 120) -> None:
    """Make the user's live sessions look signed in `minutes` ago."""
    with app.app_context():
        db.session.execute(
            sa.update(UserSession).where(UserSession.user_id == user.id)
            .values(authenticated_at=utcnow() - timedelta(minutes=minutes), reauthenticated_at=None)
        )
        db.session.commit()


def make_invite(app: Flask, email: str = "new@example.com", **fields) -> tuple[int, str]:
    with app.app_context():
        invite, token = Invite.issue(email, role=fields.pop("role", "member"), team=None,
                                     display_name=None, created_by=None,
                                     ttl_hours=fields.pop("ttl_hours", 72))
        db.session.commit()
        return invite.id, token


# (method, path template, names an object). {user}, {team} and {invite} are filled in per test.
ROUTES = [
    ("GET", "/admin", False),
    ("GET", "/admin/users", False),
    ("GET", "/admin/users?q=mem&role=member&active=yes", False),
    ("GET", "/admin/users/new", False),
    ("POST", "/admin/users/new", False),
    ("GET", "/admin/users/invite", False),
    ("POST", "/admin/users/invite", False),
    ("GET", "/admin/users/{user}", True),
    ("POST", "/admin/users/{user}/role", True),
    ("POST", "/admin/users/{user}/team", True),
    ("POST", "/admin/users/{user}/deactivate", True),
    ("POST", "/admin/users/{user}/reactivate", True),
    ("POST", "/admin/users/{user}/unlock", True),
    ("POST", "/admin/users/{user}/end-sessions", True),
    ("POST", "/admin/invites/{invite}/revoke", True),
    ("GET", "/admin/teams", False),
    ("POST", "/admin/teams", False),
    ("GET", "/admin/teams/{team}", True),
    ("POST", "/admin/teams/{team}/rename", True),
    ("POST", "/admin/teams/{team}/delete", True),
    ("POST", "/admin/teams/{team}/leads", True),
    ("GET", "/admin/audit", False),
    ("GET", "/admin/audit?format=csv", False),
    ("GET", "/admin/usage", False),
    ("GET", "/admin/usage?from=2026-11-01&to=2026-11-23", False),
    ("GET", "/admin/system", False),
    ("GET", "/admin/jobs", False),
    ("GET", "/admin/reauth?next=/admin/users", False),
    ("POST", "/admin/reauth", False),
]
FORM = {"role": "lead", "team": "", "name": "Renamed", "lead": "1", "email": "someone@example.com",
        "reauth_password": PASSWORD}


def team_id(app: Flask, name: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Team.id).where(Team.name == name))


def _url(app: Flask, actors: Actors, template: str) -> str:
    _invite_id, _token = make_invite(app)
    return template.format(user=actors.teammate.id, team=team_id(app, "Growth"), invite=_invite_id)


def _request(client: Client, method: str, url: str, user_id: int = 0, **kwargs):
    if method == "GET":
        return client.get(url, **kwargs)
    return client.post_form(url, {**FORM, "user_id": str(user_id)}, **kwargs)


@pytest.mark.parametrize("method,template,is_object", ROUTES, ids=[f"{m} {p}" for m, p, _o in ROUTES])
def test_it_lets_only_admins_in(app: Flask, actors: Actors, method: str, template: str,
                                is_object: bool) -> None:
    url = _url(app, actors, template)
    for name in ACTORS:
        client = signed_in(app, getattr(actors, name))
        response = _request(client, method, url, actors.teammate.id)
        expected = 404 if is_object else 403
        assert response.status_code == expected, (name, response.status_code)

    admin = signed_in(app, actors.admin)
    response = _request(admin, method, url, actors.teammate.id)
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    if response.status_code == 302:
        assert "/auth/login" not in response.headers["Location"]


@pytest.mark.parametrize("method,template,is_object", ROUTES, ids=[f"{m} {p}" for m, p, _o in ROUTES])
def test_it_sends_anonymous_visitors_to_sign_in(app: Flask, actors: Actors, client: Client, method: str,
                                                template: str, is_object: bool) -> None:
    url = _url(app, actors, template)
    response = _request(client, method, url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")

    response = _request(client, method, url, headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"] == "authentication_required"


def test_it_answers_json_clients_with_a_json_403(app: Flask, actors: Actors) -> None:
    client = signed_in(app, actors.member)
    response = client.get("/admin/users", headers={"Accept": "application/json"})
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "insufficient_permissions"
    assert body["message"] and body["request_id"]


def test_it_answers_404_to_admins_for_ids_that_do_not_exist(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    assert admin.get("/admin/users/999999").status_code == 404
    assert admin.get("/admin/teams/999999").status_code == 404
    assert admin.post_form("/admin/users/999999/unlock").status_code == 404
    assert admin.post_form("/admin/invites/999999/revoke").status_code == 404


def test_it_shows_the_admin_sub_navigation(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/users").get_data(as_text=True)
    for href in ("/admin/users", "/admin/teams", "/admin/audit", "/admin/usage", "/admin/feedback",
                 "/admin/system"):
        assert f'href="{href}"' in html
    assert 'href="/admin/users" aria-current="page"' in html


def test_it_rejects_an_admin_form_without_csrf_token(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    response = admin.post(f"/admin/users/{actors.member.id}/unlock")
    assert response.status_code == 400
