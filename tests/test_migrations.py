"""Migrations take an empty database to the models' schema, and back, on each backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask_migrate import downgrade, upgrade

from app import MIGRATIONS_DIR, create_app
from app.extensions import db
from app.models.search_index import FTS_TABLE, JOBS_TABLE_PREFIX, include_object_for
from tests.conftest import _base_config, _create_pg_database, _drop_pg_database, _postgres_url

HEADS = set(ScriptDirectory(MIGRATIONS_DIR).get_heads())


@pytest.fixture
def empty_app(database, tmp_path: Path) -> Iterator[Flask]:
    """An app on a database that has never seen a migration, of the same backend."""
    if database.backend == "sqlite":
        url, cleanup = f"sqlite:///{tmp_path / 'fresh.db'}", None
    else:
        admin_url = _postgres_url()
        name, url = _create_pg_database(admin_url)
        cleanup = (admin_url, name)
    os.environ["WORKLOG_INSTANCE_PATH"] = str(tmp_path)
    try:
        application = create_app(_base_config(url, tmp_path))
    finally:
        os.environ.pop("WORKLOG_INSTANCE_PATH", None)
    try:
        with application.app_context():
            yield application
            db.session.remove()
            db.engine.dispose()
    finally:
        if cleanup:
            _drop_pg_database(*cleanup)


def _drift() -> list:
    """What autogenerate would write now, compared as migrations/env.py compares."""
    options = dict(current_app.extensions["migrate"].configure_args)
    options.pop("render_as_batch", None)
    options["compare_server_default"] = True
    options["include_object"] = include_object_for(db.engine.dialect.name)
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=options)
        return compare_metadata(context, db.metadata)


def _current_heads() -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _tables() -> set[str]:
    names = set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}
    # SQLite's search index; procrastinate's queue tables (PostgreSQL, not in the models)
    return {name for name in names if not name.startswith((FTS_TABLE, JOBS_TABLE_PREFIX))}


def _db_check(application: Flask):
    """`flask db check`, the CI drift check, through migrations/env.py."""
    return application.test_cli_runner().invoke(args=["db", "check"])


def test_it_upgrades_an_empty_database_to_the_models(empty_app):
    assert _tables() == set()
    upgrade()
    assert _current_heads() == HEADS
    assert _tables() == set(db.metadata.tables)
    assert _drift() == []
    result = _db_check(empty_app)
    assert result.exit_code == 0, result.output


def test_it_notices_a_schema_that_differs_from_the_models(empty_app):
    # The drift check is only worth something if it sees a difference.
    upgrade()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_users_team_id"))
    assert [diff[0] for diff in _drift()] == ["add_index"]
    assert _db_check(empty_app).exit_code != 0


@pytest.mark.backends("postgresql")  # SQLite cannot change a column default in place
def test_it_notices_a_changed_server_default(empty_app):
    upgrade()
    with db.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE users ALTER COLUMN timezone SET DEFAULT 'Asia/Seoul'"))
    assert [diff[0][0] for diff in _drift()] == ["modify_default"]
    assert _db_check(empty_app).exit_code != 0


def test_it_downgrades_to_nothing_and_upgrades_again(empty_app):
    upgrade()
    downgrade(revision="base")
    assert _current_heads() == set()
    assert _tables() == set()
    upgrade()
    assert _current_heads() == HEADS
    assert _drift() == []


def test_it_upgrades_twice_without_harm(empty_app):
    upgrade()
    upgrade()
    assert _current_heads() == HEADS


def test_it_writes_the_upgrade_as_sql_for_review(empty_app, capsys):
    # `flask db upgrade --sql`: a DBA reads the DDL before it runs; nothing is executed.
    upgrade(sql=True)
    out = capsys.readouterr().out
    assert "CREATE TABLE users" in out
    assert "CREATE TABLE alembic_version" in out
    assert _tables() == set()
