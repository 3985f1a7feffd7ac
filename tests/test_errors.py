"""Error responses: a clean page, an htmx toast or JSON, always with the request id."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import abort

from app.extensions import db
from app.models import Team

HTMX = {"HX-Request": "true"}
JSON = {"Accept": "application/json"}
MAX_BODY = 4096


@pytest.fixture
def config_overrides():
    return {"MAX_CONTENT_LENGTH": MAX_BODY, "LOGIN_RATE_LIMIT": "2/minute"}


@pytest.fixture
def failing_routes(app):
    """Test-only views that fail the way real ones might."""

    @app.get("/_test/abort/<int:code>")
    def aborts(code: int):
        abort(code)

    @app.route("/_test/boom", methods=["GET", "POST"])
    def boom():
        db.session.add(Team(name="Half-made team"))
        db.session.flush()
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/_test/duplicate")
    def duplicate():
        db.session.add_all([Team(name="Twin"), Team(name="Twin")])
        db.session.flush()  # IntegrityError: the transaction is now unusable
        return "unreachable"

    # Stands in for any later code that commits in the same request (an audit write, say):
    # only the error handler's rollback keeps the half-made row out of the database.
    @app.after_request
    def commit_whatever_is_pending(response):
        db.session.commit()
        return response

    return app


def assert_clean_page(response, status: int, *texts: str) -> None:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<html" in page
    for text in texts:
        assert text in page
    assert f"Request ID: <code>{response.headers['X-Request-ID']}</code>" in page
    assert "Traceback" not in page


def assert_toast(response, status: int, text: str) -> None:
    assert response.status_code == status
    assert response.headers["HX-Retarget"] == "#flashes"
    assert response.headers["HX-Reswap"] == "afterbegin"
    page = response.get_data(as_text=True)
    assert "<html" not in page
    assert 'role="alert"' in page
    assert text in page
    assert response.headers["X-Request-ID"] in page


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= {"error", "message", "request_id"}
    assert body["error"] == code
    assert body["message"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


# --- 400 -------------------------------------------------------------------------------


def test_it_answers_400_cleanly(failing_routes, client):
    text = "The request could not be understood."
    assert_clean_page(client.get("/_test/abort/400"), 400, "Bad request", text)
    assert_toast(client.get("/_test/abort/400", headers=HTMX), 400, text)
    assert_json_error(client.get("/_test/abort/400", headers=JSON), 400, "bad_request")


def test_it_answers_a_missing_csrf_token_with_400(client):
    text = "This form has expired or was not sent from Worklog."
    assert_clean_page(client.post("/auth/login"), 400, text)
    assert_toast(client.post("/auth/login", headers=HTMX), 400, text)
    assert_json_error(client.post("/auth/login", headers=JSON), 400, "csrf_failed")


# --- 403, 404, 405 -----------------------------------------------------------------------


def test_it_answers_403_cleanly(client, auth, actors):
    auth.login_as(actors.member)
    text = "You do not have permission to do that."
    assert_clean_page(client.get("/admin"), 403, "Not allowed", text)
    assert_toast(client.get("/admin", headers=HTMX), 403, text)
    assert_json_error(client.get("/admin", headers=JSON), 403, "insufficient_permissions")


def test_it_answers_404_cleanly(client):
    text = "There is nothing here."
    assert_clean_page(client.get("/no/such/page"), 404, "Not found", text)
    assert_toast(client.get("/no/such/page", headers=HTMX), 404, text)
    assert_json_error(client.get("/no/such/page", headers=JSON), 404, "not_found")


def test_it_answers_404_in_json_under_api_whatever_the_accept_header(client):
    assert_json_error(client.get("/api/nothing-here"), 404, "not_found")


def test_it_answers_405_with_an_allow_header(client):
    text = "That action cannot be done this way."
    response = client.get("/auth/logout")
    assert_clean_page(response, 405, "Method not allowed", text)
    assert "POST" in response.headers["Allow"]
    assert "GET" not in response.headers["Allow"]
    htmx = client.get("/auth/logout", headers=HTMX)
    assert_toast(htmx, 405, text)
    assert "POST" in htmx.headers["Allow"]
    as_json = client.get("/auth/logout", headers=JSON)
    assert_json_error(as_json, 405, "method_not_allowed")
    assert "POST" in as_json.headers["Allow"]


# --- 413 -----------------------------------------------------------------------------------


def test_it_answers_413_for_a_body_over_the_limit(client):
    big = {"email": "a@example.com", "password": "x" * (MAX_BODY + 1)}
    text = "What you sent is larger than the server accepts."
    assert_clean_page(client.post_form("/auth/login", big), 413, "Too large", text)
    assert_toast(client.post_form("/auth/login", big, htmx=True), 413, text)
    response = client.post_form("/auth/login", big, headers=JSON)
    assert_json_error(response, 413, "payload_too_large")


def test_it_accepts_a_body_under_the_limit(client, actors):
    response = client.post_form("/auth/login", {"email": "a@example.com", "password": "x" * 1000})
    assert response.status_code == 401


# --- 429 -----------------------------------------------------------------------------------


def test_it_answers_429_with_retry_after(client):
    for _ in range(2):
        client.post_form("/auth/login", {"email": "a@example.com", "password": "wrong guess"})
    data = {"email": "a@example.com", "password": "wrong guess"}
    page = client.post_form("/auth/login", data)
    assert_clean_page(page, 429, "Too many requests", "Try again in")
    assert int(page.headers["Retry-After"]) > 0
    toast = client.post_form("/auth/login", data, htmx=True)
    assert_toast(toast, 429, "Try again in")
    assert int(toast.headers["Retry-After"]) > 0
    as_json = client.post_form("/auth/login", data, headers=JSON)
    body = assert_json_error(as_json, 429, "rate_limited")
    assert re.fullmatch(r"Too many requests\. Try again in \d+ seconds\.", body["message"])


# --- 500 -----------------------------------------------------------------------------------


def test_it_answers_500_with_a_clean_page_and_rolls_back(app, failing_routes, client):
    response = client.get("/_test/boom")
    assert_clean_page(response, 500, "Something went wrong", "The error has been logged.")
    page = response.get_data(as_text=True)
    assert "RuntimeError" not in page
    assert "hunter2" not in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Team.id))) == 0


def test_it_answers_500_to_htmx_with_a_toast(app, failing_routes, client):
    response = client.post_form("/_test/boom", htmx=True)
    assert_toast(response, 500, "The error has been logged.")
    assert "hunter2" not in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Team.id))) == 0


def test_it_answers_500_to_json_clients_in_json(app, failing_routes, client):
    body = assert_json_error(client.get("/_test/boom", headers=JSON), 500, "internal_error")
    assert "hunter2" not in body["message"]


def test_it_recovers_from_a_failed_database_statement(app, failing_routes, client, auth, actors):
    auth.login_as(actors.member)
    response = client.get("/_test/duplicate")
    assert_clean_page(response, 500, "Something went wrong", "Mina Member")
    assert "IntegrityError" not in response.get_data(as_text=True)
    assert client.get("/log").status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Team.id))) == 2  # the actors' teams


def test_it_logs_the_500_with_its_request_id(failing_routes, client, caplog):
    response = client.get("/_test/boom", headers={"X-Request-ID": "trace-500"})
    assert response.headers["X-Request-ID"] == "trace-500"
    [record] = [r for r in caplog.records if r.getMessage() == "unhandled_exception"]
    assert record.exc_info is not None
    assert "trace-500" in response.get_data(as_text=True)


# --- request ids ---------------------------------------------------------------------------


@pytest.mark.parametrize("given", ["abc-123", "req.42:alpha_Beta", "x" * 128])
def test_it_echoes_a_sane_request_id(client, given):
    response = client.get("/no/such/page", headers={"X-Request-ID": given, **JSON})
    assert response.headers["X-Request-ID"] == given
    assert response.get_json()["request_id"] == given


@pytest.mark.parametrize("given", ["x" * 129, "has space", "<script>", "a/b", "ä", ""])
def test_it_replaces_an_insane_request_id(client, given):
    response = client.get("/no/such/page", headers={"X-Request-ID": given, **JSON})
    replaced = response.headers["X-Request-ID"]
    assert replaced != given
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert response.get_json()["request_id"] == replaced


def test_it_gives_each_request_its_own_id(client):
    first = client.get("/auth/login").headers["X-Request-ID"]
    second = client.get("/auth/login").headers["X-Request-ID"]
    assert first and second and first != second


def test_it_carries_the_request_id_on_errors_raised_before_the_view(client):
    response = client.post("/auth/login", headers={"X-Request-ID": "early-error", **JSON})
    assert response.status_code == 400
    assert response.headers["X-Request-ID"] == "early-error"
    assert response.get_json()["request_id"] == "early-error"


# --- the database is down ---------------------------------------------------------------


@pytest.fixture
def app_without_database(tmp_path):
    """The app pointed at a database it cannot open, with a signed-in cookie."""
    from app import create_app
    from tests.conftest import _base_config

    settings = _base_config(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'worklog.db'}", tmp_path)
    application = create_app(settings)
    client = application.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = "a-session-token"
    return client


@pytest.mark.parametrize(
    ("headers", "kind"), [({}, "page"), (HTMX, "toast"), (JSON, "json")]
)
def test_it_answers_503_cleanly_when_the_database_is_down(app_without_database, headers, kind):
    response = app_without_database.get("/log", headers=headers)
    text = "The service is temporarily unavailable."
    if kind == "page":
        assert_clean_page(response, 503, "Temporarily unavailable", text)
    elif kind == "toast":
        assert_toast(response, 503, text)
    else:
        assert_json_error(response, 503, "service_unavailable")
    assert "OperationalError" not in response.get_data(as_text=True)
