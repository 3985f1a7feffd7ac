"""Who may see and change which entries. Every route that touches an entry goes through here."""

from __future__ import annotations

from flask import abort

from app.extensions import db
from app.models import User
from app.models.log import LogEntry


def can_read(user: User, entry: LogEntry) -> bool:
    if entry.user_id == user.id:
        return True
    # A lead reads (never edits) the entries of their own team's members.
    return bool(
        user.is_lead
        and user.team_id is not None
        and entry.user.team_id == user.team_id
        and entry.deleted_at is None
    )


def get_entry_for(user: User, entry_id: int, *, write: bool = False,
                  deleted: bool | None = False) -> LogEntry:
    """The entry if `user` may read it (or change it, with write=True); otherwise 404.

    `deleted`: False for live entries only, True for trashed only, None for either.
    Answering 404 rather than 403 keeps ids of other people's entries from leaking.
    """
    entry = db.session.get(LogEntry, entry_id)
    if entry is None:
        abort(404)
    if deleted is not None and entry.is_deleted != deleted:
        abort(404)
    allowed = entry.user_id == user.id if write else can_read(user, entry)
    if not allowed:
        abort(404)
    return entry
