"""Database objects for substring search that live outside the ORM models.

SQLite gets an FTS5 table with the trigram tokenizer, kept in step with
log_entries.search_text by triggers; PostgreSQL gets a pg_trgm GIN index, declared
on the model. Alembic must not mistake the FTS table (and its shadow tables) for drift.
"""

from collections.abc import Callable
from typing import Any

FTS_TABLE = "log_entry_fts"

SQLITE_CREATE = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    "search_text, content='log_entries', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER log_entries_fts_insert AFTER INSERT ON log_entries BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER log_entries_fts_delete AFTER DELETE ON log_entries BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    f"VALUES ('delete', old.id, old.search_text); END",
    f"CREATE TRIGGER log_entries_fts_update AFTER UPDATE OF search_text ON log_entries BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    f"VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    # Index whatever rows already exist.
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS log_entries_fts_update",
    "DROP TRIGGER IF EXISTS log_entries_fts_delete",
    "DROP TRIGGER IF EXISTS log_entries_fts_insert",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
POSTGRES_CREATE = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]


POSTGRES_ONLY_INDEXES = {"ix_log_entries_search_trgm"}
IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def include_object_for(dialect: str) -> IncludeObject:
    """Alembic filter: leave the FTS5 table (and its shadow tables) alone, and do not expect
    PostgreSQL-only indexes on SQLite."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name and name.startswith(FTS_TABLE):
            return False
        return not (type_ == "index" and dialect != "postgresql" and name in POSTGRES_ONLY_INDEXES)

    return include_object
