"""Readiness checks, each bounded in time so /ready answers even when a dependency hangs."""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readiness")
_inflight_lock = threading.Lock()
_inflight: dict[int, Future[tuple[str, str]]] = {}


@dataclass(frozen=True)
class Readiness:
    components: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value in ("ok", "offline", "configured") for value in self.components.values())

    @property
    def failing(self) -> list[str]:
        return [k for k, v in self.components.items() if v not in ("ok", "offline", "configured")]


def script_heads(migrations_dir: str) -> set[str]:
    try:
        return set(ScriptDirectory(migrations_dir).get_heads())
    except Exception:  # noqa: BLE001 - no migrations directory: readiness reports "pending"
        return set()


def _database_and_migrations(engine: sa.Engine, expected_heads: frozenset[str]) -> tuple[str, str]:
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        current = set(MigrationContext.configure(conn).get_current_heads())
    return "ok", ("ok" if current == expected_heads else "pending")


def check_database(engine: sa.Engine, expected_heads: frozenset[str], timeout: float) -> tuple[str, str]:
    """(database, migrations) status. One check per engine runs at a time, so a hung
    database ties up at most one thread however often the probe asks."""
    key = id(engine)
    with _inflight_lock:
        future = _inflight.get(key)
        if future is None or future.done():
            future = _executor.submit(_database_and_migrations, engine, expected_heads)
            _inflight[key] = future
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        return "timeout", "unknown"
    except Exception:  # noqa: BLE001 - any failure to reach the database means not ready
        return "unavailable", "unknown"


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
    engine: sa.Engine,
    expected_heads: frozenset[str],
    *,
    timeout: float,
    disk_path: str,
    min_free_mb: int,
    llm_provider: str,
    llm_api_key: str | None,
) -> Readiness:
    database, migrations = check_database(engine, expected_heads, timeout)
    return Readiness(
        {
            "database": database,
            "migrations": migrations,
            "llm": llm_status(llm_provider, llm_api_key),
            "disk_space": check_disk(disk_path, min_free_mb),
        }
    )
