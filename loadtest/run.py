"""Run a load-test scenario and judge it against the operations thresholds.

    python loadtest/run.py --scenario quick --host https://worklog.example.com   # an existing server
    python loadtest/run.py --scenario quick --serve                              # a local gunicorn

Scenarios (seed 000 §3.4): quick 30 s, standard 60 s, stress 5 min. Thresholds (§3.5):
p95 latency < 500 ms and error rate < 1 %. Exits 1 when a threshold is missed.
Against an existing server, set LOADTEST_USERS=email:password[,...] and make sure its
LOGIN_RATE_LIMIT lets that many sign-ins through from this machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
P95_LIMIT_MS = 500.0
ERROR_RATE_LIMIT = 0.01


@dataclass(frozen=True)
class Scenario:
    users: int
    spawn_rate: float
    run_time: str


SCENARIOS = {
    "quick": Scenario(users=10, spawn_rate=2, run_time="30s"),
    "standard": Scenario(users=30, spawn_rate=3, run_time="60s"),
    "stress": Scenario(users=100, spawn_rate=5, run_time="5m"),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout  # noqa: S603


def serve_locally(workdir: Path) -> tuple[subprocess.Popen, str, str]:
    """A gunicorn on a free port over a seeded scratch database; returns (process, url, accounts)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR",)}
    env.update({
        "APP_ENV": "development", "FLASK_APP": "wsgi.py", "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": os.environ.get("LOADTEST_DATABASE_URL") or f"sqlite:///{workdir / 'loadtest.db'}",
        "WORKLOG_INSTANCE_PATH": str(workdir), "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
        "LOGIN_RATE_LIMIT": "100000/minute", "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": os.environ.get("WEB_CONCURRENCY", "2"),
        "GUNICORN_DRAIN_SECONDS": "0",  # no balancer to drain from: stop at once
    })
    _run([str(BIN / "flask"), "db", "upgrade"], env)
    seeded = _run([str(BIN / "flask"), "demo", "seed"], env)
    logins = re.findall(r"^\s+\w+\s+(\S+@\S+)\s+(\S+)\s*$", seeded, re.M)
    if not logins:
        raise SystemExit("The scratch database was already seeded; use an empty LOADTEST_DATABASE_URL.")
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],  # noqa: S603
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):  # noqa: S310 - loopback
                break
        except OSError:
            if proc.poll() is not None:
                raise SystemExit((workdir / "gunicorn.log").read_text()) from None
            time.sleep(0.2)
    return proc, url, ",".join(f"{email}:{password}" for email, password in logins)


def read_stats(prefix: Path) -> tuple[list[dict[str, str]], dict[str, str]]:
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    return [r for r in rows if r["Name"] != "Aggregated"], total


def report(scenario: str, host: str, rows: list[dict[str, str]], total: dict[str, str]) -> tuple[str, bool]:
    requests = int(total["Request Count"])
    failures = int(total["Failure Count"])
    p95 = float(total["95%"] or 0)
    error_rate = failures / requests if requests else 1.0
    rps = float(total["Requests/s"] or 0)
    ok_p95, ok_errors = p95 < P95_LIMIT_MS, error_rate < ERROR_RATE_LIMIT and requests > 0
    lines = [
        f"Load test '{scenario}' against {host}",
        f"  requests {requests}, failures {failures}, {rps:.1f} req/s",
        f"  p95 latency   {p95:7.0f} ms   (threshold < {P95_LIMIT_MS:.0f} ms)   "
        f"{'PASS' if ok_p95 else 'FAIL'}",
        f"  error rate    {error_rate * 100:7.2f} %    (threshold < {ERROR_RATE_LIMIT * 100:.0f} %)      "
        f"{'PASS' if ok_errors else 'FAIL'}",
        "  per endpoint (requests, failures, p50 / p95 / max ms):",
    ]
    for row in sorted(rows, key=lambda r: -int(r["Request Count"])):
        lines.append(f"    {row['Type']:<5} {row['Name']:<24} {row['Request Count']:>6} "
                     f"{row['Failure Count']:>4}   {row['50%']:>5} / {row['95%']:>5} / "
                     f"{float(row['Max Response Time']):>6.0f}")
    return "\n".join(lines), ok_p95 and ok_errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="quick")
    parser.add_argument("--host", help="Base URL of the server to load (default: --serve)")
    parser.add_argument("--serve", action="store_true", help="Start a local gunicorn over a scratch database")
    parser.add_argument("--users", type=int, help="Override the scenario's number of users")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results" / "loadtest")
    args = parser.parse_args()
    if not shutil.which("locust", path=str(BIN)):
        raise SystemExit("locust is not installed: pip install -e '.[loadtest]' (make loadtest does it)")
    scenario = SCENARIOS[args.scenario]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    prefix = args.out / f"{args.scenario}-{stamp}"
    env = dict(os.environ)
    server = None
    with tempfile.TemporaryDirectory(prefix="worklog-loadtest-") as tmp:
        try:
            host = args.host
            if not host:
                print("Starting a local gunicorn over a scratch database ...", file=sys.stderr)
                server, host, env["LOADTEST_USERS"] = serve_locally(Path(tmp))
            result = subprocess.run([  # noqa: S603
                str(BIN / "locust"), "-f", str(ROOT / "loadtest" / "locustfile.py"), "--headless",
                "--host", host, "--users", str(args.users or scenario.users),
                "--spawn-rate", str(scenario.spawn_rate), "--run-time", scenario.run_time,
                "--csv", str(prefix), "--only-summary", "--reset-stats", "--loglevel", "WARNING",
                "--exit-code-on-error", "0",
            ], cwd=ROOT, env=env, check=False)
            if result.returncode != 0:
                print(f"locust exited with {result.returncode}", file=sys.stderr)
                return result.returncode
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                server.wait(timeout=30)
    rows, total = read_stats(prefix)
    text, passed = report(args.scenario, host, rows, total)
    print("\n" + text)
    Path(f"{prefix}_report.txt").write_text(text + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
