"""flask jobs worker | recover-stalled | status: the background-job worker and its tools."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app import jobs

jobs_cli = AppGroup("jobs", help="Background jobs (procrastinate on PostgreSQL).")


def _queue_backend() -> None:
    if jobs.backend() != "queue":
        click.echo("Jobs run in-process with this database (SQLite): there is no queue to work "
                   "on. Configure PostgreSQL (DATABASE_URL) to run workers.", err=True)
        sys.exit(2)


@jobs_cli.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Jobs run at once by this worker (default JOBS_CONCURRENCY, 2).")
@click.option("--queues", default="", metavar="Q1,Q2",
              help=f"Comma-separated queues to work on (default all: {', '.join(jobs.QUEUES)}).")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit.")
@click.option("--name", default=None, help="Worker name in logs.")
def worker(concurrency: int | None, queues: str, once: bool, name: str | None) -> None:
    """Run jobs until SIGTERM/SIGINT (then finish running jobs within JOBS_SHUTDOWN_GRACE_SECONDS)."""
    _queue_backend()
    wanted = [q.strip() for q in queues.split(",") if q.strip()]
    unknown = [q for q in wanted if q not in jobs.QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(jobs.QUEUES)}", param_hint="--queues")
    from app.jobs.engine import run_worker

    app = current_app._get_current_object()
    port = int(app.config.get("JOBS_METRICS_PORT") or 0)
    if port and not once:
        from prometheus_client import start_http_server

        # jobs_total and job_duration_seconds of this worker, for Prometheus to scrape.
        start_http_server(port, addr=app.config.get("JOBS_METRICS_ADDR") or "0.0.0.0")  # noqa: S104
    run_worker(app, queues=wanted or None, wait=not once, name=name,
               concurrency=concurrency or int(app.config.get("JOBS_CONCURRENCY", 2)))


@jobs_cli.command("recover-stalled")
def recover_stalled() -> None:
    """Re-queue jobs whose worker stopped heartbeating (the periodic task does this every minute)."""
    _queue_backend()
    from app.jobs.admin import recover_stalled_jobs

    count = recover_stalled_jobs(float(current_app.config.get("JOBS_STALLED_SECONDS", 30)))
    click.echo(f"{count} stalled job(s) put back in the queue.")


@jobs_cli.command("status")
def status() -> None:
    """Queue depth per queue, failed jobs and worker heartbeats."""
    _queue_backend()
    from app.jobs import admin

    for queue, depth in admin.queue_depths().items():
        click.echo(f"queue {queue}: {depth} waiting")
    click.echo(f"running: {len(admin.running())}, failed: {len(admin.failed())}")
    workers = admin.workers()
    if not workers:
        click.echo("no worker has a heartbeat")
    for worker_id, age in workers:
        click.echo(f"worker {worker_id}: last heartbeat {age:.0f} s ago")


@jobs_cli.command("backend")
def show_backend() -> None:
    """Print `queue` (PostgreSQL: run workers) or `inprocess` (SQLite); used by `make run`."""
    click.echo(jobs.backend())


@jobs_cli.command("alive")
@click.option("--max-age", type=float, default=60.0, show_default=True,
              help="Seconds since this machine's worker last touched JOBS_HEARTBEAT_FILE.")
def alive(max_age: float) -> None:
    """Exit 0 if the worker here is alive (its heartbeat file is fresh), else 1 (liveness probe)."""
    import os
    import time

    from app.jobs.engine import heartbeat_file

    path = heartbeat_file(current_app._get_current_object())
    try:
        age = time.time() - os.stat(path).st_mtime
    except OSError:
        click.echo(f"no heartbeat file at {path}", err=True)
        sys.exit(1)
    if age > max_age:
        click.echo(f"worker heartbeat is {age:.0f} s old", err=True)
        sys.exit(1)
    click.echo(f"alive (heartbeat {age:.0f} s ago)")
