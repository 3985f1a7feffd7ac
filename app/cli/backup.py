"""`flask backup create` and `flask backup restore`: portable backups of all data."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

import app.models  # noqa: F401 - every model's table must be in db.metadata
from app.extensions import db
from app.models.search_index import FTS_TABLE
from app.services.ops.backup import (
    BackupError,
    Progress,
    default_filename,
    derived_key,
    key_id,
    open_backup,
    schema_revision,
    signing_key,
    write_backup_file,
)
from app.services.ops.restore import restore_backup

backup_cli = AppGroup("backup", help="Back up all data to a portable file, or restore one.")

# Tables the database has that are not data: migration bookkeeping and SQLite's search index
# (rebuilt by triggers as log entries are restored).
_NOT_DATA = ("alembic_version", FTS_TABLE)


@contextmanager
def _progress_bar(label: str) -> Iterator[Progress]:
    """A progress bar on stderr (stdout stays clean for scripts), made once the total is known."""
    state: dict[str, Any] = {}

    def advance(n: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
            state["bar"].__enter__()
        state["bar"].update(n)

    try:
        yield advance
    finally:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)


def _unsaved_tables() -> list[str]:
    names = sa.inspect(db.engine).get_table_names()
    known = set(db.metadata.tables)
    return sorted(n for n in names if n not in known and not n.startswith(_NOT_DATA))


@backup_cli.command("create")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: worklog-backup-<UTC time>.jsonl.gz here).")
def create(output: Path | None) -> None:
    """Write every table to a portable, checksummed and signed backup file."""
    path = output or Path(default_filename())
    try:
        key = signing_key(current_app.config)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    for name in _unsaved_tables():
        click.echo(f"warning: table {name} has no model and is not in the backup", err=True)
    with _progress_bar("Backing up") as progress:
        summary = write_backup_file(db.engine, db.metadata, path, key=key,
                                    app_version=current_app.config["APP_VERSION"], progress=progress)
    source = "BACKUP_SIGNING_KEY" if current_app.config.get("BACKUP_SIGNING_KEY") else "SECRET_KEY"
    click.echo(f"Backup written to {path}: {summary.rows} rows in {len(summary.tables)} tables "
               f"(signed with key {key_id(key)}, from {source}).")


def _read_key_file(path: Path | None) -> str | None:
    if path is None:
        return None
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise click.ClickException(f"{path} is empty.")
    return text


@backup_cli.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the data of a database that is not empty.")
@click.option("--allow-unsigned", is_flag=True,
              help="Restore even a backup that is not signed, or not signed with a key given here.")
@click.option("--signing-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the BACKUP_SIGNING_KEY the backup was made with (after rotation).")
@click.option("--secret-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file holding the SECRET_KEY the backup was made with, when it had no "
                   "BACKUP_SIGNING_KEY (after rotating SECRET_KEY).")
def restore(file: Path, force: bool, allow_unsigned: bool, signing_key_file: Path | None,
            secret_key_file: Path | None) -> None:
    """Restore a signed backup into this (empty) database; an unmigrated one is migrated first."""
    keys: list[bytes] = []
    with suppress(BackupError):
        keys.append(signing_key(current_app.config))
    old_key = _read_key_file(signing_key_file)
    if old_key:
        keys.append(old_key.encode())
    old_secret = _read_key_file(secret_key_file)
    if old_secret:
        keys.append(derived_key(old_secret))
    try:
        backup = open_backup(file, keys, allow_unsigned=allow_unsigned)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if backup.signature != "valid":
        state = "not signed" if backup.signature == "unsigned" else f"wrongly signed ({backup.signature})"
        click.echo(f"warning: restoring a backup that is {state} (--allow-unsigned).", err=True)
    with db.engine.connect() as conn:
        revision = schema_revision(conn)
    if revision is None:
        from flask_migrate import upgrade

        click.echo("The database has no schema yet; applying migrations first.", err=True)
        upgrade()
    try:
        with _progress_bar("Restoring") as progress:
            summary = restore_backup(db.engine, db.metadata, backup, force=force, progress=progress)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    header = backup.header
    click.echo(
        f"Restored {summary.rows} rows in {len(backup.tables)} tables from {file} "
        f"(made {header['created_at']} by Worklog {header['app_version']} on {header['source_dialect']})."
    )
