"""Restoring a backup into an empty database (or over one, with force), in one transaction.

Reading and checking the file is app/services/ops/backup.py's job (open_backup).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from app.services.ops.backup import (
    BATCH,
    BackupError,
    BackupFile,
    BackupSummary,
    Progress,
    base_type,
    decoder_for,
    schema_revision,
    tables_of,
)


def non_empty_tables(conn: sa.Connection, metadata: sa.MetaData) -> list[str]:
    existing = set(sa.inspect(conn).get_table_names())
    return [
        t.name for t in tables_of(metadata)
        if t.name in existing and conn.scalar(sa.select(sa.literal(1)).select_from(t).limit(1))
    ]


def _clear(conn: sa.Connection, metadata: sa.MetaData) -> None:
    tables = tables_of(metadata)
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        for table in reversed(tables):
            conn.execute(table.delete())


def _reset_sequences(conn: sa.Connection, metadata: sa.MetaData) -> None:
    """PostgreSQL hands out ids from sequences that know nothing of the rows just inserted."""
    quote = conn.dialect.identifier_preparer.quote
    for table in tables_of(metadata):
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(base_type(pk[0]), sa.Integer):
            continue
        column = pk[0].name
        sequence = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": column})
        if sequence:
            conn.execute(sa.text(
                f"SELECT setval(:s, COALESCE((SELECT MAX({quote(column)}) FROM {quote(table.name)}), 1), "  # noqa: S608
                f"(SELECT MAX({quote(column)}) FROM {quote(table.name)}) IS NOT NULL)"
            ), {"s": sequence})


def restore_backup(engine: sa.Engine, metadata: sa.MetaData, backup: BackupFile, *, force: bool = False,
                   progress: Progress | None = None) -> BackupSummary:
    """Load a verified backup into the database in one transaction (all or nothing)."""
    summary = BackupSummary(path=backup.path)
    by_name = {t.name: t for t in tables_of(metadata)}
    unknown = sorted(set(backup.tables) - set(by_name))
    if unknown:
        raise BackupError(f"The backup has tables this release does not know: {', '.join(unknown)}.")
    for name, info in backup.tables.items():
        mismatch = set(info["columns"]) ^ {c.name for c in by_name[name].columns}
        if mismatch:
            raise BackupError(
                f"Table {name} differs from this release's schema ({', '.join(sorted(mismatch))}); "
                "restore with the release that made the backup, then upgrade."
            )
    with engine.begin() as conn:
        revision = schema_revision(conn)
        wanted = backup.header.get("schema_revision")
        if wanted and revision != wanted:
            raise BackupError(
                f"The database is at migration {revision or 'none'} but the backup was made at "
                f"{wanted}. Run `flask db upgrade` (or use the matching release) first."
            )
        filled = non_empty_tables(conn, metadata)
        if filled and not force:
            raise BackupError(
                "The database is not empty (" + ", ".join(filled) + "). Restore into an empty "
                "database, or pass --force to replace everything in it."
            )
        if filled:
            _clear(conn, metadata)
        decoders = {
            name: [decoder_for(by_name[name].c[col]) for col in info["columns"]]
            for name, info in backup.tables.items()
        }
        batch: list[dict[str, Any]] = []
        current: str | None = None

        def flush() -> None:
            if batch and current is not None:
                conn.execute(by_name[current].insert(), batch)
                summary.tables[current] = summary.tables.get(current, 0) + len(batch)
                if progress:
                    progress(len(batch), backup.total_rows)
                batch.clear()

        for name, values in backup.rows():
            if name != current:
                flush()
                current = name
            columns = backup.tables[name]["columns"]
            batch.append({
                col: (None if v is None else decode(v))
                for col, v, decode in zip(columns, values, decoders[name], strict=True)
            })
            if len(batch) >= BATCH:
                flush()
        flush()
        if conn.dialect.name == "postgresql":
            _reset_sequences(conn, metadata)
    return summary
