"""A request limiter shared by every worker and web process: at most `rate` requests per second
per bucket (one bucket per Notion integration token).

On PostgreSQL the bucket is guarded by a session advisory lock taken on a connection of its own
(released by the server if the process dies) and its recent request times live in the table
`publish_rate`. The lock is held for the whole request, so requests of one integration go one
at a time and each one's *completion* time is known: a request starts only once the k-th
previous one (k = the rate) completed at least a second ago. The service receives a request
after we start it and before we see its answer, so it never sees more than k in any second,
whatever the number of processes or how late one of them wakes up. Elsewhere (SQLite, one
process) a thread lock and the same rule in memory.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from app.extensions import db

MARGIN_SECONDS = 0.02
_local_lock = threading.Lock()
_local_recent: dict[str, list[float]] = {}


def bucket_for(kind: str, secret: str) -> str:
    """A bucket name per integration that does not reveal the token."""
    return f"{kind}:{hashlib.sha256(secret.encode('utf-8')).hexdigest()[:20]}"


def _shape(rate: float) -> tuple[int, float]:
    """(k, window): at most k requests in any `window` seconds."""
    if rate >= 1:
        return int(math.floor(rate)), 1.0
    return 1, 1.0 / max(rate, 0.01)


def _wait(recent: list[float], k: int, window: float) -> None:
    if len(recent) >= k:
        ready_at = recent[-k] + window + MARGIN_SECONDS
        delay = ready_at - time.time()
        if delay > 0:
            time.sleep(delay)


@contextmanager
def slot(bucket: str, rate: float) -> Iterator[None]:
    """Hold the bucket for one request (run it inside the `with`)."""
    k, window = _shape(rate)
    if db.engine.dialect.name != "postgresql":
        with _local_lock:
            recent = _local_recent.setdefault(bucket, [])
            _wait(recent, k, window)
            try:
                yield
            finally:
                recent.append(time.time())
                del recent[:-k]
        return
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(hashtext(:b))"), {"b": bucket})
        try:
            recent = conn.execute(sa.text("SELECT recent FROM publish_rate WHERE bucket = :b"),
                                  {"b": bucket}).scalar() or []
            recent = [float(t) for t in recent]
            _wait(recent, k, window)
            try:
                yield
            finally:
                recent = ([*recent, time.time()])[-k:]
                conn.execute(sa.text(
                    "INSERT INTO publish_rate (bucket, recent) VALUES (:b, CAST(:r AS json)) "
                    "ON CONFLICT (bucket) DO UPDATE SET recent = EXCLUDED.recent"),
                    {"b": bucket, "r": __import__("json").dumps(recent)})
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:b))"), {"b": bucket})
