"""A year of activity as cells for a server-rendered SVG heatmap."""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from markupsafe import Markup

CELL = 12  # px, including the gap
LEVELS = (0, 1, 2, 4, 6)  # entries per day at which each colour level starts


@dataclass(frozen=True)
class Cell:
    day: date
    count: int
    level: int
    x: int
    y: int
    future: bool


@dataclass(frozen=True)
class MonthLabel:
    day: date
    x: int


@dataclass(frozen=True)
class Heatmap:
    cells: list[Cell]
    months: list[MonthLabel]
    total: int
    active_days: int
    width: int
    height: int


def level_for(count: int) -> int:
    return max(i for i, start in enumerate(LEVELS) if count >= start)


def build_heatmap(counts: dict[date, int], start: date, end: date, today: date) -> Heatmap:
    cells: list[Cell] = []
    months: list[MonthLabel] = []
    day = start
    while day <= end:
        week = (day - start).days // 7
        count = counts.get(day, 0)
        cells.append(Cell(day, count, level_for(count), week * CELL, day.weekday() * CELL, day > today))
        if day.day <= 7 and day.weekday() == 0:
            months.append(MonthLabel(day, week * CELL))
        day += timedelta(days=1)
    weeks = (end - start).days // 7 + 1
    return Heatmap(
        cells=cells,
        months=months,
        total=sum(counts.values()),
        active_days=sum(1 for c in counts.values() if c),
        width=weeks * CELL,
        height=7 * CELL,
    )


# --- rendered once per (user, day, data version, locale, build) -----------------------------

_LOCAL_CACHE_SIZE = 512
_local_cache: OrderedDict[str, str] = OrderedDict()
_local_lock = threading.Lock()
log = logging.getLogger(__name__)


def cell_labels(heatmap: Heatmap) -> dict[date, str]:
    """Each past day's accessible name, built in Python: one ngettext per distinct count."""
    from flask_babel import ngettext

    from app.i18n import dateformat

    by_count: dict[int, tuple[str, str]] = {}
    labels = {}
    for cell in heatmap.cells:
        if cell.future:
            continue
        if cell.count not in by_count:
            # Translated once per count with a placeholder, then filled per day.
            text = ngettext("%(num)d entry on %(day)s", "%(num)d entries on %(day)s", cell.count,
                            day="\x00")
            by_count[cell.count] = tuple(text.split("\x00", 1))  # type: ignore[assignment]
        head, tail = by_count[cell.count]
        labels[cell.day] = head + dateformat(cell.day, "medium") + tail
    return labels


def _cache_key(user: Any, today: date) -> str:
    from flask import current_app
    from flask_babel import get_locale

    build = current_app.extensions.get("worklog.build_digest", "")
    # The account's creation time and the database tell apart a user id reused after a
    # restore or in another database sharing the same Redis.
    born = user.created_at.timestamp() if user.created_at else 0
    where = zlib.crc32(str(current_app.config.get("SQLALCHEMY_DATABASE_URI")).encode())
    return (f"heatmap:{where}:{user.id}:{born}:{today.isoformat()}:{user.data_version}:"
            f"{get_locale()}:{build}")


def _redis() -> Any:
    from flask import current_app

    url = current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = current_app.extensions.get("worklog.heatmap_redis")
    if client is None:
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        current_app.extensions["worklog.heatmap_redis"] = client
    return client


def heatmap_html(user: Any, today: date) -> Markup:
    """The year heatmap's markup for `user`, from the cache when this version was built before.

    Redis when REDIS_URL is set (shared by every worker, a day's lifetime), else a bounded
    in-process cache. The markup depends only on the key: the active cell (the list's date
    filter) is marked by the page's script, so one cached copy serves every filter.
    """
    from flask import current_app, render_template

    from app.services.log.query import activity_by_day, year_window

    key = _cache_key(user, today)
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "worklog"
    client = _redis()
    if client is not None:
        try:
            raw = client.get(f"{prefix}:{key}")
            if raw:
                return Markup(raw.decode())  # noqa: S704 - our own rendering, stored as is
        except Exception:  # noqa: BLE001 - a broken cache only costs the rendering
            log.warning("heatmap cache read failed", exc_info=True)
            client = None
    else:
        with _local_lock:
            found = _local_cache.get(key)
            if found is not None:
                _local_cache.move_to_end(key)
                return Markup(found)  # noqa: S704
    start, end = year_window(today)
    heatmap = build_heatmap(activity_by_day(user.id, start, end), start, end, today)
    rows: list[list[Cell]] = [[] for _ in range(7)]
    for cell in heatmap.cells:
        if not cell.future:
            rows[cell.day.weekday()].append(cell)
    html = render_template("log/_heatmap.html", heatmap=heatmap, rows=rows,
                           labels=cell_labels(heatmap), today=today)
    if client is not None:
        try:
            client.set(f"{prefix}:{key}", html.encode(), ex=26 * 3600)
        except Exception:  # noqa: BLE001
            log.warning("heatmap cache write failed", exc_info=True)
    else:
        with _local_lock:
            _local_cache[key] = html
            while len(_local_cache) > _LOCAL_CACHE_SIZE:
                _local_cache.popitem(last=False)
    return Markup(html)  # noqa: S704
