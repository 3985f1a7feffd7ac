"""Alembic environment for Worklog: runs migrations with the app's own engine and metadata."""

from alembic import context
from flask import current_app

from app.extensions import db
from app.models.base import UTCDateTime
from app.models.search_index import include_object_for

config = context.config


def _render_item(type_: str, obj: object, _autogen_context: object) -> str | bool:
    # Our UTC wrapper is a Python-side conversion; the column itself is a plain timestamp.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_args() -> dict:
    # Flask-Migrate passes compare_type and render_as_batch (SQLite ALTER support) through here.
    # Server defaults are compared too, so a changed default is migrated, not silently missed.
    return {
        **current_app.extensions["migrate"].configure_args,
        "compare_server_default": True,
        "render_item": _render_item,
        "include_object": include_object_for(db.engine.dialect.name),
    }


def run_migrations_offline() -> None:
    context.configure(
        url=str(db.engine.url).replace("%", "%%"),
        target_metadata=db.metadata,
        literal_binds=True,
        **_configure_args(),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    def skip_empty(_context, _revision, directives) -> None:  # noqa: ANN001
        # `flask db migrate` with no model changes should not write an empty revision.
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            print("No changes in the models; no migration written.")

    with db.engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            process_revision_directives=skip_empty,
            **_configure_args(),
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
