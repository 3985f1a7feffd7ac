"""`flask` commands for operators."""

from flask import Flask

from app.cli.demo import demo_cli
from app.cli.users import users_cli


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
