"""In-app notifications and their e-mails: who hears of what, and who may see it.

    notify_review_event("review_changes_requested", review, actor=lead, comment=text)
    db.session.commit()

Called before the commit of the change (like queue_review_event): the notification rows and
the e-mail jobs are part of the same transaction. Each recipient's preference for the event
kind decides the channels (in-app, e-mail or both; both by default). A notification only names
its object (a review, a user) and short facts (week, destination, reason); it is shown, and
its link followed, only while the reader may still see that object (app/access.py), otherwise
it is hidden and its id answers 404.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from app.access import can_review
from app.extensions import db
from app.models import Notification, NotificationSettings, Role, User, WeeklyReview
from app.models.base import utcnow
from app.models.notification import CHANNELS, EVENT_KINDS

log = logging.getLogger("app.notifications")

LIST_MAX = 200
REASON_MAX = 300
DEFAULT_CHANNEL = "both"


# --- preferences -----------------------------------------------------------------------------


def settings_for(user_id: int, *, create: bool = False) -> NotificationSettings:
    row = db.session.get(NotificationSettings, user_id)
    if row is None:
        row = NotificationSettings(user_id=user_id, channels={})
        # Column defaults are applied at insert; fill them now so a fresh row reads right.
        for column in NotificationSettings.__table__.columns:
            if getattr(row, column.key) is None and column.default is not None \
                    and not callable(column.default.arg):
                setattr(row, column.key, column.default.arg)
        if create:
            db.session.add(row)
    return row


def channel_for(user_id: int, kind: str) -> str:
    row = db.session.get(NotificationSettings, user_id)
    chosen = (row.channels or {}).get(kind) if row is not None else None
    return chosen if chosen in CHANNELS else DEFAULT_CHANNEL


def set_channel(user_id: int, kind: str, channel: str) -> None:
    if kind not in EVENT_KINDS or channel not in CHANNELS:
        raise ValueError(f"unknown kind or channel: {kind!r} {channel!r}")
    row = settings_for(user_id, create=True)
    row.channels = {**(row.channels or {}), kind: channel}
    row.updated_at = utcnow()


# --- creating -----------------------------------------------------------------------------


def _deliver(user: User, kind: str, *, target_type: str, target_id: int, actor: User | None,
             details: dict[str, Any]) -> Notification | None:
    """One recipient: an in-app row and/or an e-mail job, as they chose."""
    if not user.is_active:
        return None
    channel = channel_for(user.id, kind)
    row = None
    if channel in ("in_app", "both"):
        row = Notification(user_id=user.id, kind=kind, actor_id=actor.id if actor else None,
                           target_type=target_type, target_id=target_id, details=details)
        db.session.add(row)
    if channel in ("email", "both"):
        from app.services.mail import queue_notification_email

        queue_notification_email(user, kind, target_type=target_type, target_id=target_id,
                                 actor_id=actor.id if actor else None, details=details)
    return row


def team_leads(team_id: int | None, *, excluding: int | None = None) -> list[User]:
    if team_id is None:
        return []
    return list(db.session.scalars(sa.select(User).where(
        User.team_id == team_id, User.role == Role.LEAD.value, User.is_active.is_(True),
        User.id != (excluding or 0)).order_by(User.id)))


def admins() -> list[User]:
    return list(db.session.scalars(sa.select(User).where(
        User.role == Role.ADMIN.value, User.is_active.is_(True)).order_by(User.id)))


def notify_review_event(kind: str, review: WeeklyReview, *, actor: User) -> int:
    """Review submitted (→ the team's leads), approved / changes requested (→ the author),
    new comment (→ the other party). Returns how many people were told."""
    author = review.user
    if kind == "review_submitted":
        recipients = team_leads(author.team_id, excluding=author.id)
    elif kind in ("review_approved", "review_changes_requested"):
        recipients = [author]
    elif kind == "review_comment":
        recipients = (team_leads(author.team_id, excluding=author.id) if actor.id == author.id
                      else [author])
    else:
        raise ValueError(f"not a review event: {kind!r}")
    told = 0
    for user in recipients:
        if user.id == actor.id or not can_review(user, review):
            continue
        _deliver(user, kind, target_type="weekly_review", target_id=review.id, actor=actor,
                 details={"week": review.week})
        told += 1
    return told


def notify_publish_failed(review: WeeklyReview, destination_label: str, reason: str) -> int:
    """Publishing a review failed: tell its author and the admins (the caller commits)."""
    details = {"week": review.week, "destination": (destination_label or "")[:100],
               "reason": (reason or "")[:REASON_MAX]}
    told = 0
    seen: set[int] = set()
    for user in [review.user, *admins()]:
        if user.id in seen:
            continue
        seen.add(user.id)
        _deliver(user, "publish_failed", target_type="weekly_review", target_id=review.id,
                 actor=None, details=details)
        told += 1
    return told


def notify_invite_accepted(new_user: User, inviter: User | None) -> int:
    """The invited person made their account: tell the admin who invited them."""
    if inviter is None or not inviter.is_admin:
        return 0
    _deliver(inviter, "invite_accepted", target_type="user", target_id=new_user.id, actor=new_user,
             details={})
    return 1


# --- reading ------------------------------------------------------------------------------


def can_see(user: User, kind: str, target_type: str, target_id: int) -> bool:
    """May `user` see the object a notification is about (now)?"""
    if target_type == "weekly_review":
        review = db.session.get(WeeklyReview, target_id)
        if review is None:
            return False
        if kind == "publish_failed" and user.is_admin:
            return True
        return can_review(user, review)
    if target_type == "user":
        return bool(user.is_admin and db.session.get(User, target_id) is not None)
    return False


def visible(user: User, row: Notification) -> bool:
    return row.user_id == user.id and can_see(user, row.kind, row.target_type, row.target_id)


def target_endpoint(kind: str, target_type: str, target_id: int,
                    reader: User | None = None) -> tuple[str, dict[str, int]]:
    """Where the notification leads `reader` (endpoint, values): the object, or for an admin
    told of a failed publication of a review they may not read, the job queue."""
    if target_type == "weekly_review":
        review = db.session.get(WeeklyReview, target_id) if reader is not None else None
        if kind == "publish_failed" and reader is not None and reader.is_admin and \
                (review is None or not can_review(reader, review)):
            return "admin.jobs_page", {}
        return "reviews.review", {"review_id": target_id}
    if target_type == "user":
        return "admin.user_detail", {"user_id": target_id}
    return "notifications.index", {}


def target_path(kind: str, target_type: str, target_id: int, reader: User | None = None) -> str:
    from flask import url_for

    endpoint, values = target_endpoint(kind, target_type, target_id, reader)
    return url_for(endpoint, **values)


def list_for(user: User, limit: int = LIST_MAX) -> list[Notification]:
    rows = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
        .options(sa.orm.joinedload(Notification.actor))).all()
    return [row for row in rows if visible(user, row)]


def unread_count(user: User) -> int:
    """Unread notifications the user may still open (capped: the badge shows "99+")."""
    rows = db.session.execute(
        sa.select(Notification.kind, Notification.target_type, Notification.target_id)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .order_by(Notification.id.desc()).limit(100)).all()
    return sum(1 for r in rows if can_see(user, r.kind, r.target_type, r.target_id))


def get_for(user: User, notification_id: int) -> Notification | None:
    row = db.session.get(Notification, notification_id)
    return row if row is not None and visible(user, row) else None


def mark_read(row: Notification) -> None:
    if row.read_at is None:
        row.read_at = utcnow()


def mark_all_read(user: User) -> int:
    return db.session.execute(
        sa.update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow()), execution_options={"synchronize_session": False}).rowcount or 0


def headline(kind: str, actor_name: str | None, details: dict[str, Any]) -> str:
    """The one line shown in the list and used as the e-mail subject (current locale)."""
    from flask_babel import gettext as _

    who = actor_name or _("Someone")
    week = details.get("week", "")
    texts = {
        "review_submitted": _("%(who)s submitted their weekly review for %(week)s", who=who, week=week),
        "review_approved": _("%(who)s approved your weekly review for %(week)s", who=who, week=week),
        "review_changes_requested": _("%(who)s requested changes to your weekly review for %(week)s",
                                      who=who, week=week),
        "review_comment": _("%(who)s commented on the weekly review for %(week)s", who=who, week=week),
        "publish_failed": _("Publishing the weekly review for %(week)s to %(destination)s failed",
                            week=week, destination=details.get("destination", "")),
        "invite_accepted": _("%(who)s accepted your invite and joined Worklog", who=who),
    }
    return texts.get(kind, kind)


def kind_label(kind: str) -> str:
    from flask_babel import gettext as _

    return {
        "review_submitted": _("A review is submitted to me"),
        "review_approved": _("My review is approved"),
        "review_changes_requested": _("Changes are requested to my review"),
        "review_comment": _("A new comment on a review"),
        "publish_failed": _("Publishing a review failed"),
        "invite_accepted": _("Someone accepted my invite"),
    }.get(kind, kind)
