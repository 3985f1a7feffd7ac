"""Parts for the fault-injection suite: a private PostgreSQL and Redis, HAProxy, bounded load.

Everything here is started by the suite on free loopback ports and faulted there; the shared
PostgreSQL and Redis other tests use are never touched.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from tests.ops_support import CSRF_META, free_port


def _postgres_bin() -> Path:
    """WORKLOG_FAULTS_PG_BIN, else Debian's newest /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("WORKLOG_FAULTS_PG_BIN"):
        return Path(os.environ["WORKLOG_FAULTS_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _postgres_bin()
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# The balancer's health check: /ready every 500 ms, down after 2 failures, up after 2 successes.
CHECK_INTER_MS = 500
CHECK_FALL = 2
CHECK_RISE = 2


def missing_tools() -> list[str]:
    tools = [PG_BIN / "initdb", PG_BIN / "postgres", Path(HAPROXY), Path(REDIS_SERVER)]
    return [str(t) for t in tools if not (t.exists() and os.access(t, os.X_OK))]


def _pids_under(root: int) -> list[int]:
    """root and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster (initdb into a temporary directory, trust auth).

    PostgreSQL refuses to run as root, so under root the cluster belongs to the `postgres`
    OS user (the server processes run as that user); otherwise to whoever runs the tests.
    """

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="worklog-faults-pg-"))
        self.data = self.dir / "data"
        self.sockets = self.dir / "sockets"
        self.sockets.mkdir()
        self.log_path = self.dir / "postgres.log"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            owner = pwd.getpwnam(self.user)
            for path in (self.dir, self.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.proc: subprocess.Popen | None = None
        self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                   "-E", "UTF8", "--locale=C", "--no-sync"])

    def _popen_args(self) -> dict:
        return {"user": self.user, "group": self.user, "extra_groups": []} if self.user else {}

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, check=False,  # noqa: S603
                              cwd=self.dir, **self._popen_args())
        if done.returncode:
            raise RuntimeError(f"{argv[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the server process
        self.proc = subprocess.Popen(  # noqa: S603
            [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.sockets), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, **self._popen_args(),
        )
        log.close()
        self.wait_accepting(60)

    def accepting(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                                 connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def wait_accepting(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log_path.read_text(errors='replace')}")
            if self.accepting():
                return
            time.sleep(0.05)
        log = self.log_path.read_text(errors="replace")
        raise RuntimeError(f"postgres did not accept connections:\n{log}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are cut, as in a restart or failover."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def freeze(self) -> list[int]:
        """SIGSTOP the postmaster and every backend: connections stay open, nothing answers."""
        assert self.proc is not None
        pids = _pids_under(self.proc.pid)
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        return pids

    @staticmethod
    def thaw(pids: list[int]) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.thaw(_pids_under(self.proc.pid))
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        import redis

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1).ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class HAProxy:
    """HAProxy in front of the instances, checking /ready like an operator's balancer would."""

    def __init__(self, directory: Path, backends: dict[str, int]) -> None:
        self.port = free_port()
        self.stats_port = free_port()
        self.config = directory / "haproxy.cfg"
        self.log_path = directory / "haproxy.log"
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in backends.items())
        self.config.write_text(f"""\
global
    maxconn 512

defaults
    mode http
    option httplog
    timeout connect 2s
    # /ready answers within 2 s even when the database hangs; without this a check gets only
    # `inter` (500 ms), and a busy instance would be marked down for being slow to answer.
    timeout check 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 60s
    retries 2
    option redispatch

frontend web
    bind 127.0.0.1:{self.port}
    default_backend app

frontend stats
    bind 127.0.0.1:{self.stats_port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats

backend app
    balance roundrobin
    option httpchk GET /ready
    http-check expect status 200
    default-server inter {CHECK_INTER_MS}ms fall {CHECK_FALL} rise {CHECK_RISE}
{servers}
""")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        check = subprocess.run([HAPROXY, "-c", "-f", str(self.config)], capture_output=True,  # noqa: S603
                               text=True, check=False)
        if check.returncode:
            raise RuntimeError(f"haproxy refused its configuration:\n{check.stdout}{check.stderr}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config)],  # noqa: S603
                                         stdout=log, stderr=subprocess.STDOUT)

    def server_states(self) -> dict[str, str]:
        """{server: UP/DOWN/...} from HAProxy's CSV statistics."""
        conn = http.client.HTTPConnection("127.0.0.1", self.stats_port, timeout=5)
        try:
            conn.request("GET", "/stats;csv")
            rows = conn.getresponse().read().decode().splitlines()
        finally:
            conn.close()
        header = rows[0].lstrip("# ").split(",")
        states = {}
        for row in rows[1:]:
            cells = dict(zip(header, row.split(","), strict=False))
            if cells.get("pxname") == "app" and cells.get("svname") not in ("FRONTEND", "BACKEND"):
                states[cells["svname"]] = cells.get("status", "")
        return states

    def wait_up(self, names: list[str], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited:\n{self.log_path.read_text()}")
            try:
                states = self.server_states()
            except OSError:  # not listening yet
                time.sleep(0.1)
                continue
            if all(states.get(n, "").startswith("UP") for n in names):
                return
            time.sleep(0.1)
        raise RuntimeError(f"haproxy does not see {names} up: {states}\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


# --- load --------------------------------------------------------------------------------


@dataclass
class Result:
    kind: str
    started: float
    status: int  # 0: no HTTP answer at all (connection refused, reset, timeout)
    body_has_traceback: bool = False
    detail: str = ""
    ended: float = field(default_factory=time.monotonic)


@dataclass
class Client:
    """One signed-in person: a session cookie for pages and an API token for writes."""

    email: str
    password: str
    token: str
    cookies: dict[str, str] = field(default_factory=dict)


class _Connection:
    """A keep-alive connection to the balancer, made again after any failure."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]
                ) -> tuple[int, dict[str, str], list[str], bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        cookies = response.headers.get_all("Set-Cookie") or []
        if response.will_close:
            self.close()
        return response.status, dict(response.headers), cookies, data

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def sign_in(port: int, client: Client) -> None:
    conn = _Connection(port, 30)
    try:
        status, _h, cookies, body = conn.request("GET", "/auth/login", None, {})
        _keep_cookies(client, cookies)
        token = CSRF_META.search(body.decode()).group(1)
        form = urllib.parse.urlencode({"email": client.email, "password": client.password,
                                       "csrf_token": token}).encode()
        status, _h, cookies, _b = conn.request(
            "POST", "/auth/login", form,
            {"Content-Type": "application/x-www-form-urlencoded", "Cookie": _cookie_header(client)},
        )
        _keep_cookies(client, cookies)
        if status not in (302, 303):
            raise RuntimeError(f"sign-in of {client.email} answered {status}")
    finally:
        conn.close()


def _keep_cookies(client: Client, headers: list[str]) -> None:
    for header in headers:
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            client.cookies[name] = morsel.value


def _cookie_header(client: Client) -> str:
    return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


class Load:
    """A few threads, each one person: read /log, write an entry through the API, list entries.

    Bounded: each thread waits `pause` seconds between requests. Every answer is recorded with
    its start time; every 201 is an acknowledged write whose id must be in the database later.
    """

    def __init__(self, port: int, clients: list[Client], *, pause: float = 0.05,
                 ask: bool = False, timeout: float = 30) -> None:
        self.port, self.clients, self.pause, self.ask, self.timeout = port, clients, pause, ask, timeout
        self.results: list[Result] = []
        self.acknowledged: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Load:
        for i, client in enumerate(self.clients):
            thread = threading.Thread(target=self._run, args=(client, i), daemon=True, name=f"load-{i}")
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout + 10)

    def _record(self, result: Result, entry_id: int | None = None) -> None:
        with self._lock:
            self.results.append(result)
            if entry_id is not None:
                self.acknowledged.append(entry_id)

    def _run(self, client: Client, index: int) -> None:
        conn = _Connection(self.port, self.timeout)
        n = 0
        try:
            while not self._stop.is_set():
                kind = ("ask" if self.ask and index == 0 else ("page", "write", "read")[n % 3])
                n += 1
                self._one(conn, client, kind, n)
                self._stop.wait(self.pause)
        finally:
            conn.close()

    def _one(self, conn: _Connection, client: Client, kind: str, n: int) -> None:
        started = time.monotonic()
        headers: dict[str, str] = {}
        body: bytes | None = None
        if kind == "page":
            method, path = "GET", "/log"
            headers["Cookie"] = _cookie_header(client)
        elif kind == "write":
            method, path = "POST", "/api/daily-logs"
            headers.update({"Authorization": f"Bearer {client.token}", "Content-Type": "application/json"})
            body = json.dumps({"title": f"fault load {uuid.uuid4().hex[:12]} 결제", "category": "테스트",
                               "impact_level": "Low", "context": "### Situation\nunder load"},
                              ensure_ascii=False).encode()
        elif kind == "ask":
            method, path = "POST", "/ask"
            headers.update({"Authorization": f"Bearer {client.token}"})
            return self._ask(conn, client, started)
        else:
            method, path = "GET", "/api/daily-logs?per_page=5"
            headers["Authorization"] = f"Bearer {client.token}"
        try:
            status, _h, _c, data = conn.request(method, path, body, headers)
        except (OSError, http.client.HTTPException) as exc:
            self._record(Result(kind, started, 0, detail=type(exc).__name__))
            return
        text = data.decode(errors="replace")
        entry_id = None
        if kind == "write" and status == 201:
            entry_id = json.loads(text)["id"]
        self._record(Result(kind, started, status, "Traceback (most recent call last)" in text,
                            text[:300] if status >= 400 else ""), entry_id)

    def _ask(self, conn: _Connection, client: Client, started: float) -> None:
        """A question through the page's form (htmx), which calls the LLM."""
        try:
            status, _h, cookies, page = conn.request("GET", "/ask", None, {"Cookie": _cookie_header(client)})
            _keep_cookies(client, cookies)
            match = CSRF_META.search(page.decode(errors="replace"))
            if status != 200 or match is None:
                self._record(Result("ask", started, status or 0, detail="ask page"))
                return
            # A new question each time: a cached answer would not reach the model.
            form = urllib.parse.urlencode({"question": f"what did I do under load? {uuid.uuid4().hex[:8]}",
                                           "csrf_token": match.group(1)}).encode()
            status, _h, _c, data = conn.request("POST", "/ask", form, {
                "Cookie": _cookie_header(client), "HX-Request": "true",
                "Content-Type": "application/x-www-form-urlencoded"})
        except (OSError, http.client.HTTPException) as exc:
            self._record(Result("ask", started, 0, detail=type(exc).__name__))
            return
        text = data.decode(errors="replace")
        self._record(Result("ask", started, status, "Traceback (most recent call last)" in text,
                            text[:300] if status >= 400 else ""))


def ok(status: int) -> bool:
    return 200 <= status < 400


@dataclass
class Tally:
    name: str
    before: Counter
    during: Counter
    after: Counter

    @property
    def failures_before(self) -> int:
        return sum(n for s, n in self.before.items() if not ok(s))

    @property
    def failures_after(self) -> int:
        return sum(n for s, n in self.after.items() if not ok(s))

    @property
    def failures_during(self) -> int:
        return sum(n for s, n in self.during.items() if not ok(s))


def tally(name: str, results: list[Result], fault_at: float, window_ends: float,
          kinds: tuple[str, ...] = ("page", "write", "read")) -> Tally:
    """Requests by status: started before the fault, in its window, and after it."""
    before, during, after = Counter(), Counter(), Counter()
    for r in results:
        if r.kind not in kinds:
            continue
        if r.ended < fault_at:  # over before the fault began
            before[r.status] += 1
        elif r.started < window_ends:  # touched by the fault or its window
            during[r.status] += 1
        else:
            after[r.status] += 1
    return Tally(name, before, during, after)


def _statuses(counter: Counter) -> str:
    return " ".join(f"{s or 'conn'}×{n}" for s, n in sorted(counter.items())) or "—"


def table(rows: list[Tally]) -> str:
    lines = ["| fault | before | in the fault window | after | failures outside the window |",
             "|---|---|---|---|---:|"]
    for t in rows:
        lines.append(f"| {t.name} | {_statuses(t.before)} | {_statuses(t.during)} | {_statuses(t.after)} | "
                     f"{t.failures_before + t.failures_after} |")
    return "\n".join(lines)
