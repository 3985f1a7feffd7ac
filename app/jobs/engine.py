"""procrastinate on PostgreSQL: the only module that imports the library.

`build(app)` makes a procrastinate App over psycopg 3 with every registered task wrapped so it
runs inside a Flask app context (registry.run: logging, metrics) and retries by the app's rule.
`run_worker(app, ...)` runs a worker until SIGTERM/SIGINT: it stops taking jobs, waits up to
JOBS_SHUTDOWN_GRACE_SECONDS for the running ones, and if one is still running after that (a
synchronous call cannot be interrupted) exits anyway; that job stays `doing` on a worker that
no longer heartbeats and the stalled-job recovery puts it back in the queue (its task is
idempotent, so the second run has no second effect).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from typing import Any

import procrastinate
from flask import Flask
from procrastinate import retry as retry_module
from procrastinate.worker import Worker

from app.jobs.registry import Task, retry_delay, run, should_retry, tasks

log = logging.getLogger("app.jobs")


def conninfo(app: Flask) -> str:
    """The database URL as libpq wants it (no SQLAlchemy driver suffix)."""
    url = str(app.config["SQLALCHEMY_DATABASE_URI"])
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url


class _Retry(retry_module.BaseRetryStrategy):
    def __init__(self, app: Flask, task_: Task) -> None:
        self.app, self.task = app, task_

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> Any:
        attempt = job.attempts + 1  # procrastinate counts earlier attempts from 0
        if not isinstance(exception, Exception) or not should_retry(self.app, self.task,
                                                                    attempt, exception):
            return None
        return retry_module.RetryDecision(
            retry_in={"seconds": round(retry_delay(self.app, attempt, exception), 3)})


def build(app: Flask) -> procrastinate.App:
    papp = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(app), min_size=1, max_size=max(4, int(app.config.get(
            "JOBS_CONCURRENCY", 2)) + 2)))
    for task_ in tasks().values():
        _register(papp, app, task_)
    return papp


def _register(papp: procrastinate.App, app: Flask, task_: Task) -> None:
    def job(context: Any, **kwargs: Any) -> Any:
        return run(app, task_, kwargs, job_id=context.job.id, attempt=context.job.attempts + 1)

    job.__name__ = task_.name.replace(".", "_")
    registered = papp.task(name=task_.name, queue=task_.queue, pass_context=True,
                           retry=_Retry(app, task_))(job)
    if task_.cron:
        papp.periodic(cron=task_.cron, periodic_id=task_.name)(registered)


def run_worker(app: Flask, *, queues: list[str] | None = None, concurrency: int = 1,
               wait: bool = True, install_signals: bool = True, name: str | None = None) -> None:
    papp = build(app)
    grace = float(app.config.get("JOBS_SHUTDOWN_GRACE_SECONDS", 25))
    options: dict[str, Any] = {
        "queues": queues or None, "concurrency": concurrency, "wait": wait,
        "name": name or f"worker-{os.getpid()}",
        "shutdown_graceful_timeout": grace,
        "install_signal_handlers": False,
        "update_heartbeat_interval": float(app.config.get("JOBS_HEARTBEAT_SECONDS", 10)),
        "stalled_worker_timeout": float(app.config.get("JOBS_STALLED_SECONDS", 30)),
        "fetch_job_polling_interval": float(app.config.get("JOBS_POLL_SECONDS", 5)),
    }

    async def main() -> None:
        async with papp.open_async():
            worker = Worker(app=papp, **options)
            if install_signals:
                loop = asyncio.get_running_loop()

                def stop() -> None:
                    log.info("worker stopping: finishing running jobs (at most %.0f s)", grace)
                    worker.stop()
                    # A synchronous job cannot be cancelled: past the bound, exit regardless.
                    timer = threading.Timer(grace + 5, _hard_exit)
                    timer.daemon = True
                    timer.start()

                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop)
            beat = asyncio.create_task(_touch(heartbeat_file(app), options["update_heartbeat_interval"]))
            try:
                await worker.run()
            finally:
                beat.cancel()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(main())
        return
    # An event loop already runs in this thread (a caller inside Playwright's sync API, say):
    # run the worker's own loop beside it and wait (jobs push their own app context).
    failed: list[BaseException] = []

    def beside() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
            failed.append(exc)

    thread = threading.Thread(target=beside, name="jobs-drain")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]


def heartbeat_file(app: Flask) -> str:
    return str(app.config.get("JOBS_HEARTBEAT_FILE") or "/tmp/worklog-worker-heartbeat")  # noqa: S108


async def _touch(path: str, interval: float) -> None:
    """Touch `path` from the worker's event loop: a stale file means a stuck worker (liveness)."""
    while True:
        try:
            with open(path, "a"):
                os.utime(path)
        except OSError:
            log.warning("cannot write the worker heartbeat file %s", path)
        await asyncio.sleep(interval)


def _hard_exit() -> None:
    log.error("worker did not stop within its bound; exiting (running jobs will be recovered)")
    logging.shutdown()
    os._exit(1)
