"""Dates in a question ("last month", "in October", "지난주", "2026-W45"), as a range of work dates.

Everything is relative to `today` in the asker's timezone, so "this week" means the asker's
week. A question may name several periods; the range spans them all. What was read as a date
is cut out of the question, so "October" or "10월" is not also searched for as a word.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
}
_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    def span(self, other: DateRange) -> DateRange:
        return DateRange(min(self.start, other.start), max(self.end, other.end))


def _month(year: int, month: int) -> DateRange | None:
    if not (1 <= year <= 9999 and 1 <= month <= 12):  # "0000-01" is no date to search
        return None
    return DateRange(date(year, month, 1), date(year, month, monthrange(year, month)[1]))


def _week_of(day: date) -> DateRange:
    monday = day - timedelta(days=day.weekday())
    return DateRange(monday, monday + timedelta(days=6))


def _recent_month(month: int, today: date) -> DateRange | None:
    """A month named without a year: the latest one that has begun (October, asked in March: last year's)."""
    year = today.year if month <= today.month else today.year - 1
    return _month(year, month)


def _previous_month(today: date) -> DateRange | None:
    first = today.replace(day=1) - timedelta(days=1)
    return _month(first.year, first.month)


def _iso_week(year: int, week: int) -> DateRange | None:
    try:
        return DateRange(date.fromisocalendar(year, week, 1), date.fromisocalendar(year, week, 7))
    except ValueError:
        return None


def _day(text: str) -> DateRange | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return DateRange(day, day)


def _last_n(n: str, unit: str, today: date) -> DateRange | None:
    count = int(n)
    if not 0 < count <= 3660:
        return None
    days = count * (7 if unit.startswith(("week", "주")) else 30 if unit.startswith(("month", "개월", "달"))
                    else 1)
    return DateRange(today - timedelta(days=days - 1), today)


# (pattern, reader(match, today) -> DateRange | None). Longer, more specific patterns first;
# each match is removed from the text before the next pattern runs.
_B = r"(?<![\w-])"  # not inside a word or a longer date
_E = r"(?![\w-])"
_RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(_B + r"(\d{4})-W(\d{1,2})" + _E, re.I),
     lambda m, t: _iso_week(int(m[1]), int(m[2]))),
    (re.compile(_B + r"(\d{4}-\d{2}-\d{2})" + _E), lambda m, t: _day(m[1])),
    (re.compile(_B + r"(\d{4})-(\d{2})" + _E),
     lambda m, t: _month(int(m[1]), int(m[2])) if 1 <= int(m[2]) <= 12 else None),
    (re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월"),
     lambda m, t: _month(int(m[1]), int(m[2])) if 1 <= int(m[2]) <= 12 else None),
    (re.compile(r"(?<!\d)(\d{1,2})\s*월"),
     lambda m, t: _recent_month(int(m[1]), t) if 1 <= int(m[1]) <= 12 else None),
    (re.compile(r"\b(?:in\s+|during\s+)?(" + _MONTH_NAMES + r")\.?\s+(\d{4})\b", re.I),
     lambda m, t: _month(int(m[2]), MONTHS[m[1].lower()])),
    (re.compile(r"\b(?:in\s+|during\s+)?(" + _MONTH_NAMES + r")\b", re.I), lambda m, t: (
        # "may" alone is far more often the verb than the month
        None if m[1].lower() == "may" and m[0].lower() == "may" else
        _recent_month(MONTHS[m[1].lower()], t))),
    (re.compile(r"\b(?:the\s+)?(?:last|past)\s+(\d{1,4})\s+(days?|weeks?|months?)\b", re.I),
     lambda m, t: _last_n(m[1], m[2].lower(), t)),
    (re.compile(r"(?:최근|지난)\s*(\d{1,4})\s*(일|주|개월|달)"),
     lambda m, t: _last_n(m[1], m[2], t)),
    (re.compile(r"\b(?:this|current)\s+week\b|이번\s*주|금주", re.I), lambda m, t: _week_of(t)),
    (re.compile(r"\b(?:last|previous|past)\s+week\b|지난\s*주|저번\s*주", re.I),
     lambda m, t: _week_of(t - timedelta(days=7))),
    (re.compile(r"\b(?:this|current)\s+month\b|이번\s*달", re.I),
     lambda m, t: _month(t.year, t.month)),
    (re.compile(r"\b(?:last|previous|past)\s+month\b|지난\s*달|저번\s*달", re.I),
     lambda m, t: _previous_month(t)),
    (re.compile(r"\bthis\s+year\b|올해|금년", re.I),
     lambda m, t: DateRange(date(t.year, 1, 1), date(t.year, 12, 31))),
    (re.compile(r"\blast\s+year\b|작년|지난\s*해", re.I),
     lambda m, t: DateRange(date(t.year - 1, 1, 1), date(t.year - 1, 12, 31))),
    (re.compile(r"\byesterday\b|어제", re.I), lambda m, t: _day((t - timedelta(days=1)).isoformat())),
    (re.compile(r"\btoday\b|오늘", re.I), lambda m, t: DateRange(t, t)),
]


def parse_dates(question: str, today: date) -> tuple[DateRange | None, str]:
    """The period `question` asks about (None: any time), and the question without it."""
    found: DateRange | None = None
    text = question
    for pattern, read in _RULES:
        def take(match: re.Match[str], read: object = read) -> str:
            nonlocal found
            period = read(match, today)  # type: ignore[operator]
            if period is None:
                return match.group(0)
            found = period if found is None else found.span(period)
            return " "
        text = pattern.sub(take, text)
    return found, text
