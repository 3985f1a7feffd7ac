"""Every SQL query behind the benchmarked pages, with EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL.

Signs in a bench account with Flask's test client, requests each page once to warm up and
once with a cursor hook that records its queries, then explains each recorded SELECT
with the same parameters. Shows how many queries a page costs and where the time goes.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/worklog_bench python bench/explain.py
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from accounts import BENCH_PASSWORD, bench_email  # noqa: E402
from load import SCENARIOS  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402


def profile_request(client: Any, path: str, repeat: int = 20) -> None:
    """Where a page's time goes: cProfile over `repeat` requests, top functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.get(path)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    print(f"\n--- profile of {repeat} requests\n" + out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--account", type=int, default=1, help="bench account number")
    parser.add_argument("--profile", action="store_true", help="also profile each page (cProfile)")
    parser.add_argument("--no-analyze", action="store_true", help="plans only, without running them")
    args = parser.parse_args(argv)
    app = create_app({"WTF_CSRF_ENABLED": False, "LOGIN_RATE_LIMIT": "1000/minute"})
    client = app.test_client()
    answer = client.post("/auth/login", data={"email": bench_email(args.account), "password": BENCH_PASSWORD})
    if answer.status_code not in (302, 303):
        raise SystemExit(f"signing in answered {answer.status_code}; seed the bench data first")
    with app.app_context():
        engine = db.engine
    # Requests run outside that app context, each in its own, as under gunicorn (a shared
    # context would keep Flask-Login's user in `g` and hide the session lookup).
    postgres = engine.dialect.name == "postgresql"
    for scenario in (s for s in SCENARIOS if s.signed_in):
        client.get(scenario.path)  # warm caches
        recorded: list[tuple[str, Any]] = []

        def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                   _many: bool, into: list[tuple[str, Any]] = recorded) -> None:
            into.append((statement, parameters))

        sa.event.listen(engine, "before_cursor_execute", record)
        started = time.perf_counter()
        response = client.get(scenario.path)
        elapsed = (time.perf_counter() - started) * 1000
        sa.event.remove(engine, "before_cursor_execute", record)
        print(f"\n=== {scenario.name}: GET {scenario.path} -> {response.status_code}, "
              f"{len(recorded)} queries, {elapsed:.1f} ms in the test client")
        if args.profile:
            profile_request(client, scenario.path)
        for i, (statement, parameters) in enumerate(recorded, 1):
            print(f"\n--- query {i}\n{statement.strip()}\n    params: {parameters}")
            if not postgres or not statement.lstrip().upper().startswith("SELECT"):
                continue
            options = "(ANALYZE, BUFFERS)" if not args.no_analyze else ""
            with engine.connect() as conn:
                plan = conn.exec_driver_sql(f"EXPLAIN {options} {statement}", parameters).all()
            print("\n".join("    " + row[0] for row in plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
