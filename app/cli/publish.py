"""flask publish reviews: backfill approved reviews to Notion / Confluence (as jobs)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app import jobs
from app.extensions import db

publish_cli = AppGroup("publish", help="Publishing to systems of record (Notion, Confluence).")


@publish_cli.command("reviews")
@click.option("--since", required=True, metavar="YYYY-Www",
              help="First ISO week to publish, e.g. 2026-W01.")
@click.option("--destination", "destination_", type=click.Choice(["notion", "confluence"]),
              multiple=True, help="Only this destination (repeatable; default every configured one).")
@click.option("--dry-run", is_flag=True, help="List what would be published; queue nothing.")
def reviews(since: str, destination_: tuple[str, ...], dry_run: bool) -> None:
    """Queue publish jobs for approved reviews from week SINCE on that are not yet published at
    their current version. Safe to run again: what is done is skipped (resumable)."""
    from app.services.isoweek import IsoWeek
    from app.services.publishing import backfill, destinations

    try:
        week = str(IsoWeek.parse(since))
    except ValueError:
        raise click.BadParameter("use an ISO week such as 2026-W01", param_hint="--since") from None
    kinds = list(destination_) or destinations.configured_kinds()
    missing = [k for k in kinds if not destinations.configured(k)]
    if missing or not kinds:
        click.echo(f"Not configured: {', '.join(missing) or 'notion, confluence'} "
                   "(set it at /admin/integrations or in the environment).", err=True)
        sys.exit(2)
    planned = backfill(week, kinds, dry_run=dry_run)
    for review_id, review_week, kind in planned:
        click.echo(f"{'would publish' if dry_run else 'queued'} review {review_id} ({review_week}) "
                   f"→ {kind}")
    if dry_run:
        click.echo(f"{len(planned)} publication(s) would be queued (dry run: nothing queued).")
        return
    db.session.commit()
    click.echo(f"{len(planned)} publication(s) queued.")
    if planned and jobs.backend() != "queue":
        click.echo("Publishing in this process (SQLite: no workers)…")
        jobs.drain(timeout=3600)
