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
