"""Shared fixtures: apps on each real database, actors, and an auth helper.

Every test that uses `app` (or anything built on it) runs once on SQLite and once on
PostgreSQL when TEST_DATABASE_URL is set. Schemas are migrated once per run (per xdist
worker, each with its own databases); each test starts from empty tables, and apps are
reused between tests with the same database and configuration.
"""

from __future__ import annotations

import copy
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db, limiter
from app.logging_setup import configure_logging
from app.models import Role, Team, User, UserSession
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
        "INSTANCE_PATH": str(instance_path),
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
    config.addinivalue_line(
        "markers", "fresh_app: build an app for this test alone (it adds routes or hooks)"
    )


# Fixtures that add test-only routes to the app: their tests get an app of their own.
ROUTE_ADDING_FIXTURES = {"failing_routes", "flash_routes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the database variants a test does not run on (deselected, not skipped)."""
    for item in items:
        if ROUTE_ADDING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fresh_app)
    keep, drop = [], []
    browser_backend = "postgresql" if _postgres_url() else "sqlite"
    for item in items:
        marker = item.get_closest_marker("backends")
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database") if callspec else None
        # A browser test checks what a person sees, not a database: it runs on one
        # (PostgreSQL when there is one) unless its `backends` marker asks for more.
        allowed = marker.args if marker else (
            (browser_backend,) if item.get_closest_marker("browser") else None)
        if allowed and backend and backend not in allowed:
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
        # procrastinate's queue (app/jobs) is not in the models but is emptied too.
        queue = ("procrastinate_jobs, procrastinate_workers, procrastinate_periodic_defers, "
                 "procrastinate_events")
        db.session.execute(sa.text(f"TRUNCATE {names}, {queue} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def config_overrides() -> dict:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    return {}


class _SharedBytecode(jinja2.BytecodeCache):
    """Compiled templates shared by every app of the run (keyed by the template's checksum)."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        data = self._store.get(bucket.key)
        if data is not None:
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _SharedBytecode()


@dataclass
class _Built:
    """An app kept for reuse, with what each test must find as it was when it was built."""

    app: Flask
    config: dict
    extensions: frozenset
    limiter_state: dict


# Apps are reused per (database, configuration) within a worker: building one (routes,
# extensions, templates) costs more than most tests. What a test may change on an app
# (config, instance path, cached probes, the shared limiter's state) is put back each time.
# A test that changes the app itself (adds a route) asks for its own with @pytest.mark.fresh_app.
# The few most recent apps are kept (each holds a connection pool; PostgreSQL has a limit).
_APPS: OrderedDict[tuple[str, str], _Built] = OrderedDict()
_KEEP_APPS = 4


def _config_key(overrides: dict) -> str:
    return repr(sorted(overrides.items(), key=lambda item: item[0]))


def _build_app(database: Database, instance: Path, overrides: dict) -> _Built:
    settings = _base_config(database.url, instance)
    settings.update(overrides)
    os.environ["WORKLOG_INSTANCE_PATH"] = str(instance)
    try:
        application = create_app(settings)
    finally:
        os.environ.pop("WORKLOG_INSTANCE_PATH", None)
    application.config["DATABASE_BACKEND"] = database.backend
    application.jinja_env.bytecode_cache = _BYTECODE
    return _Built(
        app=application,
        config=dict(application.config),
        extensions=frozenset(application.extensions),
        limiter_state=_limiter_state(),
    )


def _limiter_state() -> dict:
    state = dict(vars(limiter))
    state["limit_manager"] = copy.copy(limiter.limit_manager)
    return state


def _dispose(built: _Built) -> None:
    with built.app.app_context():
        db.session.remove()
        db.engine.dispose()


def _reusable_app(database: Database, instance: Path, overrides: dict) -> _Built:
    key = (database.url, _config_key(overrides))
    built = _APPS.get(key)
    if built is None:
        built = _APPS[key] = _build_app(database, instance, overrides)
        while len(_APPS) > _KEEP_APPS:
            _dispose(_APPS.popitem(last=False)[1])
    _APPS.move_to_end(key)
    return built


@pytest.fixture
def app(request: pytest.FixtureRequest, database: Database, tmp_path: Path,
        config_overrides: dict) -> Iterator[Flask]:
    fresh = request.node.get_closest_marker("fresh_app") is not None
    if fresh:
        built = _build_app(database, tmp_path, config_overrides)
    else:
        built = _reusable_app(database, tmp_path, config_overrides)
    application = built.app
    # Flask-Limiter is one object for every app: give it back this app's storage and limits.
    vars(limiter).update(built.limiter_state)
    limiter.limit_manager = copy.copy(built.limiter_state["limit_manager"])
    application.config.clear()
    application.config.update(built.config)
    application.instance_path = str(tmp_path)
    application.config["WORKLOG_TEST_INSTANCE"] = str(tmp_path)
    for name in set(application.extensions) - built.extensions:
        del application.extensions[name]
    # Rate-limit counters of one test must not leak into the next (shared Redis included).
    limiter._key_prefix = application.config["RATELIMIT_KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    configure_logging(application.config["LOG_LEVEL"], application.config["LOG_FORMAT"])
    with application.app_context():
        _empty_tables()
    yield application
    if fresh:
        _dispose(built)
    else:
        with application.app_context():
            db.session.remove()


@pytest.fixture(scope="session", autouse=True)
def _dispose_engines() -> Iterator[None]:
    yield
    while _APPS:
        _dispose(_APPS.popitem()[1])


class Client(FlaskClient):
    """A test client that sends the CSRF token a real page gave it.

    The token is fetched from a page once per session cookie (the raw token lives in the
    session) and reused until the session gets a new one, e.g. after signing in or out.
    """

    _csrf: tuple[str, str] | None = None

    def _raw_csrf(self) -> str | None:
        with self.session_transaction() as session:
            return session.get("csrf_token")

    def csrf_token(self) -> str:
        raw = self._raw_csrf()
        if raw is not None and self._csrf is not None and self._csrf[0] == raw:
            return self._csrf[1]
        for path in ("/auth/login", "/account"):
            response = self.get(path)
            match = CSRF_META.search(response.get_data(as_text=True))
            if match:
                raw = self._raw_csrf()
                if raw is not None:
                    self._csrf = (raw, match.group(1))
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
        """Sign in through the real form (for tests of signing in itself)."""
        email = user_or_email if isinstance(user_or_email, str) else user_or_email.email
        return self._client.post_form("/auth/login", {"email": email, "password": password}, **kwargs)

    def login_as(self, user: User) -> None:
        """Be signed in as `user`: a server-side session record and its cookie, no form.

        The same record the sign-in form opens (the app checks it on every request); tests
        of the form itself, its audit rows and its limits use `login` instead.
        """
        app = self._client.application
        with app.app_context():
            record, token = UserSession.start(db.session.get(User, user.id), "127.0.0.1", "pytest")
            db.session.commit()
        with self._client.session_transaction() as session:
            session.clear()
            session["_user_id"] = token
            session["_fresh"] = True

    def logout(self):
        return self._client.post_form("/auth/logout")


@pytest.fixture
def auth(client: Client) -> AuthActions:
    return AuthActions(client)
