"""What operators see and do with the queue (PostgreSQL backend): plain SQL over
procrastinate's tables on the app's own connection, and its own functions for changes."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db

WEBHOOK_URL = re.compile(r"https?://(hooks\.|[^ ]*webhook)", re.IGNORECASE)
SECRET_ARG = re.compile(r"(key|token|secret|password|webhook|hook|auth)", re.IGNORECASE)


def _secret(name: str, value: Any) -> bool:
    if name != "key" and SECRET_ARG.search(name):  # "key" is the idempotency key, not a secret
        return True
    return isinstance(value, str) and bool(WEBHOOK_URL.match(value))


def mask_args(args: dict[str, Any]) -> dict[str, Any]:
    """Job arguments as they may be shown: anything named or shaped like a secret is masked."""
    return {name: "***" if _secret(name, value) else value for name, value in (args or {}).items()}


@dataclass(frozen=True)
class JobRow:
    id: int
    queue: str
    task: str
    status: str
    attempts: int
    args: dict[str, Any]
    scheduled_at: datetime | None
    last_event_at: datetime | None
    last_error: str | None = None


def queue_depths() -> dict[str, int]:
    """Jobs waiting (status todo) per queue."""
    from app.jobs.registry import QUEUES

    rows = db.session.execute(sa.text(
        "SELECT queue_name, count(*) FROM procrastinate_jobs WHERE status = 'todo' "
        "GROUP BY queue_name")).all()
    depths = dict.fromkeys(QUEUES, 0)
    depths.update({name: int(n) for name, n in rows})
    return depths


def status_counts() -> dict[tuple[str, str], int]:
    rows = db.session.execute(sa.text(
        "SELECT task_name, status::text, count(*) FROM procrastinate_jobs "
        "GROUP BY task_name, status")).all()
    return {(task, status): int(n) for task, status, n in rows}


_SELECT = ("SELECT j.id, j.queue_name, j.task_name, j.status::text, j.attempts, j.args, "
           "j.scheduled_at, (SELECT max(at) FROM procrastinate_events e WHERE e.job_id = j.id) "
           "FROM procrastinate_jobs j WHERE (CAST(:id AS bigint) IS NULL OR j.id = :id) "
           "AND CAST(j.status AS text) = ANY(:statuses) ORDER BY j.id DESC LIMIT :limit")
_ALL = ["todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted"]


def _rows(statuses: list[str], limit: int, job_id: int | None = None) -> list[JobRow]:
    rows = db.session.execute(sa.text(_SELECT), {"id": job_id, "statuses": statuses,
                                                 "limit": limit}).all()
    errors = last_errors([r[0] for r in rows])
    return [JobRow(r[0], r[1], r[2], r[3], r[4], mask_args(r[5]), r[6], r[7], errors.get(r[0]))
            for r in rows]


def running(limit: int = 50) -> list[JobRow]:
    return _rows(["doing"], limit)


def failed(limit: int = 50) -> list[JobRow]:
    return _rows(["failed"], limit)


def waiting(limit: int = 50) -> list[JobRow]:
    return _rows(["todo"], limit)


def recent(limit: int = 50) -> list[JobRow]:
    return _rows(["succeeded", "cancelled", "aborted"], limit)


def get(job_id: int) -> JobRow | None:
    found = _rows(_ALL, 1, job_id)
    return found[0] if found else None


def last_errors(job_ids: list[int]) -> dict[int, str]:
    """The last error each job recorded (table job_errors, written by app.jobs.registry.run)."""
    from app.models import JobError

    if not job_ids:
        return {}
    rows = db.session.execute(sa.select(JobError.job_id, JobError.error)
                              .where(JobError.job_id.in_(job_ids))).all()
    return {int(job_id): error for job_id, error in rows}


def retry(job_id: int) -> bool:
    """Put a failed job back in the queue now. False when it is not failed (any more)."""
    status = db.session.scalar(sa.text(
        "SELECT status::text FROM procrastinate_jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
    if status != "failed":
        return False
    db.session.execute(sa.text(
        "SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": job_id})
    return True


def cancel(job_id: int) -> bool:
    """Cancel a waiting job, or dismiss a failed one (it stays in the history as cancelled).
    False when it is running or already finished otherwise."""
    status = db.session.scalar(sa.text(
        "SELECT status::text FROM procrastinate_jobs WHERE id = :id FOR UPDATE"), {"id": job_id})
    if status == "todo":
        return bool(db.session.scalar(sa.text(
            "SELECT procrastinate_cancel_job_v1(:id, false, false)"), {"id": job_id}))
    if status == "failed":
        db.session.execute(sa.text(
            "UPDATE procrastinate_jobs SET status = 'cancelled' WHERE id = :id"), {"id": job_id})
        return True
    return False


def heartbeat_age() -> float | None:
    """Seconds since the freshest worker heartbeat; None when no worker is registered."""
    age = db.session.scalar(sa.text(
        "SELECT EXTRACT(EPOCH FROM (now() - max(last_heartbeat))) FROM procrastinate_workers"))
    return None if age is None else float(age)


def workers() -> list[tuple[int, float]]:
    rows = db.session.execute(sa.text(
        "SELECT id, EXTRACT(EPOCH FROM (now() - last_heartbeat)) FROM procrastinate_workers "
        "ORDER BY id")).all()
    return [(int(i), float(a)) for i, a in rows]


def recover_stalled_jobs(stalled_seconds: float) -> int:
    """Re-queue `doing` jobs whose worker has not heartbeaten for `stalled_seconds`."""
    ids = db.session.scalars(sa.text(
        "SELECT j.id FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w "
        "ON w.id = j.worker_id WHERE j.status = 'doing' AND (j.worker_id IS NULL OR "
        "w.last_heartbeat < now() - make_interval(secs => :secs)) FOR UPDATE OF j SKIP LOCKED"),
        {"secs": stalled_seconds}).all()
    for job_id in ids:
        db.session.execute(sa.text(
            "SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": job_id})
    db.session.execute(sa.text(
        "DELETE FROM procrastinate_workers WHERE last_heartbeat < now() - "
        "make_interval(secs => :secs)"), {"secs": stalled_seconds})
    db.session.commit()
    return len(ids)


def as_json(args: dict[str, Any]) -> str:
    return json.dumps(args, ensure_ascii=False, sort_keys=True)
