"""Shared fixtures: an app per test on each real database, actors, and an auth helper.

Every test that uses `app` (or anything built on it) runs once on SQLite and once on
PostgreSQL when TEST_DATABASE_URL is set. Schemas are migrated once per run; each test
starts from empty tables.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db, limiter
from app.models import Role, Team, User
from app.security.passwords import hash_password

pytest_plugins = ["tests.browser", "tests.llm_server"]

PASSWORD = "correct horse battery staple"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


# .ci/run sets WORKLOG_REQUIRE_SERVICES=1: then a missing service fails the run instead of skipping.
REQUIRE_SERVICES = _truthy("WORKLOG_REQUIRE_SERVICES")


def service_missing(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (WORKLOG_REQUIRE_SERVICES=1, so this is an error, not a skip)")
    pytest.skip(reason)


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# --- databases ---------------------------------------------------------------


def _migrate(url: str, instance_path: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(url, instance_path))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def _base_config(url: str, instance_path: Path) -> dict:
    return {
        "APP_ENV": "development",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": __import__("app.config", fromlist=["x"]).engine_options(url),
        "LOG_LEVEL": "WARNING",
        "WORKLOG_TEST_INSTANCE": str(instance_path),
    }


@dataclass
class Database:
    backend: str
    url: str


def _create_pg_database(admin_url: str) -> tuple[str, str]:
    name = f"worklog_test_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    url = sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return name, url


def _drop_pg_database(admin_url: str, name: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names): run only on these databases (sqlite, postgresql)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the variants a test's `backends` marker excludes (deselected, not skipped)."""
    keep, drop = [], []
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database") if callspec else None
        if marker and backend and backend not in marker.args:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _backends() -> list:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql"),
    ]


@pytest.fixture(scope="session", params=_backends())
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database per backend for the whole run."""
    instance = tmp_path_factory.mktemp(f"instance-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{instance / 'test.db'}"
        _migrate(url, instance)
        yield Database("sqlite", url)
        return
    admin_url = _postgres_url()
    if admin_url is None:
        service_missing("TEST_DATABASE_URL is not set; PostgreSQL variants are skipped")
    try:
        name, url = _create_pg_database(admin_url)
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    try:
        _migrate(url, instance)
        yield Database("postgresql", url)
    finally:
        _drop_pg_database(admin_url, name)


def _empty_tables() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def config_overrides() -> dict:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    return {}


@pytest.fixture
def app(database: Database, tmp_path: Path, config_overrides: dict) -> Iterator[Flask]:
    settings = _base_config(database.url, tmp_path)
    # Rate-limit counters of one test must not leak into the next (shared Redis included).
    settings["RATELIMIT_KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.update(config_overrides)
    os.environ["WORKLOG_INSTANCE_PATH"] = str(tmp_path)
    try:
        application = create_app(settings)
    finally:
        os.environ.pop("WORKLOG_INSTANCE_PATH", None)
    application.config["DATABASE_BACKEND"] = database.backend
    # Flask-Limiter keeps the key prefix of the first app it was initialised with (here the
    # migration app's "worklog"), so set this test's prefix on the shared limiter itself.
    limiter._key_prefix = settings["RATELIMIT_KEY_PREFIX"]
    with application.app_context():
        _empty_tables()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


class Client(FlaskClient):
    """A test client that sends the CSRF token a real page would give it."""

    def csrf_token(self) -> str:
        for path in ("/auth/login", "/account"):
            response = self.get(path)
            match = CSRF_META.search(response.get_data(as_text=True))
            if match:
                return match.group(1)
        raise AssertionError("no page offered a CSRF token")

    def post_form(self, url: str, data: dict | None = None, *, htmx: bool = False, **kwargs):
        headers = dict(kwargs.pop("headers", {}) or {})
        headers["X-CSRFToken"] = self.csrf_token()
        if htmx:
            headers["HX-Request"] = "true"
        return self.post(url, data=data or {}, headers=headers, **kwargs)


@pytest.fixture
def client(app: Flask) -> Client:
    app.test_client_class = Client
    return app.test_client()  # type: ignore[return-value]


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


# --- actors --------------------------------------------------------------------

_HASH_CACHE: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    # Hashing is deliberately slow; hash each test password once per run.
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = hash_password(password)
    return _HASH_CACHE[password]


@dataclass
class Actors:
    member: User
    teammate: User
    lead: User
    outsider: User
    admin: User
    team: Team
    other_team: Team


def make_user(email: str, role: Role = Role.MEMBER, team: Team | None = None, **fields) -> User:
    user = User(email=email, display_name=fields.pop("display_name", email.split("@")[0]),
                role=role.value, team=team, **fields)
    user.password_hash = password_hash()
    db.session.add(user)
    return user


@pytest.fixture
def actors(app: Flask) -> Actors:
    """member and teammate share a team led by lead; outsider is in another team."""
    with app.app_context():
        team = Team(name="Payments")
        other = Team(name="Growth")
        db.session.add_all([team, other])
        found = Actors(
            member=make_user("member@example.com", team=team, display_name="Mina Member"),
            teammate=make_user("teammate@example.com", team=team),
            lead=make_user("lead@example.com", Role.LEAD, team=team),
            outsider=make_user("outsider@example.com", team=other),
            admin=make_user("admin@example.com", Role.ADMIN),
            team=team,
            other_team=other,
        )
        db.session.commit()
        for user in (found.member, found.teammate, found.lead, found.outsider, found.admin):
            db.session.refresh(user)
        db.session.expunge_all()
        return found


class AuthActions:
    def __init__(self, client: Client) -> None:
        self._client = client

    def login(self, user_or_email: User | str, password: str = PASSWORD, **kwargs):
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        return self._client.post_form("/auth/login", {"email": email, "password": password}, **kwargs)

    def logout(self):
        return self._client.post_form("/auth/logout")


@pytest.fixture
def auth(client: Client) -> AuthActions:
    return AuthActions(client)
