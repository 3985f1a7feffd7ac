"""Background jobs: everything that calls another service or runs on a schedule.

The rest of the app uses only this module:

    from app import jobs
    jobs.enqueue("notify.review", review_id=7, event="approved", ...)   # before the commit
    db.session.commit()

and registers tasks with `@jobs.task(name, queue=..., max_attempts=...)` (app/jobs/catalog.py).

Two backends, chosen by JOBS_BACKEND (`auto`: PostgreSQL → `queue`, SQLite → `inprocess`):

- `queue` — procrastinate on PostgreSQL. `enqueue` inserts the job row with procrastinate's
  own SQL function *on the session's connection*, so it is part of the caller's transaction:
  a rollback leaves no job, a commit always leaves one (and procrastinate's NOTIFY trigger
  wakes the workers only at the commit). `flask jobs worker` processes run them.
- `inprocess` — the embedded default: jobs wait in the session until it commits, then run in a
  background thread of this process. They do not survive a restart.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.jobs.registry import QUEUES, GiveUp, RetryLater, Task, get_task, task, tasks

__all__ = ["QUEUES", "GiveUp", "RetryLater", "Task", "backend", "drain", "enqueue", "get_task",
           "task", "tasks"]

_PENDING = "worklog_jobs"
BACKENDS = ("auto", "queue", "inprocess")

_DEFER_SQL = sa.text(
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, NULL, NULL, "
    "CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"
)


def backend(app: Flask | None = None) -> str:
    """`queue` (procrastinate on PostgreSQL) or `inprocess`."""
    app = app or current_app
    chosen = app.config.get("JOBS_BACKEND") or "auto"
    if chosen == "auto":
        url = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
        return "queue" if url.startswith("postgresql") else "inprocess"
    return chosen


def enqueue(name: str, **args: Any) -> int | None:
    """Queue task `name` with `args` as part of the current database transaction.

    Returns the job id on the queue backend (None in-process). The job runs only if the
    transaction commits. Arguments must be JSON: ids and short strings.
    """
    task_ = get_task(name)
    payload = json.dumps(args, ensure_ascii=False, sort_keys=True)
    if backend() == "queue":
        ids = db.session.execute(_DEFER_SQL, {"queue": task_.queue, "task": task_.name,
                                              "args": payload}).scalar()
        return int(ids[0])
    pending = db.session.info.setdefault(_PENDING, [])
    pending.append((current_app._get_current_object(), task_, json.loads(payload)))
    return None


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    from app.jobs.inprocess import runner

    for app, task_, args in pending:
        runner.submit(app, task_, args)


@event.listens_for(Session, "after_rollback")
def _drop_on_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def drain(app: Flask | None = None, timeout: float = 30.0) -> bool:
    """Run or wait for the jobs that are due now, then return (tests, `flask jobs worker --once`).

    In-process: wait until the background thread is idle. Queue: run a procrastinate worker in
    this process until the queues are empty.
    """
    app = app or current_app._get_current_object()
    if backend(app) == "queue":
        from app.jobs.engine import run_worker

        run_worker(app, wait=False, concurrency=1, install_signals=False)
        return True
    from app.jobs.inprocess import runner

    return runner.wait_idle(timeout)
