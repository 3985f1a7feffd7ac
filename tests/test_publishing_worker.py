"""Publishing with real `flask jobs worker` processes on PostgreSQL: a worker killed in the
middle of a publish leaves one page, and a burst of 50 approvals shared by two workers never
goes over Notion's 3 requests/s as the stand-in sees it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from app import create_app
from app.extensions import db
from app.models import Publication, Role, Team, User, WeeklyReview
from app.services.publishing import queue_publications
from tests import fake_notion
from tests.conftest import (
    _base_config,
    password_hash,
)
from tests.fake_notion import FakeNotion
from tests.jobs_support import scratch_database, start_worker, wait_for


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with scratch_database(tmp_path_factory, "the publishing worker tests") as url:
        yield url


@pytest.fixture
def notion() -> Iterator[FakeNotion]:
    fake = FakeNotion(rate=3).start()
    yield fake
    fake.stall_after_create = 0
    fake.stop()


def _env(notion: FakeNotion) -> dict[str, str]:
    return {"NOTION_BASE_URL": notion.url, "NOTION_API_KEY": fake_notion.TOKEN,
            "NOTION_DATABASE_ID": fake_notion.DATABASE, "BASE_URL": "http://worklog.test",
            "JOBS_STALLED_SECONDS": "2"}


@pytest.fixture
def web(scratch: str, notion: FakeNotion, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({**_base_config(scratch, tmp_path), **_env(notion)})
    with app.app_context():
        db.session.execute(sa.text(
            "TRUNCATE procrastinate_jobs, procrastinate_workers, procrastinate_periodic_defers, "
            "procrastinate_events, publications, publish_rate, weekly_reviews, users, teams "
            "RESTART IDENTITY CASCADE"))
        team = Team(name="Platform")
        db.session.add(team)
        for n in range(50):
            user = User(email=f"m{n}@example.com", display_name=f"Member {n}",
                        password_hash=password_hash(), role=Role.MEMBER.value, team=team)
            db.session.add(user)
            db.session.flush()
            db.session.add(WeeklyReview(user_id=user.id, week="2026-W47", body=f"Shipped {n}.",
                                        version=1, status="approved"))
        db.session.commit()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def workers(tmp_path: Path, scratch: str, notion: FakeNotion) -> Iterator:
    started: list = []

    def start(name: str, *args: str):
        worker = start_worker(tmp_path, scratch, name=name, env=_env(notion), args=args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.proc.poll() is None:
            worker.kill()


def queue(app: Flask, ids: list[int]) -> None:
    with app.app_context():
        for review_id in ids:
            queue_publications(db.session.get(WeeklyReview, review_id), ["notion"])
        db.session.commit()


def states(app: Flask) -> list[str]:
    with app.app_context():
        found = list(db.session.scalars(sa.select(Publication.state).order_by(Publication.id)))
        db.session.remove()
        return found


def test_a_worker_killed_mid_publish_leaves_one_page(web, notion, workers):
    notion.stall_after_create = 60  # the page exists; the answer never comes in time
    queue(web, [1])
    first = workers("first")
    wait_for(lambda: len(notion.pages) == 1, what="the page to be created")
    first.kill()
    assert states(web) == ["creating"]
    notion.stall_after_create = 0
    second = workers("second")
    with web.app_context():
        from app.jobs.admin import recover_stalled_jobs

        wait_for(lambda: recover_stalled_jobs(2.0) >= 0 and states(web) == ["published"],
                 what="the publish to be recovered")
    assert len(notion.live_pages()) == 1
    with web.app_context():
        row = db.session.scalar(sa.select(Publication))
        assert row.external_id == next(iter(notion.pages))
    assert second.terminate() == 0


def test_a_burst_of_50_approvals_stays_within_3_requests_per_second(web, notion, workers):
    queue(web, list(range(1, 51)))
    workers("a", "--concurrency", "2")
    workers("b", "--concurrency", "2")
    wait_for(lambda: states(web).count("published") == 50, timeout=240,
             what="50 reviews to be published")
    assert len(notion.live_pages()) == 50
    assert notion.over_limit == 0
    assert notion.max_in_any_second() <= 3
    titles = sorted(p["properties"]["Name"]["title"][0]["text"]["content"]
                    for p in notion.live_pages())
    assert len(set(titles)) == 50
