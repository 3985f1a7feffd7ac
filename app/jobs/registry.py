"""The task registry, the retry rule, and running one job (shared by every backend).

A task is a plain function taking keyword arguments that are ids and short strings (never
whole objects: the row may have changed or gone by the time the job runs). It signals

- `RetryLater(reason, retry_after=None)`: try again later (connection error, 429, 5xx);
- `GiveUp(reason)`: a permanent failure (a 4xx, a missing setting): no retry;
- any other exception: a bug or an unexpected failure, retried like RetryLater.

Retries wait `base * 2 ** (attempt - 1)` seconds (capped), of which a random half is jitter,
and never less than a `Retry-After` the other side asked for. After `max_attempts` the job
ends failed and stays visible (on PostgreSQL at /admin/jobs) with its last error.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from app.extensions import db
from app.models.base import utcnow

log = logging.getLogger("app.jobs")

QUEUES = ("notifications", "publishing", "llm", "default")


class RetryLater(Exception):  # noqa: N818 - a signal to the runner, not an error to catch
    """Try the job again later; `retry_after` (seconds) is the least wait the other side asked."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class GiveUp(Exception):  # noqa: N818
    """A permanent failure: the job ends failed without further attempts."""


@dataclass(frozen=True)
class Task:
    name: str
    func: Callable[..., Any]
    queue: str = "default"
    max_attempts: int = 5
    # A Flask setting that overrides max_attempts when set (e.g. NOTIFY_MAX_ATTEMPTS).
    attempts_setting: str | None = None
    # Cron expression (UTC) for a periodic task; the job then gets `timestamp` (epoch seconds).
    cron: str | None = None

    def attempts_for(self, app: Flask) -> int:
        if self.attempts_setting and app.config.get(self.attempts_setting):
            return max(1, int(app.config[self.attempts_setting]))
        return self.max_attempts


_TASKS: dict[str, Task] = {}


def task(name: str, *, queue: str = "default", max_attempts: int = 5,
         attempts_setting: str | None = None, cron: str | None = None) -> Callable:
    """Register a function as the task `name` (decorator)."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}; one of {', '.join(QUEUES)}")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        _TASKS[name] = Task(name, func, queue, max_attempts, attempts_setting, cron)
        return func

    return register


def tasks() -> dict[str, Task]:
    import app.jobs.catalog  # noqa: F401 - registers the app's tasks

    return dict(_TASKS)


def get_task(name: str) -> Task:
    found = tasks().get(name)
    if found is None:
        raise KeyError(f"unknown task {name!r}")
    return found


def retry_delay(app: Flask, attempt: int, exc: BaseException) -> float:
    """Seconds before attempt `attempt + 1`: exponential back-off with jitter, ≥ Retry-After."""
    base = float(app.config.get("JOBS_RETRY_BASE_SECONDS", 2.0))
    cap = float(app.config.get("JOBS_RETRY_MAX_SECONDS", 600.0))
    backoff = min(cap, base * 2 ** max(0, attempt - 1))
    wait = backoff / 2 + random.uniform(0, backoff / 2)  # noqa: S311 - jitter, not a secret
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        wait = max(wait, min(float(retry_after), cap))
    return wait


def should_retry(app: Flask, task_: Task, attempt: int, exc: BaseException) -> bool:
    return not isinstance(exc, GiveUp) and attempt < task_.attempts_for(app)


def run(app: Flask, task_: Task, args: dict[str, Any], *, job_id: int | str | None,
        attempt: int) -> Any:
    """Run one attempt inside an app context; log one JSON line; re-raise failures."""
    from app.metrics import observe_job

    started = time.monotonic()
    outcome = "succeeded"
    error: str | None = None
    try:
        with app.app_context():
            try:
                return task_.func(**args)
            except BaseException as exc:
                db.session.rollback()
                if isinstance(job_id, int):
                    _record_error(job_id, task_.name, attempt, exc)
                raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
        will_retry = isinstance(exc, Exception) and should_retry(app, task_, attempt, exc)
        outcome = "retried" if will_retry else "failed"
        raise
    finally:
        duration = time.monotonic() - started
        observe_job(task_.name, outcome, duration)
        line: dict[str, Any] = {"task": task_.name, "job_id": job_id, "attempt": attempt,
                                "outcome": outcome, "duration_ms": round(duration * 1000, 1)}
        if error:
            line["error"] = error
        # One line per run; with LOG_FORMAT=json these fields are the JSON object's keys.
        level = logging.INFO if outcome == "succeeded" else logging.WARNING
        log.log(level, "job %s %s", task_.name, outcome, extra=line)


def _record_error(job_id: int, task_name: str, attempt: int, exc: BaseException) -> None:
    from app.models import JobError

    try:
        row = db.session.get(JobError, job_id) or JobError(job_id=job_id)
        row.task, row.attempt = task_name, attempt
        row.error = f"{type(exc).__name__}: {exc}"[:500]
        row.at = utcnow()
        db.session.add(row)
        db.session.commit()
    except Exception:  # noqa: BLE001 - the job's own failure matters more than this note
        db.session.rollback()
        log.exception("could not record the job's error")
