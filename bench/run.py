"""`make bench`: seed DATABASE_URL, serve Worklog and a bare Flask app with gunicorn, load both.

1. Creates the PostgreSQL database if it does not exist, runs the migrations.
2. Seeds bench accounts and entries (bench/seed.py; skipped when already there).
3. Starts gunicorn twice on free loopback ports, with gunicorn.conf.py: Worklog (wsgi:app,
   APP_ENV=production) and bench/hello.py.
4. Runs bench/load.py in its own process against both, prints the table, and writes it
   with the run's facts to bench-results/.
5. Stops both servers, whatever happened.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench-results"
sys.path.insert(0, str(ROOT / "bench"))
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/worklog_bench"
PY = sys.executable


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres:"))


def database_name(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://", 1)).get("dbname", ""))


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named in `url` if it is missing."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://", 1))
    name = params.get("dbname")
    if not name:
        raise SystemExit(f"bench: no database name in {url}")
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        say(f"creating database {name}")
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_facts(url: str) -> dict[str, object]:
    if not is_postgres(url):
        return {"database": "SQLite"}
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings "
            "WHERE name IN ('shared_buffers', 'work_mem', 'effective_cache_size', 'max_connections')"
        ).fetchall())
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM log_entries), "
            "(SELECT count(*) FROM log_entry_tags)"
        ).fetchone()
    return {"database": f"PostgreSQL {version}", "database_size": size, "pg_settings": settings,
            "users": counts[0], "log_entries": counts[1], "log_entry_tags": counts[2]}


def wait_for_quiet(limit: float, timeout: float) -> float:
    """Wait until other processes use at most `limit` cores; returns what they used last."""
    from load import machine_busy_seconds

    deadline = time.monotonic() + timeout
    while True:
        before = machine_busy_seconds()
        time.sleep(10)
        busy = (machine_busy_seconds() - before) / 10
        if busy <= limit:
            return busy
        if time.monotonic() > deadline:
            say(f"other processes still use {busy:.2f} cores; measuring anyway (see the 'other' column)")
            return busy
        say(f"other processes use {busy:.2f} cores; waiting for a quiet machine "
            f"(up to {deadline - time.monotonic():.0f}s more)")
        time.sleep(5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bench: the server for {url} exited with {process.returncode}; "
                             f"see {RESULTS}/*-server.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise SystemExit(f"bench: {url} did not come up within {timeout:.0f}s")


def start_gunicorn(name: str, app: str, port: int, env: dict[str, str], chdir: Path
                   ) -> subprocess.Popen[bytes]:
    log = open(RESULTS / f"{name}-server.log", "wb")  # noqa: SIM115 - closed with the process
    command = [PY, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
               "--bind", f"127.0.0.1:{port}", "--chdir", str(chdir), app]
    return subprocess.Popen(command, cwd=chdir, env=env, stdout=log,  # noqa: S603 - our own command
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)  # gunicorn's graceful stop, for the master and its workers
    try:
        process.wait(timeout=35)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def migrate_and_seed(root: Path, url: str, args: argparse.Namespace, seed_json: Path) -> None:
    """Migrate `url` and seed it with the bench data, using the code (and seed script) in `root`."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi.py"}
    if is_postgres(url):
        ensure_database(url)
    say(f"migrating {database_name(url) if is_postgres(url) else url}")
    subprocess.run([str(Path(PY).parent / "flask"), "db", "upgrade"],  # noqa: S603
                   cwd=root, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    say(f"seeding {args.users:,} users and {args.entries:,} entries (skipped if already there)")
    seed_cmd = [PY, str(root / "bench" / "seed.py"), "--users", str(args.users),
                "--entries", str(args.entries), "--json", str(seed_json)]
    if args.reset:
        seed_cmd.append("--reset")
    started = time.monotonic()
    subprocess.run(seed_cmd, cwd=root, env=env, check=True)  # noqa: S603
    say(f"seed step took {time.monotonic() - started:.1f}s")


def baseline_checkout(ref: str) -> Path:
    """A worktree of `ref` under bench-results/ (kept for the next run), with this checkout's
    front-end packages linked in: the code the bench compares against, in the same run."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT,  # noqa: S603,S607
                         check=True, capture_output=True, text=True).stdout.strip()
    where = RESULTS / f"baseline-{sha[:12]}"
    if not where.exists():
        say(f"checking out {ref} ({sha[:12]}) into {where.relative_to(ROOT)}")
        subprocess.run(["git", "worktree", "add", "--detach", str(where), sha], cwd=ROOT,  # noqa: S603,S607
                       check=True, stdout=subprocess.DEVNULL)
    vendor = where / "static" / "vendor"
    if not vendor.exists() and (ROOT / "static" / "vendor").exists():
        vendor.symlink_to(ROOT / "static" / "vendor")
    return where


def baseline_url(url: str) -> str:
    """The baseline's own database: the bench database's name with `_baseline` added."""
    if not is_postgres(url):
        raise SystemExit("bench: --baseline needs PostgreSQL (each version migrates its own database)")
    name = database_name(url)
    return url.replace(f"/{name}", f"/{name}_baseline", 1)


def run(args: argparse.Namespace) -> int:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    RESULTS.mkdir(exist_ok=True)
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi.py"}
    seed_json = RESULTS / f"seed-{'postgresql' if is_postgres(url) else 'sqlite'}.json"
    migrate_and_seed(ROOT, url, args, seed_json)
    seed = json.loads(seed_json.read_text()) if seed_json.exists() else {}
    baseline_dir, baseline_db = None, None
    if args.baseline:
        baseline_dir, baseline_db = baseline_checkout(args.baseline), baseline_url(url)
        migrate_and_seed(baseline_dir, baseline_db, args, RESULTS / "seed-baseline.json")

    app_port, hello_port = free_port(), free_port()
    server_env = {
        **env,
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        # Production needs its canonical address and answers only for that host.
        "BASE_URL": f"http://127.0.0.1:{app_port}",
        # load.py signs in a handful of accounts from one IP within seconds.
        "LOGIN_RATE_LIMIT": "1000/minute",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        "GUNICORN_DRAIN_SECONDS": "0",  # no balancer to drain from: stop at once
    }
    servers = []
    try:
        servers.append(start_gunicorn("app", "wsgi:app", app_port, server_env, ROOT))
        servers.append(start_gunicorn("hello", "hello:app", hello_port, server_env, ROOT / "bench"))
        wait_until_up(f"http://127.0.0.1:{app_port}/health", servers[0])
        wait_until_up(f"http://127.0.0.1:{hello_port}/", servers[1])
        extra: list[str] = []
        if baseline_dir is not None and baseline_db is not None:
            old_port = free_port()
            old_env = {**server_env, "DATABASE_URL": baseline_db, "BASE_URL": f"http://127.0.0.1:{old_port}"}
            servers.append(start_gunicorn("baseline", "wsgi:app", old_port, old_env, baseline_dir))
            wait_until_up(f"http://127.0.0.1:{old_port}/health", servers[-1])
            extra = ["--baseline", f"http://127.0.0.1:{old_port}", "--baseline-database",
                     database_name(baseline_db), "--server-pid", f"baseline={servers[-1].pid}"]
        if Path("/proc/stat").exists():
            wait_for_quiet(args.quiet_cores, args.quiet_wait)
        say(f"Worklog on 127.0.0.1:{app_port}, hello on 127.0.0.1:{hello_port}; loading")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        load_json = RESULTS / f"load-{stamp}.json"
        load_cmd = [PY, str(ROOT / "bench" / "load.py"),
                    "--app", f"http://127.0.0.1:{app_port}", "--hello", f"http://127.0.0.1:{hello_port}",
                    "--connections", str(args.connections), "--accounts", str(args.accounts),
                    "--warmup", str(args.warmup), "--duration", str(args.duration),
                    "--json", str(load_json),
                    "--server-pid", f"app={servers[0].pid}", "--server-pid", f"hello={servers[1].pid}",
                    *extra]
        if is_postgres(url):
            load_cmd += ["--database", database_name(url)]
        if args.only:
            load_cmd += ["--only", *args.only]
        load = subprocess.run(load_cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)  # noqa: S603
    finally:
        for process in servers:
            stop(process)
    print(load.stdout, end="")
    restarts = {name: (RESULTS / f"{name}-server.log").read_text(errors="replace")
                .count("Autorestarting worker") for name in ("app", "hello", "baseline")
                if (RESULTS / f"{name}-server.log").exists()}
    args.restarts = restarts
    say(f"gunicorn workers recycled by max_requests during the run: {restarts}")
    report = write_report(stamp, url, seed, load.stdout, args)
    say(f"written {report.relative_to(ROOT)} and {load_json.relative_to(ROOT)}")
    return load.returncode


def write_report(stamp: str, url: str, seed: dict[str, object], table: str,
                 args: argparse.Namespace) -> Path:
    facts = database_facts(url)
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    cores = os.cpu_count()
    workers = os.environ.get("WEB_CONCURRENCY", str(min((cores or 1) * 2 + 1, 8)))
    threads = os.environ.get("GUNICORN_THREADS", "8")
    lines = [
        f"# Worklog bench, {stamp}",
        "",
        f"- machine: {cores} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        f"- database: {facts.get('database')}, {facts.get('database_size', '?')}; "
        f"{facts.get('users', '?'):,} users, {facts.get('log_entries', '?'):,} entries, "
        f"{facts.get('log_entry_tags', '?'):,} tags" if "users" in facts else f"- database: {facts}",
        f"- settings: {facts.get('pg_settings', {})}",
        f"- seed ({seed.get('users', '?')} users, {seed.get('entries', '?')} entries): "
        + (", ".join(f"{k} {v}" for k, v in seed.items() if k.endswith("_s")) or "not recorded"),
        f"- servers: gunicorn (gunicorn.conf.py) gthread, {workers} workers x {threads} threads each, "
        "for Worklog (APP_ENV=production) and for the hello app; workers recycled by max_requests "
        f"during the run: {getattr(args, 'restarts', '?')}",
        f"- load: bench/load.py, one process, {args.connections} keep-alive connections "
        f"({args.accounts} signed-in accounts), {args.warmup:.0f}s warm-up + {args.duration:.0f}s "
        "measured per scenario, on the same cores as the servers and the database",
        "",
        table.strip(),
        "",
    ]
    path = RESULTS / f"bench-{stamp}.md"
    path.write_text("\n".join(lines))
    shutil.copyfile(path, RESULTS / "latest.md")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("BENCH_USERS", 1000)))
    parser.add_argument("--entries", type=int, default=int(os.environ.get("BENCH_ENTRIES", 1_000_000)))
    parser.add_argument("--reset", action="store_true", help="seed again even if the data is there")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--only", nargs="*", help="scenario names (see bench/load.py)")
    parser.add_argument("--baseline", default=os.environ.get("BENCH_BASELINE"), metavar="GIT_REF",
                        help="also serve this earlier commit (its own worktree and database, "
                             "<database>_baseline) and load it in the same run: 'before:' rows")
    parser.add_argument("--quiet-cores", type=float, default=0.2,
                        help="before loading, wait until other processes use at most this many cores")
    parser.add_argument("--quiet-wait", type=float, default=600, help="seconds to wait for that at most")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
