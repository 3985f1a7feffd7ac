"""flask tokens ..."""

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.extensions import db
from app.models import User
from app.models.user import normalize_email
from app.services.accounts import tokens as token_service

tokens_cli = AppGroup("tokens", help="Manage personal API tokens.")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="What the token is for (shown in /account/tokens).")
@click.option("--expires-days", type=click.IntRange(1, token_service.EXPIRY_DAYS_MAX), default=None,
              help="Days until the token stops working (default: never).")
def create(email: str, name: str, expires_days: int | None) -> None:
    """Create a personal API token for EMAIL and print only the token (for automation)."""
    user = db.session.scalar(sa.select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    if not user.is_active:
        raise click.ClickException(f"{user.email} is deactivated; its tokens would not work.")
    try:
        issued = token_service.issue_token(user, name, expires_days, via="cli", actor=None)
        db.session.commit()
    except token_service.TokenError as exc:
        db.session.rollback()
        reasons = {
            "name_required": "--name must not be empty.",
            "name_too_long": "--name is too long (at most 100 characters).",
            "too_many": f"{user.email} already has {token_service.ACTIVE_TOKENS_MAX} active tokens; "
                        "revoke one first.",
        }
        raise click.ClickException(reasons.get(exc.code, exc.code)) from exc
    click.echo(issued.raw)
