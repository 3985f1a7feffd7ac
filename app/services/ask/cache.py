"""The answer cache of Ask your log.

The key is a hash of everything an answer depends on: the asker, the include-team flag, whose
entries were searched, the normalised question, a fingerprint of those entries (count, newest
change, sum of versions, highest id: any create, edit, delete or restore changes it), the
asker's date (so "this week" moves on), language and model. A changed entry therefore never
meets an old answer; nothing has to be deleted.

Where answers are kept:
- Redis when REDIS_URL is set: shared by every instance, expires after ASK_CACHE_TTL_SECONDS.
- Otherwise the database: every answer is stored anyway (the asker's history), with its key,
  so a lookup is one indexed query, shared by every instance that shares the database.
A cache that fails (Redis down) is a miss, never an error for the user.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from app.extensions import db
from app.metrics import count_cache
from app.models.ask import AskQuestion
from app.models.base import utcnow

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 24 * 3600
_TRAILING = re.compile(r"[\s?？!！.。…]+$")


def normalise_question(question: str) -> str:
    """Case, width, spacing and trailing punctuation do not make a new question."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return _TRAILING.sub("", " ".join(text.split()))


def fingerprint(owner_ids: list[int]) -> list[Any]:
    """The data versions of the users whose entries may be searched (app/services/freshness.py).

    Every write to an entry bumps its owner's version in the same transaction, so an answer
    is reused only while none of those logs changed. The asker's own version is already
    loaded with the session; a team question reads its members' versions by primary key.
    """
    from flask_login import current_user

    from app.models import User

    if owner_ids and set(owner_ids) == {getattr(current_user, "id", None)}:
        return [[current_user.id, current_user.data_version]]
    rows = db.session.execute(
        sa.select(User.id, User.data_version).where(User.id.in_(sorted(set(owner_ids)))).order_by(User.id)
    ).all()
    return [[user_id, version] for user_id, version in rows]


def cache_key(*, user_id: int, include_team: bool, owner_ids: list[int], question: str,
              data_fingerprint: list[Any], today: date, locale: str, model: str) -> str:
    material = json.dumps([user_id, include_team, sorted(owner_ids), normalise_question(question),
                           data_fingerprint, today.isoformat(), locale, model],
                          ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(material.encode()).hexdigest()


def ttl_seconds(config: Mapping[str, Any]) -> int:
    return int(config.get("ASK_CACHE_TTL_SECONDS") or DEFAULT_TTL_SECONDS)


class DatabaseAnswerCache:
    """Answers are rows already; the cache is the latest fresh row with the same key."""

    name = "database"

    def __init__(self, ttl: int) -> None:
        self.ttl = ttl

    def get(self, user_id: int, key: str) -> dict[str, Any] | None:
        row = db.session.scalars(
            sa.select(AskQuestion)
            .where(AskQuestion.user_id == user_id, AskQuestion.cache_key == key,
                   AskQuestion.cache_hit.is_(False),
                   AskQuestion.created_at >= utcnow() - timedelta(seconds=self.ttl))
            .order_by(AskQuestion.id.desc()).limit(1)
        ).first()
        return row.cache_value() if row is not None else None

    def set(self, user_id: int, key: str, value: dict[str, Any]) -> None:
        pass  # the answer's own row, written by the caller, is the cache entry


class RedisAnswerCache:
    name = "redis"

    def __init__(self, client: Any, prefix: str, ttl: int) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl

    def _key(self, user_id: int, key: str) -> str:
        return f"{self.prefix}:ask:{user_id}:{key}"

    def get(self, user_id: int, key: str) -> dict[str, Any] | None:
        raw = self.client.get(self._key(user_id, key))
        return json.loads(raw) if raw else None

    def set(self, user_id: int, key: str, value: dict[str, Any]) -> None:
        self.client.set(self._key(user_id, key), json.dumps(value, ensure_ascii=False), ex=self.ttl)


def answer_cache(app: Flask | None = None) -> DatabaseAnswerCache | RedisAnswerCache:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    url = config.get("REDIS_URL")
    if not url:
        return DatabaseAnswerCache(ttl_seconds(config))
    client = app.extensions.get("worklog.ask_redis")
    if client is None:
        import redis

        # A Redis that hangs must not hang the answer: a timeout is a miss.
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        app.extensions["worklog.ask_redis"] = client
    prefix = config.get("ASK_CACHE_KEY_PREFIX") or config.get("RATELIMIT_KEY_PREFIX") or "worklog"
    return RedisAnswerCache(client, prefix, ttl_seconds(config))


def lookup(cache: DatabaseAnswerCache | RedisAnswerCache, user_id: int, key: str) -> dict[str, Any] | None:
    """A cached answer or None; counts the hit or miss (and a failure, as a miss)."""
    try:
        found = cache.get(user_id, key)
    except Exception:  # noqa: BLE001 - a broken cache must not cost the user their answer
        log.warning("ask cache lookup failed", exc_info=True, extra={"cache": cache.name})
        count_cache("error")
        found = None
    count_cache("hit" if found else "miss")
    return found


def store(cache: DatabaseAnswerCache | RedisAnswerCache, user_id: int, key: str,
          value: dict[str, Any]) -> None:
    try:
        cache.set(user_id, key, value)
    except Exception:  # noqa: BLE001
        log.warning("ask cache write failed", exc_info=True, extra={"cache": cache.name})
        count_cache("error")
        return
    if cache.name == "redis":
        count_cache("set")
