"""`flask config check`: validate the configuration for its APP_ENV, secrets masked.

A plugin command (entry point `flask.commands`), not one of the app's: it must run when the
configuration is too broken for the app to start, which is when it is needed most.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from dotenv import load_dotenv


@click.group("config", help="Inspect the configuration.")
def config_cli() -> None:
    pass


@config_cli.command("check")
@click.option("--no-connect", is_flag=True, help="Do not try to reach the database and Redis.")
def check(no_connect: bool) -> None:
    """Validate the settings for APP_ENV; exit 1 listing every problem."""
    from app import PROJECT_ROOT
    from app.services.ops.config_check import check_configuration, describe

    load_dotenv(PROJECT_ROOT / ".env", override=False)
    instance = os.environ.get("WORKLOG_INSTANCE_PATH", str(PROJECT_ROOT / "instance"))
    Path(instance).mkdir(parents=True, exist_ok=True)
    report = check_configuration(instance, connect=not no_connect)

    click.echo(f"Worklog configuration for APP_ENV={report.app_env}")
    for name, shown in describe(report):
        click.echo(f"  {name:<20} {shown}")
    if report.checks:
        click.echo("Checks:")
        for name, result in report.checks.items():
            click.echo(f"  {name:<20} {result}")
    if report.warnings:
        click.echo("Warnings:")
        for warning in report.warnings:
            click.echo(f"  - {warning}")
    if report.problems:
        click.echo(f"Problems ({len(report.problems)}):", err=True)
        for problem in report.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1)
    click.echo("Configuration OK.")
