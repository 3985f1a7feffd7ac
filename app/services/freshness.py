"""Per-user data versions and the conditional-GET (ETag / 304) path built on them.

Every user row has a `data_version`, bumped in the same transaction as any write that changes
what that user's pages show. Pages that show only one user's data build their ETag from it
(plus the locale, timezone, day, app build, CSRF secret and the URL); a repeat request with a
matching `If-None-Match` is answered 304 after the session lookup, without running the view.

Bumps happen two ways:

* automatically, from SQLAlchemy session events, for every model registered here: an insert,
  a real change or a delete of a registered row bumps the owners it names, e.g.
  ``register(LogEntry, "user_id")`` or ``register(Comment, lambda c: [c.review.user_id])``;
* by hand with ``bump_data_version(user_id, ...)`` after a Core ``update()``/``delete()`` (no
  session events fire for those) or for anything that is not a row of a registered model.

A page that shows other users' data must add their versions to its key
(``etag_for(..., others=[ids])``) or not use an ETag at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Flask, Response, current_app, g, request, session
from flask_login import current_user

from app.extensions import db

Owners = Callable[[Any], Iterable[int | None]]
_REGISTRY: dict[type, Owners] = {}
_PENDING = "worklog.bump_users"


def register(model: type, owner: str | Owners) -> None:
    """Writes to `model` bump the data version of the user(s) `owner` names (a column or a function)."""
    if isinstance(owner, str):
        column = owner
        _REGISTRY[model] = lambda obj: (getattr(obj, column),)
    else:
        _REGISTRY[model] = owner


def bump_data_version(*user_ids: int | None) -> None:
    """Bump these users' data versions in the current transaction (commit is the caller's)."""
    _bump(db.session.connection(), {u for u in user_ids if u is not None})


def _bump(connection: sa.Connection, ids: set[int]) -> None:
    if not ids:
        return
    from app.models import User

    # Sorted, so two transactions bumping the same users lock them in the same order.
    connection.execute(
        sa.update(User.__table__).where(User.__table__.c.id.in_(sorted(ids)))
        .values(data_version=User.__table__.c.data_version + 1)
    )


def _owners_of(obj: Any) -> Iterable[int | None]:
    for cls in type(obj).__mro__:
        owner = _REGISTRY.get(cls)
        if owner is not None:
            return owner(obj)
    return ()


def _before_flush(sess: so.Session, _context: Any, _instances: Any) -> None:
    pending: set[int] = sess.info.setdefault(_PENDING, set())
    with sess.no_autoflush:
        for obj in sess.new:
            pending.update(u for u in _owners_of(obj) if u is not None)
        for obj in sess.deleted:
            pending.update(u for u in _owners_of(obj) if u is not None)
        for obj in sess.dirty:
            if _registered(type(obj)) and sess.is_modified(obj):
                pending.update(u for u in _owners_of(obj) if u is not None)


def _registered(cls: type) -> bool:
    return any(c in _REGISTRY for c in cls.__mro__)


def _after_flush(sess: so.Session, _context: Any) -> None:
    ids = sess.info.pop(_PENDING, None)
    if ids:
        _bump(sess.connection(), ids)


def install(app: Flask) -> None:
    """Listen to every session; register the models whose writes change what pages show."""
    if not sa.event.contains(so.Session, "before_flush", _before_flush):
        sa.event.listen(so.Session, "before_flush", _before_flush)
        sa.event.listen(so.Session, "after_flush", _after_flush)
    _register_core_models()
    app.extensions["worklog.build_digest"] = build_digest(app)


def _register_core_models() -> None:
    from app.models.log import LogEntry, LogEntryTag
    from app.models.publishing import Publication
    from app.models.review import ReviewComment, WeeklyReview

    register(LogEntry, "user_id")
    register(LogEntryTag, lambda tag: (tag.entry.user_id if tag.entry is not None else None,))
    register(WeeklyReview, "user_id")
    register(ReviewComment, _comment_owner)
    # A publish job changes the review page ("Published ↗" / "failed — Retry").
    register(Publication, "owner_id")
    # Other areas add one line each, next to their model or in their blueprint's setup:
    #     freshness.register(Notification, "user_id")


def _comment_owner(comment: Any) -> tuple[int | None]:
    """A comment shows on its review's page: the review's author is the owner."""
    from app.models.review import WeeklyReview

    sess = so.object_session(comment) or db.session
    review = sess.get(WeeklyReview, comment.review_id) if comment.review_id else None
    return (review.user_id if review is not None else None,)


# --- the build: templates, translations and static files --------------------------------------


def build_digest(app: Flask) -> str:
    """A hash of what renders pages besides the data: a deploy or a settings change changes ETags."""
    root = Path(app.root_path).parent
    digest = hashlib.blake2b(app.config.get("APP_VERSION", "").encode(), digest_size=8)
    # Settings the layout reads (sign-in providers, environment, ...): instances with the same
    # settings share ETags; a changed setting changes them all.
    plain = (str, int, float, bool, type(None))
    digest.update(repr(sorted((k, v) for k, v in app.config.items() if isinstance(v, plain))).encode())
    for folder, patterns in ((root / "templates", ("*.html", "*.txt")),
                             (Path(app.root_path) / "translations", ("*.mo",)),
                             (Path(app.static_folder or root / "static"), ("*.css", "*.js", "*.svg"))):
        for pattern in patterns:
            for path in sorted(folder.rglob(pattern)):
                try:
                    digest.update(str(path.relative_to(folder)).encode())
                    digest.update(path.read_bytes())
                except OSError:
                    continue
    return digest.hexdigest()


# --- ETags ------------------------------------------------------------------------------------


def etags_enabled() -> bool:
    app = current_app
    return bool(app.config.get("ETAGS_ENABLED", True)) and not app.debug and not app.jinja_env.auto_reload


def _csrf_part() -> str:
    """The page embeds CSRF tokens: they are tied to the session's secret, so the key is too.

    Worklog's tokens live as long as the session (WTF_CSRF_TIME_LIMIT = None). If a time limit
    is configured, the key also carries the half-limit bucket, so a page reused through a 304 has
    a token with at least half its lifetime left.
    """
    if "csrf_token" not in session:
        from flask_wtf.csrf import generate_csrf

        generate_csrf()  # makes the session's secret now: this is its first page
    secret = session.get("csrf_token", "")
    limit = current_app.config.get("WTF_CSRF_TIME_LIMIT")
    bucket = ""
    if limit:
        import time

        bucket = str(int(time.time() // max(1, int(limit) // 2)))
    return hashlib.blake2b(f"{secret}|{bucket}".encode(), digest_size=6).hexdigest()


def other_users_part(user_ids: Iterable[int]) -> str:
    """One query: the versions of the other users a page shows (a lead's team, say)."""
    from app.models import User

    ids = sorted(set(user_ids))
    if not ids:
        return "-"
    rows = db.session.execute(sa.select(User.id, User.data_version, User.display_name)
                              .where(User.id.in_(ids)).order_by(User.id)).all()
    return hashlib.blake2b(repr(rows).encode(), digest_size=8).hexdigest()


def team_part(team_id: int | None) -> str:
    """One query: every member of a team with their data version (membership changes count)."""
    from app.models import User

    rows = db.session.execute(sa.select(User.id, User.data_version, User.display_name, User.is_active)
                              .where(User.team_id == team_id).order_by(User.id)).all()
    return hashlib.blake2b(repr(rows).encode(), digest_size=8).hexdigest()


# What of the user an ETag depends on besides the language and the day: the layout shows these.
ETAG_USER_FIELDS = ("id", "data_version", "display_name", "role", "team_id", "email", "timezone")


def etag_for(*extra: Any, others: str | None = None) -> str | None:
    """The ETag of the current GET for the signed-in user, or None when it must not have one.

    None when ETags are off, the user is not signed in, or a flash message is waiting (it is
    shown once, so that page must be rendered). The key is everything the page depends on
    besides the view's `extra`: the build, user, data version, profile fields shown in the
    layout, locale, timezone, day, CSRF secret, URL and htmx target.
    """
    if not etags_enabled() or not current_user.is_authenticated or session.get("_flashes"):
        return None
    from flask_babel import get_locale

    user = current_user
    fields = tuple(getattr(user, name) for name in ETAG_USER_FIELDS)
    return _etag(fields, str(get_locale()), user.today(), extra, others)


def _etag(fields: tuple[Any, ...], locale: str, today: Any, extra: tuple[Any, ...],
          others: str | None) -> str:
    parts = (
        current_app.extensions.get("worklog.build_digest", ""), *fields, locale, today.isoformat(),
        _csrf_part(), request.full_path, request.headers.get("HX-Request", ""),
        request.headers.get("HX-Target", ""), others or "", *extra,
    )
    return 'W/"' + hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest() + '"'


_fast_statement: sa.Select[Any] | None = None


@lru_cache(maxsize=64)
def _locale_name(code: str) -> str:
    """What str(flask_babel.get_locale()) gives for `code`: the same part of the ETag."""
    from babel import Locale

    return str(Locale.parse(code))


def fast_not_modified(extra: tuple[Any, ...]) -> Response | None:
    """A 304 for a browser session from one Core query, before Flask-Login builds the user.

    The same checks as the normal path, the same ETag (`_etag` over the same fields): the
    session record is live and its user active, no message is waiting, and the record was seen
    within LAST_SEEN_RESOLUTION (else the normal path refreshes it, or ends an idle one). Any
    doubt returns None and the normal path decides. One statement on an autocommit connection:
    no ORM objects, no BEGIN/ROLLBACK round trips.
    """
    token = session.get("_user_id")
    if (not request.if_none_match or not isinstance(token, str) or "csrf_token" not in session
            or session.get("_flashes") or "Authorization" in request.headers or not etags_enabled()):
        return None
    from app.i18n import locale_for
    from app.models import User, UserSession
    from app.models.base import utcnow
    from app.models.session import LAST_SEEN_RESOLUTION, hash_token
    from app.models.user import today_in

    global _fast_statement
    if _fast_statement is None:  # built once: plain table columns, a bound token hash
        users, sessions = User.__table__, UserSession.__table__
        _fast_statement = (
            sa.select(*(users.c[name] for name in ETAG_USER_FIELDS), users.c.locale,
                      sessions.c.last_seen_at)
            .select_from(sessions.join(users, sessions.c.user_id == users.c.id))
            .where(sessions.c.token_hash == sa.bindparam("token_hash"),
                   sessions.c.ended_at.is_(None), users.c.is_active)
        )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        row = connection.execute(_fast_statement, {"token_hash": hash_token(token)}).first()
    if row is None or utcnow() - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        return None
    fields = tuple(row)[:len(ETAG_USER_FIELDS)]
    timezone = fields[ETAG_USER_FIELDS.index("timezone")]
    etag = _etag(fields, _locale_name(locale_for(row.locale)), today_in(timezone), extra, None)
    return not_modified(etag)


def not_modified(etag: str | None) -> Response | None:
    """A 304 when the browser already has this version; remembers the ETag for the response."""
    if etag is None:
        return None
    g.worklog_etag = etag
    if request.if_none_match.contains_weak(etag.removeprefix("W/").strip('"')):
        response = Response(status=304)
        _conditional_headers(response, etag)
        if current_app.config.get("COMPRESS_RESPONSES", True):
            response.vary.add("Accept-Encoding")  # as the 200 it stands for would have said
        return response
    return None


def _conditional_headers(response: Response, etag: str) -> None:
    response.headers["ETag"] = etag
    # The browser may keep the page but must ask each time (the answer is usually a 304).
    response.headers["Cache-Control"] = "private, no-cache"
    response.vary.add("Cookie")


def add_etag(response: Response) -> Response:
    """after_request: put the view's ETag on its 200 (never on errors or redirects)."""
    etag = g.pop("worklog_etag", None)
    if etag and response.status_code == 200 and not response.is_streamed and not session.get("_flashes"):
        _conditional_headers(response, etag)
    return response


View = Callable[..., Any]


def conditional(*extra: Any, others: Callable[[], str | None] | None = None) -> Callable[[View], View]:
    """Decorator for a GET view: answer 304 before running it when the browser's copy is current.

    Put it above `@login_required`: a repeat view from a browser session is then answered from
    one query (`fast_not_modified`) before the user is loaded; anything else falls through to
    the normal path, where a signed-out request gets no ETag and login_required redirects.
    """
    from functools import wraps

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method in ("GET", "HEAD"):
                if others is None:
                    fast = fast_not_modified(extra)
                    if fast is not None:
                        return fast
                etag = etag_for(*extra, others=others() if others else None)
                early = not_modified(etag)
                if early is not None:
                    return early
            return view(*args, **kwargs)

        return wrapper

    return decorate
