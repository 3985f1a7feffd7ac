"""flask demo seed: an idempotent demo organisation."""

import os
from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db
from app.models import LogEntry, Role, User
from app.services.accounts import create_user, generate_password, get_or_create_team
from app.services.audit import record_event
from app.services.demo_data import seed_entries

demo_cli = AppGroup("demo", help="Demo data for trying Worklog out.")

DEMO_TEAM = "Platform"
# (email, display name, role, in the demo team?, timezone, locale)
DEMO_USERS = [
    ("admin@example.com", "Avery Admin", Role.ADMIN, False, "UTC", "en"),
    ("lead@example.com", "김지현 (Lead)", Role.LEAD, True, "Asia/Seoul", "ko"),
    ("member@example.com", "Mina Park", Role.MEMBER, True, "Asia/Seoul", None),
    ("teammate@example.com", "Tom Lee", Role.MEMBER, True, "Europe/Berlin", "en"),
    ("solo@example.com", "Sam Solo", Role.MEMBER, False, "America/New_York", "en"),
]
LOGINS_FILE = "demo-logins.txt"


@demo_cli.command("seed")
def seed() -> None:
    """Create the demo team and users if missing; print new passwords once."""
    team = get_or_create_team(DEMO_TEAM)
    created: list[tuple[str, str, str]] = []
    for email, name, role, in_team, tz, locale in DEMO_USERS:
        if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
            continue
        password = generate_password()
        user = create_user(email, password=password, role=role, display_name=name,
                           team=team if in_team else None, timezone=tz, locale=locale)
        record_event("user.created", target_type="user", target_id=user.id,
                     details={"via": "demo seed", "role": role.value})
        created.append((email, role.value, password))
    db.session.commit()
    entries = _seed_log_entries()
    if entries:
        click.echo(f"Added {entries} demo log entries over the past 8 weeks.")
    if not created:
        if not entries:
            click.echo("Demo data already present; nothing to do.")
        return
    lines = [f"  {role:<7} {email:<24} {password}" for email, role, password in created]
    text = "Demo logins (role, email, password):\n" + "\n".join(lines)
    click.echo(text)
    # Kept beside the database (git-ignored, owner-only) so `make run` can show them again.
    path = Path(current_app.instance_path) / LOGINS_FILE
    with open(path, "a") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)


def _seed_log_entries() -> int:
    """Eight weeks of entries for each demo member and lead who has none yet."""
    emails = [email for email, _n, role, *_rest in DEMO_USERS if role != Role.ADMIN]
    users = db.session.scalars(sa.select(User).where(User.email.in_(emails))).all()
    with_entries = set(db.session.scalars(
        sa.select(LogEntry.user_id).where(LogEntry.user_id.in_([u.id for u in users])).distinct()
    ))
    total = 0
    for user in users:
        if user.id not in with_entries:
            total += seed_entries(user, date.today())
    db.session.commit()
    return total
