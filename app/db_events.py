"""Connection settings that make SQLite a dependable embedded database."""

from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.engine import Engine


@sa.event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # Take transaction control from pysqlite so we can issue BEGIN IMMEDIATE below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA busy_timeout=15000")  # wait for a lock instead of failing
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster than FULL
    cursor.close()


@sa.event.listens_for(Engine, "begin")
def _sqlite_on_begin(connection: sa.Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        return  # a single read on its own (the 304 path): no transaction, no lock
    # A deferred transaction that later writes can fail with SQLITE_BUSY on the lock
    # upgrade, which busy_timeout cannot help; taking the write lock up front waits instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- unsaved writes ---------------------------------------------------------------------
# A session remembers that its transaction holds writes no commit has made permanent yet,
# whether flushed from ORM objects or executed as INSERT/UPDATE/DELETE statements. The LLM
# layer reads this: a model call never commits, nor silently drops, a caller's work.

FLUSHED_WRITES = "worklog.flushed_writes"


@sa.event.listens_for(so.Session, "after_flush")
def _remember_flush(session: so.Session, _context: Any) -> None:
    session.info[FLUSHED_WRITES] = True


@sa.event.listens_for(so.Session, "do_orm_execute")
def _remember_statement(state: so.ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[FLUSHED_WRITES] = True


@sa.event.listens_for(so.Session, "after_commit")
@sa.event.listens_for(so.Session, "after_rollback")
def _forget_writes(session: so.Session) -> None:
    session.info.pop(FLUSHED_WRITES, None)
