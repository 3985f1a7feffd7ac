"""Who may see and do what. Every HTML route, the API, Ask, reviews, exports and the AI
features ask here; nothing else decides.

The rules:
- Entries: the owner reads and changes their own (live or trashed). An active lead of a
  team reads, never changes, the live entries of that team's members.
- Reviews: the author reads theirs and acts as author. An active lead reviews (reads,
  comments on, decides) the reviews of the other members of their team, never their own.
- What may not be seen is answered 404, never 403, so ids of other people's things do not
  leak.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NoReturn

import sqlalchemy as sa
from flask import abort

from app.extensions import db
from app.models import LogEntry, User, WeeklyReview


class Action(StrEnum):
    READ = "read"  # see it (entries, reviews and their comments)
    WRITE = "write"  # change it: the owner's entry, the author's review
    DECIDE = "decide"  # approve or request changes: the author's lead


def _not_found() -> NoReturn:
    abort(404)


# --- entries ---------------------------------------------------------------------------


def visible_owner_ids(user: User, *, include_team: bool = True) -> list[int]:
    """Whose entries `user` may read: themselves, plus their team when they lead it."""
    owners = {user.id}
    if include_team and user.leads_team:
        owners.update(db.session.scalars(sa.select(User.id).where(User.team_id == user.team_id)))
    return sorted(owners)


def can_read_entry(user: User, entry: LogEntry) -> bool:
    if entry.user_id == user.id:
        return True
    return bool(user.leads_team and entry.deleted_at is None and entry.user.team_id == user.team_id)


def can_write_entry(user: User, entry: LogEntry) -> bool:
    return entry.user_id == user.id


def get_entry_for(user: User, entry_id: int, action: Action = Action.READ, *,
                  deleted: bool | None = False) -> LogEntry:
    """The entry if `user` may do `action` on it; otherwise 404.

    `deleted`: False for live entries only, True for trashed only, None for either.
    """
    entry = db.session.get(LogEntry, entry_id)
    if entry is None or (deleted is not None and entry.is_deleted != deleted):
        _not_found()
    allowed = can_write_entry(user, entry) if action is Action.WRITE else can_read_entry(user, entry)
    if not allowed:
        _not_found()
    return entry


def readable_entry_ids(user: User, entry_ids: set[int]) -> set[int]:
    """Which of `entry_ids` the user may open now: one query whatever their number."""
    if not entry_ids:
        return set()
    return set(db.session.scalars(
        sa.select(LogEntry.id).where(LogEntry.id.in_(entry_ids),
                                     LogEntry.user_id.in_(visible_owner_ids(user)),
                                     LogEntry.deleted_at.is_(None))
    ))


# --- reviews ---------------------------------------------------------------------------


def is_reviewer_for(user: User, author: User) -> bool:
    """An active lead reviews the other members of their own team; never their own reviews."""
    return bool(user.leads_team and author.team_id == user.team_id and author.id != user.id)


def can_review(user: User, review: WeeklyReview, action: Action = Action.READ) -> bool:
    if action is Action.WRITE:
        return review.user_id == user.id
    if action is Action.DECIDE:
        return is_reviewer_for(user, review.user)
    return review.user_id == user.id or is_reviewer_for(user, review.user)


def get_review_for(user: User, review_id: int, action: Action = Action.READ) -> WeeklyReview:
    """The review if `user` may do `action` on it; otherwise 404."""
    review = db.session.get(WeeklyReview, review_id)
    if review is None or not can_review(user, review, action):
        _not_found()
    return review
