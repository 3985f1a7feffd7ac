"""A year of activity as cells for a server-rendered SVG heatmap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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
