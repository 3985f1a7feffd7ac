"""Liveness and readiness as an operator and a load balancer see them."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db, limiter
from tests.conftest import (
    _base_config,
    _create_pg_database,
    _drop_pg_database,
    _postgres_url,
)

LIVENESS = ("/health", "/liveness")
READINESS = ("/ready", "/readiness")
READY_COMPONENTS = {"database", "migrations", "llm", "disk_space"}


@pytest.mark.parametrize("path", LIVENESS)
def test_it_answers_liveness_with_status_and_version(client, app, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "healthy", "version": app.config["APP_VERSION"]}


@pytest.mark.parametrize("path", READINESS)
def test_it_answers_readiness_with_every_component(client, app, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    # No job worker runs in this test: reported, but the web app stays ready (test_jobs.py).
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    jobs = "in-process" if sqlite else "degraded (no worker heartbeat)"
    assert body == {
        "status": "ready",
        "version": app.config["APP_VERSION"],
        "environment": "development",
        "components": {"database": "ok", "migrations": "ok", "llm": "offline", "disk_space": "ok",
                       "jobs": jobs, "notion": "not configured", "confluence": "not configured"},
    }


def test_it_touches_no_database_for_liveness(client, app):
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get("/health").status_code == 200
        assert client.get("/liveness").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert statements == []


@pytest.mark.parametrize("path", LIVENESS + READINESS)
def test_it_sets_no_cookie_and_needs_no_login(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    htmx = client.get(path, headers={"HX-Request": "true"})
    assert htmx.status_code == 200
    assert "Set-Cookie" not in htmx.headers
    assert "HX-Redirect" not in htmx.headers


def test_it_sets_no_cookie_for_a_signed_in_browser(client, auth, actors):
    assert auth.login(actors.member).status_code == 302
    for path in LIVENESS + READINESS:
        response = client.get(path)
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, path


@pytest.mark.parametrize("path", LIVENESS + READINESS)
def test_it_is_never_cached(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


class TestRateLimits:
    @pytest.fixture
    def config_overrides(self):
        yield {"RATELIMIT_DEFAULT": "3/minute", "LOGIN_RATE_LIMIT": "2/minute"}
        # The shared Limiter keeps the first default limits it is given for every later app
        # in this process; take ours back so later tests are not limited by them.
        limiter.limit_manager.set_default_limits([])

    def test_it_never_rate_limits_probes(self, client):
        # The limits are real: an ordinary page is refused after three requests ...
        statuses = [client.get("/auth/login").status_code for _ in range(5)]
        assert 429 in statuses
        # ... but probes are not, however often they come.
        for _ in range(50):
            for path in LIVENESS + READINESS:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)


@pytest.mark.parametrize("path", LIVENESS + READINESS)
def test_it_does_not_treat_a_post_as_a_csrf_failure(client, path):
    response = client.post(path)
    # Probes are GET only; a POST is a wrong method, not a missing CSRF token.
    assert response.status_code == 405


# --- migrations not at head ----------------------------------------------------------


@pytest.fixture
def unmigrated_url(database, tmp_path) -> Iterator[str]:
    """An empty database of the same backend, never migrated."""
    if database.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    admin_url = _postgres_url()
    name, url = _create_pg_database(admin_url)
    try:
        yield url
    finally:
        _drop_pg_database(admin_url, name)


def _app_for(url: str, instance: Path, **overrides):
    settings = _base_config(url, instance)
    settings.update(overrides)
    os.environ["WORKLOG_INSTANCE_PATH"] = str(instance)
    try:
        return create_app(settings)
    finally:
        os.environ.pop("WORKLOG_INSTANCE_PATH", None)


def _dispose(application) -> None:
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_it_names_migrations_when_the_schema_is_not_at_head(unmigrated_url, tmp_path):
    application = _app_for(unmigrated_url, tmp_path)
    try:
        response = application.test_client().get("/ready")
        assert response.status_code == 503
        body = response.get_json()
        assert body["status"] == "not_ready"
        assert body["components"]["database"] == "ok"
        assert body["components"]["migrations"] != "ok"
        assert body["failing"] == ["migrations"]
        assert "migrations" in response.get_data(as_text=True)
        # Liveness does not care: the process is fine, it just may not take traffic.
        assert application.test_client().get("/health").status_code == 200
    finally:
        _dispose(application)


def test_it_becomes_ready_once_migrated(unmigrated_url, tmp_path):
    from flask_migrate import upgrade

    application = _app_for(unmigrated_url, tmp_path)
    try:
        client = application.test_client()
        assert client.get("/ready").status_code == 503
        with application.app_context():
            upgrade()
        response = client.get("/ready")
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["components"]["migrations"] == "ok"
    finally:
        _dispose(application)


def test_it_names_the_database_when_it_cannot_be_reached(database, tmp_path):
    # A port nobody listens on: the connection is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    if database.backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'nested' / 'worklog.db'}"
    else:
        url = sa.engine.make_url(database.url).set(host="127.0.0.1", port=port).render_as_string(
            hide_password=False
        )
    application = _app_for(url, tmp_path)
    try:
        started = time.monotonic()
        response = application.test_client().get("/ready")
        elapsed = time.monotonic() - started
        assert response.status_code == 503
        body = response.get_json()
        assert body["components"]["database"] != "ok"
        assert "database" in body["failing"]
        assert elapsed < 2.0
    finally:
        _dispose(application)


# --- a database that answers slowly ---------------------------------------------------


@contextmanager
def schema_locked(database):
    """Hold the lock a running migration would hold, so reading the schema version waits."""
    if database.backend == "sqlite":
        conn = sqlite3.connect(sa.engine.make_url(database.url).database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = sa.create_engine(database.url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE"))
            yield
            conn.rollback()
    finally:
        engine.dispose()


def test_it_answers_within_2s_while_the_database_is_locked(client, database):
    assert client.get("/ready").status_code == 200
    with schema_locked(database):
        for _ in range(3):
            elapsed, status, body = _timed_ready(client)
            assert status == 503, body
            assert body["components"]["database"] != "ok"
            assert body["failing"] == ["database"]
            assert elapsed < 2.0
        # However often it is asked, a stuck database ties up at most one probe thread.
        stuck = [t for t in threading.enumerate() if t.name == "readiness-database"]
        assert len(stuck) <= 1
    status, body = _wait_until_ready(client, within=10)
    assert status == 200, body


# --- PostgreSQL down, hanging, and back ----------------------------------------------


class FlakyProxy:
    """A TCP proxy to PostgreSQL that can refuse connections or go silent, like a stopped
    or frozen server, and come back on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        # Connections accepted before this generation stay silent for good.
        self._generation = 0
        self._silent_before = 0

    # -- control --

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._acceptor = self._spawn(self._accept_loop, listener)

    def stop_server(self) -> None:
        """Like stopping PostgreSQL: nothing listens and live connections are cut."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # The port is free only once the accept loop has left its accept() call.
            self._acceptor.join(timeout=5)
            listener.close()
        self._cut_all()

    def freeze(self) -> None:
        """Like a frozen server or a network black hole: connections are accepted, and
        nothing comes back on new or existing ones."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def thaw_new_connections_only(self) -> None:
        """The server is back, but the connections from before are gone without a word, as
        when a firewall or NAT forgot them: their packets vanish and no reset ever comes."""
        self.silence_existing_connections()
        self._flowing.set()

    def silence_existing_connections(self) -> None:
        """Connections open now never deliver another byte (a NAT or firewall forgot them);
        new ones work."""
        with self._lock:
            self._generation += 1
            self._silent_before = self._generation

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        self.stop_server()
        for thread in self._threads:
            thread.join(timeout=5)
        alive = [t.name for t in self._threads if t.is_alive()]
        assert not alive, f"proxy threads did not stop: {alive}"

    # -- plumbing --

    def _spawn(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name=f"flaky-proxy-{target.__name__}")
        self._threads.append(thread)
        thread.start()
        return thread

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener and not self._closed:
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=2)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            downstream.settimeout(None)
            self._track(downstream)
            self._track(upstream)
            with self._lock:
                generation = self._generation
            self._spawn(self._pump, downstream, upstream, generation)
            self._spawn(self._pump, upstream, downstream, generation)

    def _may_flow(self, generation: int) -> bool:
        return self._flowing.is_set() and generation >= self._silent_before

    def _pump(self, source: socket.socket, target: socket.socket, generation: int) -> None:
        while not self._closed:
            try:
                chunk = source.recv(65536)
            except OSError:
                return
            if not chunk:
                break
            # Frozen: hold the bytes (the kernel has acknowledged them) until thawed.
            while not self._may_flow(generation):
                if self._closed:
                    return
                self._flowing.wait(timeout=0.1)
            try:
                target.sendall(chunk)
            except OSError:
                return
        with suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.fixture
def postgres_proxy(database) -> Iterator[FlakyProxy]:
    assert database.backend == "postgresql", "mark the test @pytest.mark.backends('postgresql')"
    url = sa.engine.make_url(database.url)
    proxy = FlakyProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def proxied_app(database, postgres_proxy, tmp_path):
    url = sa.engine.make_url(database.url).set(host="127.0.0.1", port=postgres_proxy.port)
    application = _app_for(url.render_as_string(hide_password=False), tmp_path)
    yield application
    postgres_proxy.thaw()
    _dispose(application)


def _timed_ready(client) -> tuple[float, int, dict]:
    started = time.monotonic()
    response = client.get("/ready")
    return time.monotonic() - started, response.status_code, response.get_json()


def _wait_until_ready(client, within: float) -> tuple[int, dict]:
    deadline = time.monotonic() + within
    while True:
        _elapsed, status, body = _timed_ready(client)
        if status == 200 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


def _use_pooled_connections(application) -> None:
    """Ordinary traffic leaves connections in the pool, as a running app would have."""
    with application.app_context():
        assert db.session.execute(sa.text("SELECT 1")).scalar() == 1
        db.session.remove()


@pytest.mark.backends("postgresql")
def test_it_answers_503_within_2s_when_postgres_stops_and_recovers(proxied_app, postgres_proxy):
    client = proxied_app.test_client()
    _use_pooled_connections(proxied_app)
    assert _timed_ready(client)[1] == 200

    postgres_proxy.stop_server()
    for _ in range(3):
        elapsed, status, body = _timed_ready(client)
        assert status == 503, body
        assert body["components"]["database"] != "ok"
        assert "database" in body["failing"]
        assert elapsed < 2.0

    postgres_proxy.start()
    status, body = _wait_until_ready(client, within=10)
    assert status == 200, body
    assert body["components"]["database"] == "ok"
    # The application's own connections recover too, without a restart.
    _use_pooled_connections(proxied_app)


@pytest.mark.backends("postgresql")
def test_it_answers_503_within_2s_when_postgres_hangs_and_recovers(proxied_app, postgres_proxy):
    client = proxied_app.test_client()
    _use_pooled_connections(proxied_app)
    assert _timed_ready(client)[1] == 200

    postgres_proxy.freeze()
    for _ in range(3):
        elapsed, status, body = _timed_ready(client)
        assert status == 503, body
        assert body["components"]["database"] != "ok"
        assert "database" in body["failing"]
        assert elapsed < 2.0

    postgres_proxy.thaw()
    status, body = _wait_until_ready(client, within=10)
    assert status == 200, body
    _use_pooled_connections(proxied_app)


@pytest.mark.backends("postgresql")
def test_it_recovers_when_a_hang_ends_with_the_server_restarting(proxied_app, postgres_proxy):
    # A frozen server that is then restarted: the silent connections are cut, not resumed.
    client = proxied_app.test_client()
    _use_pooled_connections(proxied_app)
    postgres_proxy.freeze()
    elapsed, status, _body = _timed_ready(client)
    assert status == 503
    assert elapsed < 2.0
    postgres_proxy.stop_server()
    postgres_proxy.thaw()
    postgres_proxy.start()
    status, body = _wait_until_ready(client, within=10)
    assert status == 200, body


@pytest.mark.backends("postgresql")
def test_it_recovers_when_connections_from_before_a_hang_never_answer(proxied_app, postgres_proxy):
    client = proxied_app.test_client()
    _use_pooled_connections(proxied_app)
    assert _timed_ready(client)[1] == 200
    postgres_proxy.freeze()
    elapsed, status, _body = _timed_ready(client)
    assert status == 503
    assert elapsed < 2.0

    postgres_proxy.thaw_new_connections_only()
    # A check stuck on a dead connection must not hold readiness down once the server is back.
    status, body = _wait_until_ready(client, within=10)
    assert status == 200, body
    for _ in range(3):
        elapsed, status, _body = _timed_ready(client)
        assert status == 200
        assert elapsed < 2.0


@pytest.mark.backends("postgresql")
def test_it_does_not_wait_for_a_check_whose_connection_went_silent(
    database, proxied_app, postgres_proxy
):
    client = proxied_app.test_client()
    assert _timed_ready(client)[1] == 200
    with schema_locked(database):
        # The check is connected and waiting for its answer ...
        elapsed, status, _body = _timed_ready(client)
        assert status == 503
        assert elapsed < 2.0
        # ... which will now never arrive.
        postgres_proxy.silence_existing_connections()
    status, body = _wait_until_ready(client, within=10)
    assert status == 200, body
