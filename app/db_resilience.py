"""When the database goes away: stale pooled connections go at once, and no error escapes teardown.

Two gaps the fault suite found (tests/test_ops_faults.py, PostgreSQL stopped under load):

- A server shutting down answers in-flight statements with "terminating connection due to
  administrator command" (SQLSTATE 57P01). psycopg has not seen the socket close yet, so
  SQLAlchemy does not count it as a disconnect: only that statement failed, and every other
  pooled connection to the dead server stayed in the pool, each failing (or being pinged)
  on its own later. Marking these errors as disconnects invalidates the whole pool at once.
- Flask-SQLAlchemy ends each request's session in a teardown hook with a ROLLBACK. On a dead
  connection that raised after the response had been chosen, and gunicorn answered its own
  bare 500 instead of the app's 503 page. The session is now ended without letting that out.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Engine

log = logging.getLogger("worklog.db")

# admin_shutdown, crash_shutdown, cannot_connect_now: the server is going or not there yet.
DISCONNECT_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
_DISCONNECT_TEXT = ("server closed the connection unexpectedly", "terminating connection",
                    "the database system is shutting down", "the database system is starting up",
                    "consuming input failed", "connection is lost")


def is_server_gone(error: BaseException | None) -> bool:
    if error is None:
        return False
    if getattr(error, "sqlstate", None) in DISCONNECT_SQLSTATES:
        return True
    text = str(error).lower()
    return any(fragment in text for fragment in _DISCONNECT_TEXT)


@sa.event.listens_for(Engine, "handle_error")
def _server_gone_is_a_disconnect(context: Any) -> None:
    if context.is_disconnect or context.engine is None or context.engine.dialect.name != "postgresql":
        return
    if is_server_gone(context.original_exception):
        # SQLAlchemy then invalidates the pool: every connection made before now is replaced on
        # its next checkout instead of failing a request first.
        context.is_disconnect = True


def install_session_teardown(app: Flask, db: Any) -> None:
    """Replace Flask-SQLAlchemy's teardown with one that survives a dead connection."""

    def end_session(_exc: BaseException | None) -> None:
        try:
            db.session.remove()
        except Exception:  # noqa: BLE001 - the response is already chosen; it must go out
            log.warning("database_session_end_failed", exc_info=True)
            with contextlib.suppress(Exception):
                db.session.invalidate()  # closes without ROLLBACK; not back into the pool
            db.session.registry.clear()

    funcs = app.teardown_appcontext_funcs
    for i, func in enumerate(funcs):
        bound_to_db = getattr(func, "__self__", None) is db
        if bound_to_db and getattr(func, "__func__", None) is type(db)._teardown_session:
            funcs[i] = end_session
            return
    funcs.append(end_session)
