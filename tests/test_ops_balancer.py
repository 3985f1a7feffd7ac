"""Behind a load balancer: keep-alive, draining on SIGTERM, dead database connections, metrics at 0,
one log line per event, UTF-8 JSON. (The faults themselves are in test_ops_faults.py.)"""

from __future__ import annotations

import json
import runpy
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.conftest import _migrate
from tests.ops_support import CSRF_META, get, samples, start_gunicorn, value

ROOT = Path(__file__).resolve().parent.parent
ZERO_FAMILIES = ("llm_requests_total", "llm_tokens_total", "cache_operations_total",
                 "rate_limit_exceeded_total", "errors_total")


def test_gunicorn_keeps_idle_connections_longer_than_the_usual_proxies(monkeypatch, tmp_path):
    for name in ("GUNICORN_KEEPALIVE", "GUNICORN_DRAIN_SECONDS", "GUNICORN_GRACEFUL_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    # AWS ALB's idle timeout is 60 s, nginx's upstream keepalive_timeout 60 s: the app's must be longer.
    assert settings["keepalive"] > 60
    assert settings["drain_seconds"] > 0 and settings["graceful_timeout"] >= 30
    # gunicorn's own handler is not on the root logger, where the app's is (else every event twice).
    assert settings["logconfig_dict"]["root"]["handlers"] == []

    monkeypatch.setenv("GUNICORN_KEEPALIVE", "120")
    monkeypatch.setenv("GUNICORN_DRAIN_SECONDS", "0")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["keepalive"] == 120 and settings["drain_seconds"] == 0


def test_kubernetes_waits_for_the_drain_and_the_grace_period():
    import yaml

    deployment = yaml.safe_load((ROOT / "deploy/kubernetes/deployment.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    web = pod["containers"][0]
    env = yaml.safe_load((ROOT / "deploy/kubernetes/configmap.yaml").read_text())["data"]
    drain = float(env.get("GUNICORN_DRAIN_SECONDS", 5))
    graceful = float(env.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
    command = web["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop = float(command[1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + drain + graceful


def test_ready_answers_503_at_once_while_draining(client, tmp_path, monkeypatch):
    flag = tmp_path / "draining"
    monkeypatch.setenv("WORKLOG_DRAIN_FILE", str(flag))
    assert client.get("/ready").status_code == 200
    flag.touch()
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["failing"] == ["shutdown"] and response.json["status"] == "not_ready"
    assert client.get("/health").status_code == 200  # alive, just not taking new work
    flag.unlink()
    assert client.get("/ready").status_code == 200


@pytest.fixture
def dying_connection_routes(app):
    @app.get("/_test/backend-terminated")
    def backend_terminated():
        # The server ends this request's connection, as a PostgreSQL shutdown or failover does.
        db.session.execute(sa.text("SELECT 1"))
        db.session.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return "unreachable"

    @app.get("/_test/terminated-after-answering")
    def terminated_after_answering():
        # The server ends this request's connection after its last query, before the
        # end-of-request ROLLBACK, as a shutdown between two statements does.
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        with db.engine.connect() as other:
            other.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        return "answered"

    @app.get("/_test/query")
    def query():
        return str(db.session.scalar(sa.text("SELECT 41 + 1")))

    return app


@pytest.mark.fresh_app
@pytest.mark.backends("postgresql")
def test_a_connection_the_server_ends_gives_503_and_the_next_request_works(dying_connection_routes, client):
    response = client.get("/_test/backend-terminated", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json["error"] == "service_unavailable"
    # The pool was invalidated: the next requests get fresh connections, not the dead one.
    for _ in range(3):
        assert client.get("/_test/query").get_data(as_text=True) == "42"


@pytest.mark.fresh_app
@pytest.mark.backends("postgresql")
def test_a_connection_ended_before_teardown_does_not_turn_the_answer_into_a_500(dying_connection_routes,
                                                                                client):
    response = client.get("/_test/terminated-after-answering")
    assert response.status_code == 200 and response.get_data(as_text=True) == "answered"
    for _ in range(3):
        assert client.get("/_test/query").get_data(as_text=True) == "42"


@pytest.mark.backends("postgresql")
def test_server_shutdown_errors_count_as_disconnects():
    import psycopg

    from app.db_resilience import is_server_gone

    assert is_server_gone(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    assert is_server_gone(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not is_server_gone(psycopg.errors.UniqueViolation("duplicate key"))
    assert not is_server_gone(None)


def test_api_json_is_utf8_not_escaped(app, client, actors):
    from tests.test_tokens import issue

    token = issue(app, actors.member)[1]
    response = client.post("/api/daily-logs", headers={"Authorization": f"Bearer {token}"},
                           json={"title": "결제 모듈", "category": "테스트", "impact_level": "Low"})
    assert response.status_code == 201
    raw = response.get_data()
    assert "결제 모듈".encode() in raw and b"\\u" not in raw
    assert json.loads(raw)["category"] == "테스트"


# --- one gunicorn, as in production ---------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'gunicorn.db'}"
    _migrate(url, tmp_path)
    return url


def test_under_gunicorn_metrics_start_at_zero_and_each_event_is_logged_once(tmp_path, sqlite_url):
    server = start_gunicorn(tmp_path, sqlite_url, workers=2, extra_env={"LOG_LEVEL": "INFO"})
    try:
        parsed = samples(get(f"{server.url}/metrics")[1])
        for family in ZERO_FAMILIES:
            names = {name for name, _labels in parsed if name.startswith(family)}
            assert names, f"{family} is missing before its first event"
        assert value(parsed, "errors_total", status="500") == 0
        assert value(parsed, "rate_limit_exceeded_total", route="/auth/login") == 0
        assert value(parsed, "cache_operations_total", cache="ask", operation="hit") == 0
        assert value(parsed, "llm_tokens_total", purpose="ask", kind="prompt") == 0
        assert value(parsed, "llm_requests_total", purpose="structure", outcome="ok") == 0

        import http.cookiejar
        import urllib.parse
        import urllib.request

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(f"{server.url}/auth/login", timeout=10) as page:  # noqa: S310
            token = CSRF_META.search(page.read().decode()).group(1)
        form = urllib.parse.urlencode({"email": "nobody@example.com", "password": "wrong-password",
                                       "csrf_token": token}).encode()
        try:
            opener.open(urllib.request.Request(f"{server.url}/auth/login", data=form), timeout=10)  # noqa: S310
        except urllib.error.HTTPError as refused:
            assert refused.code == 401
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    failed = [line for line in lines if line.get("message") == "auth_failed"]
    assert len(failed) == 1, failed
    assert failed[0]["event"] == "auth_failed" and failed[0]["reason"] == "unknown_email"
    # No event written twice (the app's line and a bare copy from gunicorn's handler).
    access = [line for line in lines if line.get("logger") == "worklog.access"]
    assert access and all("route" in line for line in access)


def test_sigterm_drains_then_finishes_in_flight_requests_and_exits(tmp_path, sqlite_url):
    server = start_gunicorn(tmp_path, sqlite_url, workers=1,
                            extra_env={"GUNICORN_DRAIN_SECONDS": "2", "LOG_LEVEL": "INFO"})
    try:
        assert get(f"{server.url}/ready")[0] == 200
        server.proc.send_signal(signal.SIGTERM)
        statuses = []
        for _ in range(100):
            try:
                statuses.append(get(f"{server.url}/ready", timeout=5)[0])
            except OSError:
                statuses.append(0)
            if statuses[-1] != 200:
                break
            time.sleep(0.02)
        # Still listening and answering, but not ready: the balancer drains it.
        assert statuses[-1] == 503, statuses
        assert get(f"{server.url}/health")[0] == 200
        assert server.proc.wait(timeout=60) == 0
    finally:
        server.stop()
    assert "draining" in server.log()


def test_a_log_line_never_loads_the_user_from_a_database_that_is_gone(app):
    """The error handler's log call must not fail when the signed-in user was expired by the rollback."""
    import logging

    from app.logging_setup import RequestContextFilter
    from app.models import User
    from tests.ops_support import closed_port

    dead = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/gone",
                            connect_args={"connect_timeout": 2})
    session = sa.orm.Session(dead)
    user = User(id=7, email="gone@example.com", display_name="Gone", role="member")
    sa.orm.make_transient_to_detached(user)
    session.add(user)
    session.expire(user)
    with pytest.raises(sa.exc.OperationalError):
        _ = user.email  # reading an attribute would go to the database
    session.expire(user)
    with app.test_request_context("/log"):
        from flask import g

        g._login_user = user
        record = logging.LogRecord("worklog.errors", logging.ERROR, __file__, 1, "unhandled_exception",
                                   (), None)
        assert RequestContextFilter().filter(record) is True
        assert record.user_id == 7
    dead.dispose()


def test_a_database_lost_after_the_user_was_loaded_still_gets_the_503_page(tmp_path):
    """The failure the fault suite found: the error page read the (expired) user's language
    from the database that had just gone, and gunicorn answered a bare 500 instead."""
    from flask_login import current_user, login_required

    from app import create_app
    from app.models import User
    from tests.conftest import (
        AuthActions,
        _base_config,
        _create_pg_database,
        _drop_pg_database,
        _postgres_url,
        password_hash,
        service_missing,
    )

    admin = _postgres_url()
    if admin is None:
        service_missing("TEST_DATABASE_URL is not set; this test loses a PostgreSQL database mid-request")
    name, url = _create_pg_database(admin)
    try:
        _migrate(url, tmp_path)
        app = create_app(_base_config(url, tmp_path))

        @app.get("/_test/database-lost")
        @login_required
        def database_lost():
            assert current_user.locale == "ko"  # the user is loaded
            # The database goes away (its connections are ended), as in an outage or failover.
            _drop_pg_database(admin, name)
            db.session.execute(sa.text("SELECT 1"))
            return "unreachable"

        with app.app_context():
            user = User(email="lost@example.com", display_name="Lost", role="member", locale="ko")
            user.password_hash = password_hash()
            db.session.add(user)
            db.session.commit()
            user_id = user.id
        client = app.test_client()
        with app.app_context():
            AuthActions(client).login_as(db.session.get(User, user_id))
        response = client.get("/_test/database-lost")
        assert response.status_code == 503
        assert "Temporarily unavailable" in response.get_data(as_text=True)
        with app.app_context():
            db.engine.dispose()
    finally:
        _drop_pg_database(admin, name)
