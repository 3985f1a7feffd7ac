"""/admin/usage: numbers computed in SQL from seeded llm_calls rows."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from flask import Flask

from app.extensions import db
from app.models import LLMCall
from app.models.base import utcnow
from app.services.admin.usage import Period, usage_report
from tests.conftest import Actors
from tests.log_support import count_statements
from tests.test_admin_access import signed_in


def call(when: datetime, user_id: int | None, purpose: str = "ask", prompt: int = 100, completion: int = 50,
         outcome: str = "ok", cache_hit: bool = False) -> LLMCall:
    return LLMCall(created_at=when, user_id=user_id, purpose=purpose, provider="openai", model="m",
                   prompt_tokens=prompt, completion_tokens=completion, outcome=outcome, cache_hit=cache_hit)


def seed(app: Flask, actors: Actors) -> None:
    day1 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    day2 = datetime(2026, 11, 3, 23, 59, 59, tzinfo=UTC)
    with app.app_context():
        db.session.add_all([
            call(day1, actors.member.id, "ask", 100, 50),
            call(day1, actors.member.id, "ask", 200, 100, cache_hit=True),
            call(day1 + timedelta(hours=5), actors.lead.id, "weekly_review", 1000, 500, outcome="timeout"),
            call(day2, actors.member.id, "weekly_review", 300, 0, outcome="cancelled"),
            call(day2, None, "weekly_review", 400, 200),
            # Outside the period on both sides.
            call(day1 - timedelta(seconds=1), actors.member.id, "ask", 9999, 9999),
            call(day2 + timedelta(seconds=1), actors.member.id, "ask", 9999, 9999),
        ])
        db.session.commit()


def test_it_counts_calls_tokens_errors_and_cache_hits(app: Flask, actors: Actors) -> None:
    seed(app, actors)
    with app.app_context():
        report = usage_report(Period(date(2026, 11, 2), date(2026, 11, 3)))
    assert report.total.calls == 5
    assert report.total.tokens == 150 + 300 + 1500 + 300 + 600
    assert report.total.errors == 1  # the timeout; a cancelled stream is not an error
    assert report.total.error_rate == 0.2
    assert report.total.cache_hit_rate == 0.2
    days = dict(report.by_day)
    assert (days[date(2026, 11, 2)].calls, days[date(2026, 11, 2)].tokens) == (3, 1950)
    assert (days[date(2026, 11, 3)].calls, days[date(2026, 11, 3)].tokens) == (2, 900)
    by_user = {row.email: row.usage for row in report.by_user}
    assert by_user["lead@example.com"].tokens == 1500 and by_user["lead@example.com"].errors == 1
    assert by_user["member@example.com"].calls == 3 and by_user["member@example.com"].tokens == 750
    assert by_user[None].tokens == 600
    assert [row.email for row in report.by_user] == ["lead@example.com", "member@example.com", None]
    purposes = dict(report.by_purpose)
    assert (purposes["ask"].calls, purposes["ask"].cache_hits) == (2, 1)
    assert (purposes["weekly_review"].calls, purposes["weekly_review"].tokens) == (3, 2400)


def test_the_page_shows_the_numbers_and_a_chart(app: Flask, actors: Actors) -> None:
    seed(app, actors)
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/usage?from=2026-11-02&to=2026-11-03").get_data(as_text=True)
    assert re.search(r'id="total-calls">5<', html)
    assert re.search(r'id="total-tokens">2850<', html)
    assert re.search(r'id="error-rate">20.0%<', html)
    assert re.search(r'id="cache-hit-rate">20.0%<', html)
    assert html.count('class="chart-bar"') == 4  # two days, two charts
    assert 'role="img" aria-labelledby="tokens-chart-caption"' in html
    assert "<title>Nov 2, 2026: 1950 tokens</title>" in html
    per_user = html.split('id="usage-per-user"', 1)[1].split("</table>", 1)[0]
    assert per_user.index("lead@example.com") < per_user.index("member@example.com")
    assert "No user" in per_user
    per_purpose = html.split('id="usage-per-purpose"', 1)[1].split("</table>", 1)[0]
    assert "<code>weekly_review</code></th><td>3</td><td>2400</td>" in per_purpose


def test_it_defaults_to_the_last_30_days(app: Flask, actors: Actors) -> None:
    now = utcnow()
    with app.app_context():
        db.session.add_all([call(now, actors.member.id), call(now - timedelta(days=29), actors.member.id),
                            call(now - timedelta(days=31), actors.member.id)])
        db.session.commit()
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/usage").get_data(as_text=True)
    assert re.search(r'id="total-calls">2<', html)
    assert html.count('class="chart-bar"') == 60
    assert f'value="{(now.date() - timedelta(days=29)).isoformat()}"' in html


def test_odd_periods_are_put_right(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    html = admin.get("/admin/usage?from=2026-11-10&to=2026-11-01").get_data(as_text=True)
    assert 'value="2026-11-01"' in html and 'value="2026-11-10"' in html
    html = admin.get("/admin/usage?from=2000-01-01&to=2026-11-01").get_data(as_text=True)
    assert html.count('class="chart-bar"') == 2 * 366
    assert admin.get("/admin/usage?from=nonsense&to=2026-02-30").status_code == 200


def test_usage_takes_the_same_number_of_queries_however_many_calls(app: Flask, actors: Actors) -> None:
    admin = signed_in(app, actors.admin)
    seed(app, actors)
    with count_statements(app) as few:
        admin.get("/admin/usage?from=2026-11-01&to=2026-11-30")
    with app.app_context():
        db.session.add_all([call(datetime(2026, 11, 1 + i % 28, tzinfo=UTC), actors.outsider.id, f"p{i % 7}")
                            for i in range(200)])
        db.session.commit()
    with count_statements(app) as many:
        admin.get("/admin/usage?from=2026-11-01&to=2026-11-30")
    assert many.count == few.count
