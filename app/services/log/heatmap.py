"""A year of activity as cells for a server-rendered SVG heatmap."""

from __future__ import annotations

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
            head, _sep, tail = text.partition("\x00")
            by_count[cell.count] = (head, tail)
        head, tail = by_count[cell.count]
        labels[cell.day] = head + dateformat(cell.day, "medium") + tail
    return labels


def render_heatmap(user: Any, today: date) -> str:
    from flask import render_template

    from app.services.log.query import activity_by_day, year_window

    start, end = year_window(today)
    heatmap = build_heatmap(activity_by_day(user.id, start, end), start, end, today)
    rows: list[list[Cell]] = [[] for _ in range(7)]
    for cell in heatmap.cells:
        if not cell.future:
            rows[cell.day.weekday()].append(cell)
    return render_template("log/_heatmap.html", heatmap=heatmap, rows=rows,
                           labels=cell_labels(heatmap), today=today)


def heatmap_html(user: Any, today: date) -> Markup:
    """The year heatmap's markup for `user`, built once per (user, day, data version, locale).

    The markup depends only on that key: the active cell (the list's date filter) is marked
    by the page's script, so one cached copy serves every filter.
    """
    from app.services.versioned_cache import cached_text, user_key

    html = cached_text(user_key("heatmap", user, today), lambda: render_heatmap(user, today))
    return Markup(html)  # noqa: S704 - our own rendering, stored as is
