"""LLM usage for the admin console, aggregated in SQL from the llm_calls ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import LLMCall, User

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_USERS = 50
# "cancelled" is the user stopping a stream, not a failure of the provider.
NOT_ERRORS = ("ok", "cancelled")

CHART_WIDTH = 720  # px the bars share; a day gets at least MIN_BAR
MIN_BAR = 3
CHART_HEIGHT = 120


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    @classmethod
    def from_args(cls, args: Any, today: date) -> Period:
        def parse(raw: str | None) -> date | None:
            try:
                return date.fromisoformat(raw) if raw else None
            except ValueError:
                return None

        end = parse(args.get("to")) or today
        start = parse(args.get("from")) or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        if (end - start).days >= MAX_DAYS:
            start = end - timedelta(days=MAX_DAYS - 1)
        return cls(start, end)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass
class Usage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0
    cache_hits: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0

    @property
    def cache_hit_rate(self) -> float:
        return self.cache_hits / self.calls if self.calls else 0.0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.errors += other.errors
        self.cache_hits += other.cache_hits


@dataclass(frozen=True)
class UserUsage:
    user_id: int | None
    email: str | None
    display_name: str | None
    usage: Usage


@dataclass
class UsageReport:
    period: Period
    total: Usage
    by_day: list[tuple[date, Usage]]
    by_user: list[UserUsage]
    by_purpose: list[tuple[str, Usage]]
    charts: dict[str, Chart] = field(default_factory=dict)


def _measures() -> list[Any]:
    return [
        sa.func.count(LLMCall.id),
        sa.func.coalesce(sa.func.sum(LLMCall.prompt_tokens), 0),
        sa.func.coalesce(sa.func.sum(LLMCall.completion_tokens), 0),
        sa.func.coalesce(sa.func.sum(sa.case((LLMCall.outcome.not_in(NOT_ERRORS), 1), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case((LLMCall.cache_hit, 1), else_=0)), 0),
    ]


def _usage(values: Any) -> Usage:
    return Usage(*(int(v or 0) for v in values))


def _day_expr(dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", LLMCall.created_at), sa.Date)
    return sa.func.date(LLMCall.created_at)  # SQLite keeps UTC text


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def usage_report(period: Period) -> UsageReport:
    """Three grouped statements (per day, per user, per purpose), whatever the volume."""
    window = (
        LLMCall.created_at >= datetime.combine(period.start, time(), UTC),
        LLMCall.created_at < datetime.combine(period.end + timedelta(days=1), time(), UTC),
    )
    day = _day_expr(db.session.get_bind().dialect.name).label("day")
    per_day = {
        _as_date(row[0]): _usage(row[1:])
        for row in db.session.execute(sa.select(day, *_measures()).where(*window).group_by(day))
    }
    by_day = [(d, per_day.get(d, Usage())) for d in period.days]
    total = Usage()
    for _d, usage in by_day:
        total.add(usage)

    measures = _measures()
    user_rows = db.session.execute(
        sa.select(LLMCall.user_id, User.email, User.display_name, *measures)
        .outerjoin(User, User.id == LLMCall.user_id)
        .where(*window)
        .group_by(LLMCall.user_id, User.email, User.display_name)
        .order_by((measures[1] + measures[2]).desc(), measures[0].desc(), LLMCall.user_id)
        .limit(TOP_USERS)
    ).all()
    by_user = [UserUsage(r[0], r[1], r[2], _usage(r[3:])) for r in user_rows]

    purpose_rows = db.session.execute(
        sa.select(LLMCall.purpose, *_measures()).where(*window)
        .group_by(LLMCall.purpose).order_by(LLMCall.purpose)
    ).all()
    by_purpose = [(r[0], _usage(r[1:])) for r in purpose_rows]

    report = UsageReport(period, total, by_day, by_user, by_purpose)
    report.charts = {
        "tokens": build_chart([(d, u.tokens) for d, u in by_day]),
        "calls": build_chart([(d, u.calls) for d, u in by_day]),
    }
    return report


# --- the chart ---------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    day: date
    value: int
    x: int
    y: float
    width: int
    height: float


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    ticks: list[Bar]  # bars that carry a date label under the axis
    maximum: int
    width: int
    height: int


def build_chart(points: list[tuple[date, int]]) -> Chart:
    maximum = max((v for _d, v in points), default=0)
    step_x = max(MIN_BAR, CHART_WIDTH // max(1, len(points)))
    bar_width = max(2, step_x * 3 // 4)
    bars = []
    for i, (day, value) in enumerate(points):
        height = (value / maximum * CHART_HEIGHT) if maximum else 0.0
        if value and height < 1:
            height = 1.0  # a day with any use stays visible
        bars.append(Bar(day, value, i * step_x, round(CHART_HEIGHT - height, 2), bar_width, round(height, 2)))
    every = max(1, len(bars) // 6)
    return Chart(bars, bars[::every], maximum, len(bars) * step_x, CHART_HEIGHT)
