"""flask backup create / restore: SQLite → PostgreSQL → SQLite with nothing lost."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import LogEntry, Team, User
from app.services.log.query import LogFilters, entries_select
from tests.conftest import (
    _base_config,
    _create_pg_database,
    _drop_pg_database,
    _migrate,
    _postgres_url,
    service_missing,
)


def make_app(url: str, instance: Path):
    instance.mkdir(parents=True, exist_ok=True)
    return create_app(_base_config(url, instance))


def cli(app, *args: str):
    """Run a flask command; click ≥ 8.2 puts stderr (errors, progress) in result.output too."""
    return app.test_cli_runner().invoke(args=list(args))


def data_lines(path: Path) -> list[str]:
    """The row lines of a backup: its content, without the header's time and origin."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    return lines[1:-1]


def header(path: Path) -> dict:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return json.loads(fh.readline())


@pytest.fixture
def seeded_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'source.db'}"
    _migrate(url, tmp_path / "source")
    app = make_app(url, tmp_path / "source")
    result = cli(app, "demo", "seed")
    assert result.exit_code == 0, result.output
    with app.app_context():
        # Values that are easy to get wrong: Korean text, JSON, NULLs, flags, long text.
        user = db.session.scalar(sa.select(User).order_by(User.id))
        user.is_active = False
        entry = db.session.scalar(sa.select(LogEntry).order_by(LogEntry.id))
        entry.result = "결제모듈을 리팩터링 — " + "긴 글 " * 2000
        entry.category = None
        entry.search_text = entry.search_text + " 결제모듈을"
        db.session.commit()
    yield app, url
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def empty_postgres():
    admin = _postgres_url()
    if admin is None:
        service_missing("TEST_DATABASE_URL is not set; the PostgreSQL leg of the round trip needs it")
    try:
        name, url = _create_pg_database(admin)
    except sa.exc.OperationalError as exc:
        service_missing(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc.orig}")
    yield url
    _drop_pg_database(admin, name)


def test_round_trip_sqlite_postgresql_sqlite_keeps_everything(seeded_sqlite, empty_postgres, tmp_path):
    source, _url = seeded_sqlite
    first = tmp_path / "first.jsonl.gz"
    result = cli(source, "backup", "create", "--output", str(first))
    assert result.exit_code == 0, result.output
    assert "rows in" in result.stdout
    assert first.stat().st_mode & 0o777 == 0o600
    info = header(first)
    assert info["format"] == "worklog-backup" and info["version"] == 1
    with source.app_context():
        assert set(info["tables"]) == set(db.metadata.tables)  # every table, audit and LLM ledger too
        entries = db.session.scalar(sa.select(sa.func.count()).select_from(LogEntry))
    assert info["tables"]["log_entries"]["rows"] == entries > 0
    assert info["tables"]["audit_events"]["rows"] > 0

    # Into an empty, never-migrated PostgreSQL database: migrated first, then filled.
    pg = make_app(empty_postgres, tmp_path / "pg")
    result = cli(pg, "backup", "restore", str(first))
    assert result.exit_code == 0, result.output
    second = tmp_path / "second.jsonl.gz"
    assert cli(pg, "backup", "create", "--output", str(second)).exit_code == 0
    with pg.app_context():
        # Sequences moved past the restored ids: new rows get fresh ones.
        team = Team(name="After restore")
        db.session.add(team)
        db.session.commit()
        assert team.id > max(r[0] for r in db.session.execute(sa.select(Team.id).where(Team.id != team.id)))
        db.session.execute(sa.delete(Team).where(Team.id == team.id))
        db.session.commit()
        db.engine.dispose()

    # And back into a fresh SQLite file.
    target_url = f"sqlite:///{tmp_path / 'target.db'}"
    target = make_app(target_url, tmp_path / "target")
    result = cli(target, "backup", "restore", str(second))
    assert result.exit_code == 0, result.output
    third = tmp_path / "third.jsonl.gz"
    assert cli(target, "backup", "create", "--output", str(third)).exit_code == 0

    assert data_lines(first) == data_lines(second) == data_lines(third)

    with target.app_context():
        # SQLite's search index was filled by its triggers as the entries went in.
        owners = list(db.session.scalars(sa.select(User.id)))
        for term in ("결제모듈", "리팩터링"):
            found = db.session.scalars(entries_select(owners, LogFilters(q=term), "sqlite")).all()
            like = db.session.scalars(
                sa.select(LogEntry)
                .where(LogEntry.search_text.like(f"%{term}%"), LogEntry.deleted_at.is_(None))
            ).all()
            assert found and {e.id for e in found} == {e.id for e in like}
        db.engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(seeded_sqlite, tmp_path):
    source, _url = seeded_sqlite
    path = tmp_path / "b.jsonl.gz"
    assert cli(source, "backup", "create", "-o", str(path)).exit_code == 0
    result = cli(source, "backup", "restore", str(path))
    assert result.exit_code != 0
    assert "not empty" in result.output

    with source.app_context():
        db.session.add(Team(name="Made after the backup"))
        db.session.commit()
    result = cli(source, "backup", "restore", str(path), "--force")
    assert result.exit_code == 0, result.output
    with source.app_context():
        assert db.session.scalar(sa.select(Team).where(Team.name == "Made after the backup")) is None
        # Still searchable after the FTS rows were deleted and re-added by triggers.
        owners = list(db.session.scalars(sa.select(User.id)))
        assert db.session.scalars(entries_select(owners, LogFilters(q="결제모듈"), "sqlite")).all()


@pytest.mark.parametrize("damage", ["flip", "truncate", "not_gzip"])
def test_a_damaged_backup_is_refused_before_anything_is_written(seeded_sqlite, tmp_path, damage):
    source, _url = seeded_sqlite
    path = tmp_path / "b.jsonl.gz"
    assert cli(source, "backup", "create", "-o", str(path)).exit_code == 0
    if damage == "not_gzip":
        path.write_text("hello")
    else:
        raw = gzip.decompress(path.read_bytes())
        if damage == "flip":
            raw = raw.replace("결제모듈을".encode(), "결제모듈X".encode(), 1)
        else:
            raw = raw[: len(raw) // 2]
        path.write_bytes(gzip.compress(raw))
    target = make_app(f"sqlite:///{tmp_path / 'target.db'}", tmp_path / "target")
    result = cli(target, "backup", "restore", str(path))
    assert result.exit_code != 0
    message = result.output
    assert "damaged" in message or "cut off" in message
    with target.app_context():
        assert "users" not in sa.inspect(db.engine).get_table_names()  # untouched
        db.engine.dispose()


# --- signatures -------------------------------------------------------------------------


def rewrite(path: Path, edit) -> None:
    """Change a backup's lines with `edit` and fix its checksum, as someone without the key can."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    body = edit(lines[:-1])
    trailer = json.loads(lines[-1])
    data = "".join(line + "\n" for line in body)
    trailer["sha256"] = hashlib.sha256(data.encode()).hexdigest()
    trailer["rows"] = len(body) - 1
    path.write_bytes(gzip.compress((data + json.dumps(trailer) + "\n").encode()))


def make_member_an_admin(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        item = json.loads(line)
        if item.get("t") == "users":
            item["r"] = ["admin" if value == "member" else value for value in item["r"]]
        out.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")))
    return out


def target_app(tmp_path: Path, name: str = "target", **config):
    app = make_app(f"sqlite:///{tmp_path / (name + '.db')}", tmp_path / name)
    app.config.update(config)
    return app


def users_table_exists(app) -> bool:
    with app.app_context():
        found = "users" in sa.inspect(db.engine).get_table_names()
        db.engine.dispose()
    return found


def test_a_backup_edited_and_re_checksummed_is_refused(seeded_sqlite, tmp_path):
    source, _url = seeded_sqlite
    path = tmp_path / "b.jsonl.gz"
    result = cli(source, "backup", "create", "-o", str(path))
    assert result.exit_code == 0 and "signed with key" in result.output
    trailer = json.loads(gzip.decompress(path.read_bytes()).decode().splitlines()[-1])
    assert len(trailer["hmac_sha256"]) == 64 and trailer["key_id"]
    rewrite(path, make_member_an_admin)
    target = target_app(tmp_path)
    result = cli(target, "backup", "restore", str(path))
    assert result.exit_code != 0
    assert "wrongly signed" in result.output and "edited" in result.output
    assert not users_table_exists(target)


def test_an_unsigned_backup_is_refused_unless_allowed(seeded_sqlite, tmp_path):
    source, _url = seeded_sqlite
    path = tmp_path / "b.jsonl.gz"
    assert cli(source, "backup", "create", "-o", str(path)).exit_code == 0

    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    trailer = json.loads(lines[-1])
    del trailer["hmac_sha256"], trailer["key_id"]  # a version-1 file from before signing
    path.write_bytes(gzip.compress(("\n".join([*lines[:-1], json.dumps(trailer)]) + "\n").encode()))
    target = target_app(tmp_path)
    result = cli(target, "backup", "restore", str(path))
    assert result.exit_code != 0
    assert "is not signed" in result.output and "--allow-unsigned" in result.output
    assert not users_table_exists(target)
    result = cli(target, "backup", "restore", str(path), "--allow-unsigned")
    assert result.exit_code == 0, result.output
    assert "not signed" in result.output  # the warning says what was let through
    assert users_table_exists(target)


def test_a_backup_signed_with_another_key_needs_that_key(seeded_sqlite, tmp_path):
    source, _url = seeded_sqlite
    source.config["BACKUP_SIGNING_KEY"] = "old-backup-signing-key-0123456789abcdef"
    path = tmp_path / "b.jsonl.gz"
    assert cli(source, "backup", "create", "-o", str(path)).exit_code == 0
    # The key was rotated: this server signs with a new one.
    target = target_app(tmp_path, BACKUP_SIGNING_KEY="new-backup-signing-key-0123456789abcdef")
    result = cli(target, "backup", "restore", str(path))
    assert result.exit_code != 0
    assert "wrongly signed" in result.output and "not with this server's key" in result.output
    assert "old-backup-signing-key" not in result.output
    assert not users_table_exists(target)
    key_file = tmp_path / "old-key"
    key_file.write_text("old-backup-signing-key-0123456789abcdef\n")
    result = cli(target, "backup", "restore", str(path), "--signing-key-file", str(key_file))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


def test_a_secret_key_rotation_is_bridged_with_the_old_secret(seeded_sqlite, tmp_path):
    source, _url = seeded_sqlite
    path = tmp_path / "b.jsonl.gz"
    assert cli(source, "backup", "create", "-o", str(path)).exit_code == 0  # key from SECRET_KEY
    target = target_app(tmp_path, SECRET_KEY="a-rotated-secret-key-that-is-long-enough-42")
    result = cli(target, "backup", "restore", str(path))
    assert result.exit_code != 0 and "wrongly signed" in result.output
    secret_file = tmp_path / "old-secret"
    secret_file.write_text(source.config["SECRET_KEY"])
    result = cli(target, "backup", "restore", str(path), "--secret-key-file", str(secret_file))
    assert result.exit_code == 0, result.output
    with target.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) > 0
        db.engine.dispose()


def test_a_wrongly_signed_backup_restores_with_allow_unsigned_and_says_so(seeded_sqlite, tmp_path):
    source, _url = seeded_sqlite
    path = tmp_path / "b.jsonl.gz"
    assert cli(source, "backup", "create", "-o", str(path)).exit_code == 0
    rewrite(path, make_member_an_admin)
    target = target_app(tmp_path)
    result = cli(target, "backup", "restore", str(path), "--allow-unsigned")
    assert result.exit_code == 0, result.output
    assert "wrongly signed (edited)" in result.output
