"""Worker processes (`flask jobs worker`) on a scratch PostgreSQL database, for the job tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.ops_support import BIN, ROOT, SECRET


@contextmanager
def scratch_database(tmp_path_factory: pytest.TempPathFactory, who: str) -> Iterator[str]:
    """A migrated scratch PostgreSQL database that worker processes can share, dropped after.

    Skips (or fails when services are required) without PostgreSQL; `who` names the tests in
    that message ("the job-worker tests")."""
    from tests.conftest import (
        _create_pg_database,
        _drop_pg_database,
        _migrate,
        _postgres_url,
        service_missing,
    )

    admin_url = _postgres_url()
    if admin_url is None:
        service_missing(f"TEST_DATABASE_URL is not set; {who} need PostgreSQL")
    try:
        name, url = _create_pg_database(admin_url)
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    try:
        _migrate(url, tmp_path_factory.mktemp("scratch-migrate"))
        yield url
    finally:
        _drop_pg_database(admin_url, name)


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout:.0f} s for {what}")
        time.sleep(0.1)


class Worker:
    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc, self.log_path = proc, log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def start_worker(tmp: Path, database_url: str, *, name: str = "worker", args: tuple = (),
                 env: dict | None = None) -> Worker:
    instance = tmp / f"{name}-instance"
    instance.mkdir(parents=True, exist_ok=True)
    full = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    full.update({
        "APP_ENV": "development", "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
        "WORKLOG_INSTANCE_PATH": str(instance), "FLASK_APP": "wsgi.py",
        "LOG_LEVEL": "INFO", "LOG_FORMAT": "json",
        "JOBS_HEARTBEAT_SECONDS": "1", "JOBS_POLL_SECONDS": "0.5",
        "JOBS_RETRY_BASE_SECONDS": "0.2",
    })
    full.update(env or {})
    log_path = tmp / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(BIN / "flask"), "jobs", "worker", "--name", name, *args],
            cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT,
        )
    return Worker(proc, log_path)


def job_rows(engine: sa.Engine, task: str | None = None) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT id, task_name, status::text AS status, attempts, args FROM procrastinate_jobs "
            "WHERE (CAST(:task AS text) IS NULL OR task_name = :task) ORDER BY id"),
            {"task": task}).all()


def statuses(engine: sa.Engine, task: str = "notify.review") -> list[str]:
    return [row.status for row in job_rows(engine, task)]
