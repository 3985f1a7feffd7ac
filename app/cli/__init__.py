"""`flask` commands for operators."""

from flask import Flask

from app.cli.backup import backup_cli
from app.cli.demo import demo_cli
from app.cli.jobs import jobs_cli
from app.cli.publish import publish_cli
from app.cli.reviews import reviews_cli
from app.cli.tokens import tokens_cli
from app.cli.users import users_cli


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(backup_cli)
    app.cli.add_command(reviews_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(publish_cli)
    # `flask config check` is a plugin command (pyproject's flask.commands entry point), so it
    # runs even when the configuration is too broken for the app to start.
