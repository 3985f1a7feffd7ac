"""flask users ..."""

import sys

import click
from flask.cli import AppGroup

from app.extensions import db
from app.models import Role
from app.services.accounts.users import AccountError, create_user, generate_password, get_or_create_team
from app.services.audit import record_event

users_cli = AppGroup("users", help="Manage user accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="member",
              show_default=True)
@click.option("--team", "team_name", help="Team name; created if it does not exist.")
@click.option("--name", "display_name", help="Display name (default: the part before @).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, role: str, team_name: str | None, display_name: str | None,
           password_stdin: bool) -> None:
    """Create a user. Without --password-stdin a random password is generated and printed once."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password = generate_password()
        generated = True
    try:
        team = get_or_create_team(team_name) if team_name else None
        user = create_user(email, password=password, role=role, team=team,
                           display_name=display_name)
        record_event("user.created", target_type="user", target_id=user.id,
                     details={"via": "cli", "role": role, "team": team_name})
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Created {user.role} {user.email}" + (f" in team {team_name}" if team_name else ""))
    if generated:
        click.echo(f"Password (shown once): {password}")
