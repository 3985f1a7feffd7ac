"""Configuration from the environment: what refuses to start, and what it says to do."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from app import create_app
from app.config import ConfigError
from app.extensions import db
from tests.conftest import _postgres_url

CONFIG_NAMES = (
    "APP_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DEBUG", "LOG_LEVEL", "LOG_FORMAT",
    "LLM_PROVIDER", "OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL", "LLM_TIMEOUT_SECONDS",
    "ASK_RATE_LIMIT", "LOGIN_RATE_LIMIT", "CORS_ORIGINS", "METRICS_TOKEN", "SENTRY_DSN",
    "SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL", "TRUSTED_PROXY_COUNT", "WORKLOG_INSTANCE_PATH",
)
STRONG_SECRET = "k" * 32


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, instance: Path, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment, as on a fresh server, with the instance folder in tmp_path."""
    for name in CONFIG_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(instance))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'worklog.db'}")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    return monkeypatch


def production(env: pytest.MonkeyPatch, **values: str) -> None:
    env.setenv("APP_ENV", "production")
    env.setenv("SECRET_KEY", STRONG_SECRET)
    env.setenv("BASE_URL", "https://worklog.example.com")
    for name, value in values.items():
        env.setenv(name, value)


def refusal() -> str:
    with pytest.raises(ConfigError) as raised:
        create_app()
    return str(raised.value)


def test_it_refuses_production_without_a_secret_key(env):
    production(env)
    env.delenv("SECRET_KEY")
    message = refusal()
    assert "SECRET_KEY is not set" in message
    assert "at least 32 characters" in message


def test_it_refuses_production_with_a_short_secret_key(env):
    production(env, SECRET_KEY="s" * 31)
    message = refusal()
    assert "SECRET_KEY is too weak" in message
    assert "at least 32 characters" in message
    # The message must not echo the secret it refuses.
    assert "s" * 31 not in message


def test_it_starts_in_production_with_a_32_character_secret_key(env):
    production(env)
    app = create_app()
    assert app.config["SECRET_KEY"] == STRONG_SECRET
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_it_refuses_staging_with_a_short_secret_key(env):
    production(env, APP_ENV="staging", SECRET_KEY="short")
    assert "SECRET_KEY is too weak" in refusal()


def test_it_refuses_debug_in_production(env):
    production(env, DEBUG="true")
    message = refusal()
    assert "DEBUG must be false in production" in message


@pytest.mark.parametrize("origins", ["*", "https://worklog.example.com, *"])
def test_it_refuses_wildcard_cors_in_production(env, origins):
    production(env, CORS_ORIGINS=origins)
    assert "CORS_ORIGINS" in refusal()


def test_it_accepts_explicit_cors_origins_in_production(env):
    production(env, CORS_ORIGINS="https://worklog.example.com, https://admin.example.com")
    app = create_app()
    assert app.config["CORS_ORIGINS"] == ["https://worklog.example.com", "https://admin.example.com"]


def test_it_lists_every_problem_at_once(env):
    production(env, SECRET_KEY="weak", DEBUG="1", CORS_ORIGINS="*")
    message = refusal()
    assert "SECRET_KEY" in message
    assert "DEBUG" in message
    assert "CORS_ORIGINS" in message


def test_it_generates_a_development_secret_key_once_and_keeps_it(env, instance):
    first = create_app()
    key_file = instance / "secret_key"
    assert key_file.exists()
    key = first.config["SECRET_KEY"]
    assert len(key) >= 32
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # A restart keeps the key, so sessions survive it.
    assert create_app().config["SECRET_KEY"] == key
    assert key_file.read_text().strip() == key


def test_it_generates_a_different_key_for_another_instance_folder(env, tmp_path):
    first = create_app().config["SECRET_KEY"]
    env.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path / "other-instance"))
    assert create_app().config["SECRET_KEY"] != first


def test_it_prefers_a_secret_key_from_the_environment_in_development(env, instance):
    env.setenv("SECRET_KEY", STRONG_SECRET)
    assert create_app().config["SECRET_KEY"] == STRONG_SECRET
    assert not (instance / "secret_key").exists()


def test_it_never_generates_a_secret_key_in_production(env, instance):
    production(env)
    env.delenv("SECRET_KEY")
    refusal()
    assert not (instance / "secret_key").exists()


@pytest.mark.parametrize("name", ["LOGIN_RATE_LIMIT", "ASK_RATE_LIMIT"])
@pytest.mark.parametrize("value", ["five per minute", "5/fortnight", "/minute"])
def test_it_refuses_a_malformed_rate_limit(env, name, value):
    env.setenv(name, value)
    message = refusal()
    assert name in message
    assert "5/minute" in message  # an example of what to write
    assert repr(value) in message


def test_it_accepts_several_rate_limits(env):
    env.setenv("LOGIN_RATE_LIMIT", "3/minute;20/hour")
    assert create_app().config["LOGIN_RATE_LIMIT"] == "3/minute;20/hour"


@pytest.mark.parametrize("value", ["prod", "testing", "PRODUCTION-1"])
def test_it_refuses_an_unknown_app_env(env, value):
    env.setenv("APP_ENV", value)
    message = refusal()
    assert "APP_ENV" in message
    assert "development, staging, production" in message


def test_it_accepts_app_env_in_any_case(env):
    production(env, APP_ENV="Production")
    assert create_app().config["APP_ENV"] == "production"


@pytest.mark.parametrize(
    ("name", "value"),
    [("TRUSTED_PROXY_COUNT", "two"), ("LLM_TIMEOUT_SECONDS", "soon"), ("LOG_LEVEL", "LOUD"),
     ("LOG_FORMAT", "xml"), ("LLM_PROVIDER", "gpt")],
)
def test_it_refuses_a_setting_it_cannot_use(env, name, value):
    env.setenv(name, value)
    message = refusal()
    assert name in message
    assert repr(value) in message


def test_it_takes_a_postgres_url_as_operators_write_it(env):
    url = _postgres_url()
    if url is None:
        pytest.skip("TEST_DATABASE_URL is not set")
    # Operators paste libpq-style URLs; the app must pick the psycopg 3 driver itself.
    plain = url.replace("postgresql+psycopg://", "postgres://", 1)
    env.setenv("DATABASE_URL", plain)
    app = create_app()
    try:
        assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
        with app.app_context(), db.engine.connect() as conn:
            timeout = conn.exec_driver_sql("SHOW statement_timeout").scalar()
            idle, user_timeout = _socket_timeouts(conn.connection.dbapi_connection)
        # A runaway query is stopped by the server; a peer that vanished is noticed by the
        # client within a minute, not after the kernel's two hours.
        assert timeout == "15s"
        assert idle == 30
        assert user_timeout == 30000
    finally:
        with app.app_context():
            db.engine.dispose()


def _socket_timeouts(dbapi_connection) -> tuple[int, int]:
    fd = dbapi_connection.pgconn.socket
    with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:
        return (sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT))
