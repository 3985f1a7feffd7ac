"""Small per-user values kept while the user's data version stays the same.

A key names the user, their data version (app/services/freshness.py), the day, the locale
and the build, so a write, a new day, another language or a deploy simply stops finding the
old value: nothing is ever invalidated by hand. Redis when REDIS_URL is set (shared by every
worker, a day's lifetime), else a bounded in-process LRU. A cache that fails costs only the
work it would have saved.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import current_app

LOCAL_SIZE = 1024
LOCAL_MAX_CHARS = 8_000_000  # per worker process: rendered lists are ~10-30 KB each
TTL_SECONDS = 26 * 3600
_local: OrderedDict[str, str] = OrderedDict()
_local_chars = 0
_lock = threading.Lock()
log = logging.getLogger(__name__)


def user_key(name: str, user: Any, today: date) -> str:
    from flask_babel import get_locale

    build = current_app.extensions.get("worklog.build_digest", "")
    # The account's creation time and the database tell apart a user id reused after a
    # restore or in another database sharing the same Redis.
    born = user.created_at.timestamp() if user.created_at else 0
    where = zlib.crc32(str(current_app.config.get("SQLALCHEMY_DATABASE_URI")).encode())
    return f"{name}:{where}:{user.id}:{born}:{today.isoformat()}:{user.data_version}:{get_locale()}:{build}"


def _redis() -> Any:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("worklog.versioned_cache_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        current_app.extensions["worklog.versioned_cache_redis"] = client
    return client


def cached_text(key: str, build: Callable[[], str], ttl: int = TTL_SECONDS) -> str:
    """The text stored under `key`, else `build()`'s (then stored, in Redis for `ttl` seconds)."""
    global _local_chars
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "worklog"
    client = _redis()
    if client is not None:
        try:
            raw = client.get(f"{prefix}:{key}")
            if raw is not None:
                return raw.decode()
        except Exception:  # noqa: BLE001 - a broken cache only costs the work
            log.warning("cache read failed", exc_info=True)
            client = None
    else:
        with _lock:
            found = _local.get(key)
            if found is not None:
                _local.move_to_end(key)
                return found
    text = build()
    if client is not None:
        try:
            client.set(f"{prefix}:{key}", text.encode(), ex=ttl)
        except Exception:  # noqa: BLE001
            log.warning("cache write failed", exc_info=True)
    else:
        with _lock:
            old = _local.pop(key, None)
            _local[key] = text
            _local_chars += len(text) - (len(old) if old is not None else 0)
            while len(_local) > LOCAL_SIZE or (_local_chars > LOCAL_MAX_CHARS and len(_local) > 1):
                _local_chars -= len(_local.popitem(last=False)[1])
    return text
