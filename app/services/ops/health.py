"""Readiness checks, each bounded in time so /ready answers even when a dependency hangs."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

PROBE_CONNECT_TIMEOUT = 2
HEALTHY = ("ok", "offline", "configured")
NOT_CHECKED = "unknown"
# Reported, but never what makes an instance unready: the web app serves without a job worker
# (jobs wait in the queue), so "jobs: degraded (...)" must not take it out of the load balancer.
ADVISORY = frozenset({"jobs", "notion", "confluence"})


@dataclass(frozen=True)
class Readiness:
    components: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value in HEALTHY for key, value in self.components.items()
                   if key not in ADVISORY)

    @property
    def failing(self) -> list[str]:
        # "unknown" is not a failure of its own: migrations cannot be read without a database.
        return [k for k, v in self.components.items()
                if k not in ADVISORY and v not in (*HEALTHY, NOT_CHECKED)]


def script_heads(migrations_dir: str) -> set[str]:
    try:
        return set(ScriptDirectory(migrations_dir).get_heads())
    except Exception:  # noqa: BLE001 - no migrations directory: readiness reports "pending"
        return set()


class DatabaseProbe:
    """Checks one database for readiness, bounded in time even when the database hangs.

    Each check runs in a thread on a fresh connection of its own, not one from the app's
    pool: a pooled connection whose peer went silent would block forever. At most one check
    runs at a time, so a hung database ties up one thread however often the probe asks, and
    a check that outlives its timeout has its socket shut down, so its thread ends and the
    next probe starts afresh instead of waiting on a connection that may never answer.
    """

    def __init__(self, url: sa.URL | str, connect_args: dict[str, Any],
                 expected_heads: frozenset[str]) -> None:
        args = dict(connect_args)
        if "connect_timeout" in args:
            # Bounds the thread while connecting (libpq's minimum is 2 s); the answer
            # itself is bounded by the check's timeout.
            args["connect_timeout"] = PROBE_CONNECT_TIMEOUT
        self._engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)
        self._expected_heads = expected_heads
        self._lock = threading.Lock()
        self._future: Future[tuple[str, str]] | None = None
        self._socket_lock = threading.Lock()
        self._dbapi_connection: Any = None

    def check(self, timeout: float) -> tuple[str, str]:
        """(database, migrations) status."""
        with self._lock:
            future = self._future
            if future is None or future.done():
                future = self._future = Future()
                threading.Thread(target=self._run, args=(future,), daemon=True,
                                 name="readiness-database").start()
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            self._cut_off()
            return "timeout", NOT_CHECKED
        except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
            return "unavailable", NOT_CHECKED

    def _run(self, future: Future[tuple[str, str]]) -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(self._query())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the check
            future.set_exception(exc)

    def _query(self) -> tuple[str, str]:
        conn = self._engine.connect()
        try:
            with self._socket_lock:
                self._dbapi_connection = conn.connection.dbapi_connection
            conn.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
        finally:
            with self._socket_lock:
                self._dbapi_connection = None
            conn.close()
        return "ok", ("ok" if current == self._expected_heads else "pending")

    def _cut_off(self) -> None:
        """Shut down the socket of a check in progress, so its blocked read ends now."""
        with self._socket_lock:
            # Under the lock the check cannot close its connection, so the descriptor is
            # still its own; the duplicate keeps it ours however the race continues.
            pgconn = getattr(self._dbapi_connection, "pgconn", None)  # psycopg 3
            if pgconn is None:
                return
            try:
                sock = socket.fromfd(pgconn.socket, socket.AF_INET, socket.SOCK_STREAM)
            except Exception:  # noqa: BLE001 - already closed: nothing to cut
                return
        with sock, contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def check_disk(path: str, min_free_mb: int) -> str:
    try:
        free = shutil.disk_usage(path).free
    except OSError:
        return "unavailable"
    return "ok" if free >= min_free_mb * 1024 * 1024 else "low"


def llm_status(provider: str, api_key: str | None) -> str:
    if provider == "offline":
        return "offline"
    return "configured" if api_key else "missing_key"


def readiness(
    probe: DatabaseProbe,
    *,
    timeout: float,
    disk_path: str,
    min_free_mb: int,
    llm_provider: str,
    llm_api_key: str | None,
) -> Readiness:
    database, migrations = probe.check(timeout)
    return Readiness(
        {
            "database": database,
            "migrations": migrations,
            "llm": llm_status(llm_provider, llm_api_key),
            "disk_space": check_disk(disk_path, min_free_mb),
        }
    )


def jobs_status(backend: str, heartbeat_age: float | None, stalled_seconds: float) -> str:
    """`ok`, `in-process` (SQLite: no worker needed) or `degraded (no worker heartbeat ...)`."""
    if backend != "queue":
        return "in-process"
    if heartbeat_age is None:
        return "degraded (no worker heartbeat)"
    if heartbeat_age > stalled_seconds:
        return f"degraded (no worker heartbeat for {int(heartbeat_age)} s)"
    return "ok"
