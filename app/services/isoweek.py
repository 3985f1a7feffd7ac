"""ISO weeks as the reviews name them: "2026-W47" (Monday to Sunday)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
MIN_YEAR, MAX_YEAR = 2, 9998


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """`text` as an ISO week; ValueError when it is not one (e.g. "2026-W54")."""
        match = _WEEK.match(text or "")
        if not match:
            raise ValueError(f"not an ISO week: {text!r}")
        year, week = int(match.group(1)), int(match.group(2))
        if not MIN_YEAR <= year <= MAX_YEAR:  # the pages link the weeks before and after
            raise ValueError(f"not an ISO week: {text!r}")
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise ValueError(f"not an ISO week: {text!r}") from exc
        return cls(year, week)

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)

    def shift(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.start + timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"
