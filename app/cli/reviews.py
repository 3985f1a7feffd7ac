"""flask reviews draft: the weekly batch (run by cron on Monday for the week before)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from flask.cli import AppGroup

from app.services.isoweek import IsoWeek
from app.services.reviews.batch import candidates, draft_week

reviews_cli = AppGroup("reviews", help="Weekly reviews.")


def _week(_ctx: click.Context, _param: click.Parameter, value: str | None) -> IsoWeek:
    if value is None:
        return IsoWeek.of(datetime.now(UTC).date()).shift(-1)
    try:
        return IsoWeek.parse(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO week like 2026-W47.") from None


@reviews_cli.command("draft")
@click.option("--week", callback=_week, metavar="YYYY-Www",
              help="ISO week to draft (default: last week, in UTC).")
@click.option("--dry-run", is_flag=True, help="Print who would get a draft; write nothing, call no model.")
@click.option("--user", "email", metavar="EMAIL", help="Only this user.")
def draft(week: IsoWeek, dry_run: bool, email: str | None) -> None:
    """Draft WEEK's review for every active user who has entries and no review yet."""
    users = candidates(week, email)
    if dry_run:
        click.echo(f"Dry run for {week} ({week.start} to {week.end}): "
                   f"{len(users)} review(s) would be drafted.")
        for user in users:
            click.echo(f"  would draft: {user.email}")
        return
    if not users:
        click.echo(f"{week}: nothing to draft (everyone with entries already has a review).")
        return
    with click.progressbar(length=len(users), label=f"Drafting {week}", file=sys.stderr,
                           show_pos=True) as bar:
        result = draft_week(week, users=users, progress=lambda _user: bar.update(1))
    click.echo(f"{week}: {len(result.drafted)} drafted, {len(result.skipped)} skipped "
               f"(a review appeared meanwhile), {len(result.failed)} failed.")
    for email_, reason in result.failed:
        click.echo(f"  failed: {email_} ({reason})", err=True)
    if result.failed:
        sys.exit(1)
