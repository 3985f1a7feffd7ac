"""Helpers for the operations tests: real gunicorn servers, metric scraping, free ports."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "ops-test-secret-key-that-is-long-enough-0123456789"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound and released)."""
    return free_port()


@dataclass
class Gunicorn:
    proc: subprocess.Popen
    port: int
    metrics_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> set[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True, check=False).stdout
        return {int(p) for p in out.split()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# How long a server may take to come up. Generous on purpose: on a loaded 2-core machine
# (both xdist workers starting servers) a boot can take many seconds; a test waits on
# readiness, never on speed, and a failure says what it was still waiting for.
STARTUP_SECONDS = float(os.environ.get("WORKLOG_TEST_STARTUP_SECONDS", "120"))


def start_gunicorn(tmp: Path, database_url: str, *, workers: int = 2, extra_env: dict | None = None,
                   name: str = "gunicorn") -> Gunicorn:
    for _attempt in range(3):
        server = _spawn_gunicorn(tmp, database_url, workers=workers, extra_env=extra_env, name=name)
        try:
            return _wait_ready(server, workers)
        except _PortTaken:
            continue  # another test took the free port between our check and gunicorn's bind
    raise RuntimeError(f"gunicorn found its port taken three times:\n{server.log()}")


class _PortTaken(Exception):
    pass


def _spawn_gunicorn(tmp: Path, database_url: str, *, workers: int, extra_env: dict | None,
                    name: str) -> Gunicorn:
    port = free_port()
    metrics_dir = tmp / f"{name}-metrics"
    instance = tmp / f"{name}-instance"
    instance.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({
        "APP_ENV": "development",
        "SECRET_KEY": SECRET,
        "DATABASE_URL": database_url,
        "WORKLOG_INSTANCE_PATH": str(instance),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": "4",
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "json",
        # Tests stop their servers with SIGTERM; the drain (gunicorn.conf.py) is for balancers.
        "GUNICORN_DRAIN_SECONDS": "0",
    })
    env.update(extra_env or {})
    log_path = tmp / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    return Gunicorn(proc, port, metrics_dir, log_path, env)


def _wait_ready(server: Gunicorn, workers: int) -> Gunicorn:
    """Wait until /health answers 200 and every worker has started."""
    deadline = time.monotonic() + STARTUP_SECONDS
    status: object = "no answer yet"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            log = server.log()
            if "Address already in use" in log:
                raise _PortTaken
            raise RuntimeError(f"gunicorn exited with {server.proc.returncode}:\n{log}")
        try:
            status = get(f"{server.url}/health", timeout=5)[0]
        except OSError as exc:
            status = exc
        if status == 200 and len(server.worker_pids()) >= workers:
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(
        f"gunicorn was not ready after {STARTUP_SECONDS:.0f} s: waited for /health to answer 200 "
        f"(last: {status!r}) and {workers} workers (had {len(server.worker_pids())}):\n{server.log()}"
    )


def get(url: str, headers: dict | None = None, timeout: float = 10) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from Prometheus text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(parsed: dict, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(
        v for (n, lbls), v in parsed.items()
        if n == name and all(dict(lbls).get(k) == want for k, want in labels.items())
    )


def family_types(text: str) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(text)}
