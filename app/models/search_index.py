"""Database objects for substring search that live outside the ORM models.

SQLite gets an FTS5 table with the trigram tokenizer, kept in step with
log_entries.search_text by triggers; PostgreSQL gets a (user_id, search_text) GIN index
(pg_trgm + btree_gin), declared on the model. Alembic must not mistake the FTS table (and
its shadow tables) for drift.
"""

from collections.abc import Callable
from typing import Any

FTS_TABLE = "log_entry_fts"

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE log_entry_fts USING fts5("
    "search_text, content='log_entries', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER log_entries_fts_insert AFTER INSERT ON log_entries BEGIN "
    "INSERT INTO log_entry_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER log_entries_fts_delete AFTER DELETE ON log_entries BEGIN "
    "INSERT INTO log_entry_fts(log_entry_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER log_entries_fts_update AFTER UPDATE OF search_text ON log_entries BEGIN "
    "INSERT INTO log_entry_fts(log_entry_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO log_entry_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    # Index whatever rows already exist.
    "INSERT INTO log_entry_fts(log_entry_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS log_entries_fts_update",
    "DROP TRIGGER IF EXISTS log_entries_fts_delete",
    "DROP TRIGGER IF EXISTS log_entries_fts_insert",
    "DROP TABLE IF EXISTS log_entry_fts",
]
POSTGRES_CREATE = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"]


POSTGRES_ONLY_INDEXES = {"ix_log_entries_search_trgm", "ix_log_entries_user_search_trgm"}
IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


# procrastinate's own tables (the job queue): created by a migration from the library's
# schema file, not described by the models.
JOBS_TABLE_PREFIX = "procrastinate_"


def include_object_for(dialect: str) -> IncludeObject:
    """Alembic filter: leave the FTS5 table (and its shadow tables) alone, and do not expect
    PostgreSQL-only indexes on SQLite."""

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name and name.startswith((FTS_TABLE, JOBS_TABLE_PREFIX)):
            return False
        return not (type_ == "index" and dialect != "postgresql" and name in POSTGRES_ONLY_INDEXES)

    return include_object
