"""Bulk-seed bench users and work-log entries into DATABASE_URL, fast.

PostgreSQL: one transaction that drops the secondary indexes of log_entries and
log_entry_tags, loads rows with COPY (psycopg 3), rebuilds the indexes in bulk, then
VACUUM ANALYZE. SQLite: executemany through SQLAlchemy Core (the FTS5 triggers index
as rows arrive).

Only bench accounts (benchNNNN@bench.example) are touched. Running it again with the
same sizes does nothing; other sizes, or --reset, delete the bench accounts (and with
them their entries) and seed again.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/worklog_bench \
        python bench/seed.py --users 1000 --entries 1000000
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from accounts import BENCH_PASSWORD, EMAIL_LIKE, bench_email  # noqa: E402

import app.services.markdown  # noqa: E402
from app.models.log import STAR_PARTS, LogEntry  # noqa: E402
from app.security.passwords import hash_password  # noqa: E402
from app.services.ops.demo_data import _TEMPLATES  # noqa: E402

# Entries are made from a few templates: the stored excerpt is computed once per distinct text.
_excerpt = app.services.markdown.plain_excerpt
app.services.markdown.plain_excerpt = functools.lru_cache(maxsize=100_000)(_excerpt)

TEAM_SIZE = 20
HISTORY_DAYS = 3 * 365
TRASHED_SHARE = 0.01

# Variation so a million rows are not twelve strings repeated. None of these contain 결제,
# so `q=결제` matches exactly the entries made from the payment template (about 1 in 12).
AREAS_KO = ["주문 서비스", "정산 배치", "회원 API", "검색", "알림 센터", "관리자 화면", "물류 연동", "쿠폰"]
AREAS_EN = ["orders service", "billing batch", "search API", "notifications", "admin console",
            "mobile app", "data pipeline", "partner portal"]
NOTES_KO = ["리뷰어 두 명의 승인을 받았다.", "다음 스프린트에 후속 작업을 잡았다.",
            "팀 위키에 정리해 두었다.", "모니터링 대시보드를 함께 업데이트했다."]
NOTES_EN = ["Two reviewers approved it.", "Follow-up work is planned for next sprint.",
            "Wrote it up on the team wiki.", "Updated the monitoring dashboard as well."]
TICKET_PREFIXES = ["PAY", "OPS", "WEB", "API", "DATA"]
EXTRA_TAGS = ["Docker", "Terraform", "TypeScript", "Go", "Kafka", "Grafana", "Sentry", "Flask"]
IMPACTS = ("Low", "Medium", "High")

ENTRY_COLUMNS = ("id", "user_id", "work_date", "title", *STAR_PARTS, "category", "impact",
                 "search_text", "excerpt", "version", "created_at", "updated_at", "deleted_at")
TAG_COLUMNS = ("entry_id", "tag", "position")
SECONDARY_TABLES = ("log_entries", "log_entry_tags")


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.started, self.shown = label, total, time.monotonic(), -1.0
        self.finished = False

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.finished or (done < self.total and now - self.shown < 0.5):
            return
        self.finished = done >= self.total
        self.shown = now
        share = done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        sys.stderr.write(f"\r  {self.label:<8} [{bar:<30}] {share:6.1%} {done:>11,}/{self.total:,}"
                         f"  {elapsed:6.1f}s  {rate:>9,.0f}/s")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def step(message: str) -> None:
    sys.stderr.write(f"  {message}\n")
    sys.stderr.flush()


# --- generating the data ------------------------------------------------------------


@dataclass
class Plan:
    users: int
    entries: int
    today: date
    seed: int = 20261123


def entry_counts(plan: Plan, rng: random.Random) -> tuple[list[date], list[list[int]]]:
    """Weekdays of the last HISTORY_DAYS and, per user, how many entries fall on each.

    Every user gets the same share (entries // users, the remainder to the first users),
    spread at random over weekdays, so a user's rows are interleaved with everyone else's
    on disk as they would be after years of use.
    """
    start = plan.today - timedelta(days=HISTORY_DAYS - 1)
    days = [start + timedelta(days=i) for i in range(HISTORY_DAYS)]
    days = [d for d in days if d.weekday() < 5]
    base, extra = divmod(plan.entries, plan.users)
    counts = [[0] * plan.users for _ in days]
    for user in range(plan.users):
        for _ in range(base + (1 if user < extra else 0)):
            counts[rng.randrange(len(days))][user] += 1
    return days, counts


def entry_rows(plan: Plan, user_ids: list[int], first_id: int
               ) -> Iterator[tuple[tuple[Any, ...], list[tuple[int, str, int]]]]:
    """(log_entries row, its log_entry_tags rows), oldest day first."""
    rng = random.Random(plan.seed)
    days, counts = entry_counts(plan, rng)
    entry_id = first_id
    for day, per_user in zip(days, counts, strict=True):
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for user_index, n in enumerate(per_user):
            for _ in range(n):
                yield _entry(rng, entry_id, user_ids[user_index], day, midnight)
                entry_id += 1


def _entry(rng: random.Random, entry_id: int, user_id: int, day: date, midnight: datetime
           ) -> tuple[tuple[Any, ...], list[tuple[int, str, int]]]:
    title, situation, task, action, result, category, impact, tags = rng.choice(_TEMPLATES)
    korean = not title.isascii()
    if rng.random() < 0.6:
        title = f"{title} ({rng.choice(AREAS_KO if korean else AREAS_EN)})"
    if rng.random() < 0.5:
        action = f"{action} {rng.choice(NOTES_KO if korean else NOTES_EN)}"
    if rng.random() < 0.4:
        action = f"{action} {rng.choice(TICKET_PREFIXES)}-{rng.randrange(100, 9999)}"
    if rng.random() < 0.2:
        impact = rng.choice(IMPACTS)
    tags = list(tags)
    if rng.random() < 0.3:
        extra = rng.choice(EXTRA_TAGS)
        if extra not in tags:
            tags.append(extra)
    if rng.random() < 0.15:
        # Quick capture: a title and one free-text box.
        situation, task, result = "", "", ""
    fields = SimpleNamespace(title=title, situation=situation, task=task, action=action,
                             result=result, category=category, tags=tags)
    LogEntry.refresh_search_text(fields)  # the app's own rule, so search sees what it expects
    created = midnight + timedelta(hours=9, seconds=rng.randrange(10 * 3600))
    deleted = created + timedelta(days=1) if rng.random() < TRASHED_SHARE else None
    row = (entry_id, user_id, day, title, situation, task, action, result, category, impact,
           fields.search_text, fields.excerpt, 1, created, created, deleted)
    return row, [(entry_id, tag, i) for i, tag in enumerate(tags)]


def user_rows(plan: Plan, team_ids: list[int], password_hash: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for n in range(1, plan.users + 1):
        korean = n % 2 == 0
        rows.append({
            "email": bench_email(n),
            "display_name": f"벤치 사용자 {n:04d}" if korean else f"Bench User {n:04d}",
            "password_hash": password_hash,
            "role": "member",
            "team_id": team_ids[(n - 1) // TEAM_SIZE % len(team_ids)],
            "is_active": True,
            "timezone": "Asia/Seoul" if korean else "UTC",
            "locale": "ko" if korean else "en",
            "failed_login_count": 0,
            "password_changed_at": now,
            "created_at": now,
        })
    return rows


def team_names(plan: Plan) -> list[str]:
    return [f"Bench team {i:03d}" for i in range(1, max(1, -(-plan.users // TEAM_SIZE)) + 1)]


# --- PostgreSQL: COPY -----------------------------------------------------------------


def seed_postgres(url: str, plan: Plan, reset: bool) -> dict[str, Any]:
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=False) as conn:
        have = _postgres_counts(conn)
        if not reset and have == (plan.users, plan.entries):
            step(f"already seeded: {plan.users:,} bench users, {plan.entries:,} entries")
            return {"skipped": True}
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        if have != (0, 0):
            step(f"removing earlier bench data ({have[0]:,} users, {have[1]:,} entries)")
            conn.execute("DELETE FROM users WHERE email LIKE %s", (EMAIL_LIKE,))
        timings["reset_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        user_ids = _postgres_users(conn, plan)
        timings["users_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        indexes = _drop_secondary_indexes(conn)
        step(f"dropped {len(indexes)} secondary indexes for the load: {', '.join(n for n, _ in indexes)}")
        conn.execute("LOCK TABLE log_entries IN EXCLUSIVE MODE")
        first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM log_entries").fetchone()[0]
        tags: list[tuple[int, str, int]] = []
        progress = Progress("entries", plan.entries)
        done = 0
        with conn.cursor().copy(
            f"COPY log_entries ({', '.join(ENTRY_COLUMNS)}) FROM STDIN"  # noqa: S608 - constants
        ) as copy:
            for row, row_tags in entry_rows(plan, user_ids, first_id):
                copy.write_row(row)
                tags.extend(row_tags)
                done += 1
                if done % 10_000 == 0:
                    progress.update(done)
        progress.update(done)
        timings["copy_entries_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        progress = Progress("tags", len(tags))
        with conn.cursor().copy(f"COPY log_entry_tags ({', '.join(TAG_COLUMNS)}) FROM STDIN") as copy:
            for i, tag_row in enumerate(tags, 1):
                copy.write_row(tag_row)
                if i % 50_000 == 0:
                    progress.update(i)
        progress.update(len(tags))
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('log_entries', 'id'), "
            "(SELECT max(id) FROM log_entries))"
        )
        timings["copy_tags_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute("SET LOCAL max_parallel_maintenance_workers = 2")
        for name, definition in indexes:
            started = time.monotonic()
            conn.execute(definition)
            step(f"rebuilt {name} in {time.monotonic() - started:.1f}s")
        timings["indexes_s"] = time.monotonic() - t0
        t0 = time.monotonic()
        conn.commit()
        timings["commit_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        conn.autocommit = True
        step("VACUUM ANALYZE")
        conn.execute("VACUUM ANALYZE users, log_entries, log_entry_tags")
        timings["vacuum_analyze_s"] = time.monotonic() - t0
        return {"skipped": False, "tags": len(tags), **timings}


def _postgres_counts(conn: Any) -> tuple[int, int]:
    users = conn.execute("SELECT count(*) FROM users WHERE email LIKE %s", (EMAIL_LIKE,)).fetchone()[0]
    entries = conn.execute(
        "SELECT count(*) FROM log_entries e JOIN users u ON u.id = e.user_id WHERE u.email LIKE %s",
        (EMAIL_LIKE,),
    ).fetchone()[0]
    return users, entries


def _postgres_users(conn: Any, plan: Plan) -> list[int]:
    now = datetime.now(UTC)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO teams (name, created_at) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
            [(name, now) for name in team_names(plan)],
        )
        team_ids = [cur.execute("SELECT id FROM teams WHERE name = %s", (name,)).fetchone()[0]
                    for name in team_names(plan)]
        rows = user_rows(plan, team_ids, hash_password(BENCH_PASSWORD))
        columns = list(rows[0])
        with cur.copy(f"COPY users ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        ids = dict(cur.execute("SELECT email, id FROM users WHERE email LIKE %s", (EMAIL_LIKE,)).fetchall())
    step(f"created {len(rows):,} bench users in {len(team_ids)} teams")
    return [ids[bench_email(n)] for n in range(1, plan.users + 1)]


def _drop_secondary_indexes(conn: Any) -> list[tuple[str, str]]:
    """Drop the indexes that back no constraint; returns (name, CREATE statement) to rebuild.

    Maintaining a trigram GIN index row by row costs far more than building it once.
    """
    rows = conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        ORDER BY i.relname
        """,
        (list(SECONDARY_TABLES),),
    ).fetchall()
    for name, _definition in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [(name, definition) for name, definition in rows]


# --- SQLite: executemany ------------------------------------------------------------


def seed_sqlite(url: str, plan: Plan, reset: bool) -> dict[str, Any]:
    import sqlalchemy as sa

    from app.models import Team, User
    from app.models.log import LogEntryTag

    entries_t, tags_t = LogEntry.__table__, LogEntryTag.__table__
    users_t, teams_t = User.__table__, Team.__table__
    engine = sa.create_engine(url)
    timings: dict[str, float] = {}
    with engine.begin() as conn:
        bench_users = sa.select(users_t.c.id).where(users_t.c.email.like(EMAIL_LIKE))
        have = (
            conn.scalar(sa.select(sa.func.count()).select_from(bench_users.subquery())),
            conn.scalar(sa.select(sa.func.count()).where(entries_t.c.user_id.in_(bench_users))),
        )
        if not reset and have == (plan.users, plan.entries):
            step(f"already seeded: {plan.users:,} bench users, {plan.entries:,} entries")
            return {"skipped": True}
        t0 = time.monotonic()
        if have != (0, 0):
            step(f"removing earlier bench data ({have[0]:,} users, {have[1]:,} entries)")
            conn.execute(sa.delete(users_t).where(users_t.c.email.like(EMAIL_LIKE)))
        timings["reset_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        now = datetime.now(UTC)
        existing = set(conn.scalars(sa.select(teams_t.c.name)))
        new_teams = [{"name": n, "created_at": now} for n in team_names(plan) if n not in existing]
        if new_teams:
            conn.execute(sa.insert(teams_t), new_teams)
        team_ids = dict(conn.execute(sa.select(teams_t.c.name, teams_t.c.id)).all())
        conn.execute(sa.insert(users_t), user_rows(
            plan, [team_ids[n] for n in team_names(plan)], hash_password(BENCH_PASSWORD)))
        ids = dict(conn.execute(sa.select(users_t.c.email, users_t.c.id)
                                .where(users_t.c.email.like(EMAIL_LIKE))).all())
        user_ids = [ids[bench_email(n)] for n in range(1, plan.users + 1)]
        timings["users_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        first_id = (conn.scalar(sa.select(sa.func.max(entries_t.c.id))) or 0) + 1
        progress = Progress("entries", plan.entries)
        entry_batch: list[dict[str, Any]] = []
        tag_batch: list[dict[str, Any]] = []
        done = 0
        for row, row_tags in entry_rows(plan, user_ids, first_id):
            entry_batch.append(dict(zip(ENTRY_COLUMNS, row, strict=True)))
            tag_batch.extend(dict(zip(TAG_COLUMNS, t, strict=True)) for t in row_tags)
            done += 1
            if len(entry_batch) == 5_000:
                conn.execute(sa.insert(entries_t), entry_batch)
                conn.execute(sa.insert(tags_t), tag_batch)
                entry_batch, tag_batch = [], []
                progress.update(done)
        if entry_batch:
            conn.execute(sa.insert(entries_t), entry_batch)
            conn.execute(sa.insert(tags_t), tag_batch)
        progress.update(done)
        timings["insert_entries_s"] = time.monotonic() - t0
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return {"skipped": False, **timings}


# --- entry point --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="in total, over all users")
    parser.add_argument("--reset", action="store_true", help="delete the bench accounts and seed again")
    parser.add_argument("--json", type=Path, help="write the timings here (not when skipped)")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{ROOT / 'instance' / 'worklog.db'}"
    if args.users < 1 or args.entries < 0:
        parser.error("--users must be at least 1 and --entries not negative")
    plan = Plan(users=args.users, entries=args.entries, today=date.today())
    kind = "postgresql" if url.startswith(("postgresql", "postgres:")) else "sqlite"
    step(f"seeding {plan.users:,} users and {plan.entries:,} entries into {kind}")
    started = time.monotonic()
    seeder = seed_postgres if kind == "postgresql" else seed_sqlite
    result = seeder(url, plan, args.reset)
    result.update(database=kind, users=plan.users, entries=plan.entries,
                  total_s=round(time.monotonic() - started, 1))
    result = {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}
    if not result["skipped"]:
        step(f"seeded in {result['total_s']:.1f}s: " + ", ".join(
            f"{k}={v}" for k, v in result.items() if k.endswith("_s") and k != "total_s"))
    if args.json and not result["skipped"]:  # a skipped run keeps the last full seed's figures
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
