"""The list and the export run a number of SQL statements that does not grow with the log."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.log.export import BATCH
from app.models.base import utcnow
from app.models.log import LogEntry, LogEntryTag
from tests.conftest import Actors, AuthActions, Client
from tests.log_support import count_statements, make_entries, row_ids

LIST = {"HX-Request": "true", "HX-Target": "entry-list"}
VIEWS = [
    ("/log", {}),
    ("/log", LIST),
    ("/log?page=2", {}),
    ("/log?category=Backend&impact=Medium&tag=python&from=2025-01-01&to=2026-12-31", {}),
    ("/log?q=entry", {}),
    ("/log?q=en", LIST),  # below a trigram: the LIKE path
    ("/log?q=entry 0&tag=tag0&impact=Medium", LIST),
]


def statements_for(client: Client, app, url: str, headers: dict) -> int:
    client.get(url, headers=headers)  # warm up: first-request work is not per-data work
    with count_statements(app) as counter:
        response = client.get(url, headers=headers)
        body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert row_ids(body), f"{url} listed nothing: the count would prove little"
    return counter.count


@pytest.fixture
def member(client: Client, auth: AuthActions, actors: Actors) -> Actors:
    auth.login_as(actors.member)
    return actors


@pytest.mark.parametrize(("url", "headers"), VIEWS, ids=[f"{u} {bool(h)}" for u, h in VIEWS])
def test_it_lists_with_a_constant_number_of_statements(app, client: Client, member: Actors,
                                                       url: str, headers: dict) -> None:
    make_entries(app, member.member, 31)  # enough for page 2
    small = statements_for(client, app, url, headers)
    make_entries(app, member.member, 60, start=date(2025, 6, 1))
    large = statements_for(client, app, url, headers)
    assert large == small


def bulk_entries(app, owner_id: int, count: int) -> None:
    """Many entries quickly, with tags, written the way the service would."""
    with app.app_context():
        start, now = date(2026, 11, 20), utcnow()
        rows = [{"user_id": owner_id, "work_date": start - timedelta(days=i % 700),
                 "title": f"Bulk entry {i}", "situation": "", "task": "", "action": "",
                 "result": "", "category": "Backend", "impact": "Medium",
                 "search_text": f"bulk entry {i}\n\n\n\n\nbackend\npython",
                 "version": 1, "created_at": now, "updated_at": now}
                for i in range(count)]
        db.session.execute(sa.insert(LogEntry), rows)
        ids = db.session.scalars(sa.select(LogEntry.id).where(LogEntry.title.like("Bulk %"))).all()
        db.session.execute(sa.insert(LogEntryTag),
                           [{"entry_id": i, "tag": "python", "position": 0} for i in ids])
        db.session.commit()


def export_statements(client: Client, app, url: str) -> tuple[int, int]:
    with count_statements(app) as counter:
        response = client.get(url)
        body = response.get_data()  # consume the stream: its queries run now
    assert response.status_code == 200
    return counter.count, len(body)


@pytest.mark.parametrize("fmt", ["md", "csv", "json"])
def test_it_exports_in_batches_not_per_entry(app, client: Client, member: Actors,
                                             fmt: str) -> None:
    url = f"/log/export?format={fmt}&tag=python"
    make_entries(app, member.member, 3)
    client.get(url).get_data()  # warm up
    small, _size = export_statements(client, app, url)
    make_entries(app, member.member, 57, start=date(2025, 6, 1))
    sixty, _size = export_statements(client, app, url)
    assert sixty == small  # one batch either way
    # Past one batch, each further batch of BATCH entries costs one tag query, not BATCH.
    bulk_entries(app, member.member.id, 2 * BATCH + 40)
    many, size = export_statements(client, app, url)
    assert size > 100_000
    assert many <= small + 2
