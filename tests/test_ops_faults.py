"""Fault injection: HAProxy in front of two gunicorn instances over a private PostgreSQL and Redis.

One test runs every fault in turn under bounded load (a few threads) and prints the table of
requests by status: before the fault, in its window, after it. For each fault: failures
outside the window below 0.1 % and none after it, every acknowledged write in the database,
no traceback in any answer, and /ready back within one probe period of the dependency.

The PostgreSQL cluster and redis-server are the suite's own (temporary directory, free ports);
the shared services other tests use are never stopped or frozen. `make faults` runs it alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _migrate, service_missing
from tests.fault_support import (
    CHECK_INTER_MS,
    CHECK_RISE,
    Client,
    HAProxy,
    Load,
    PrivatePostgres,
    PrivateRedis,
    Tally,
    _Connection,
    missing_tools,
    sign_in,
    table,
    tally,
)
from tests.llm_server import FakeLLMServer, Reply
from tests.ops_support import Gunicorn, get, start_gunicorn

pytestmark = pytest.mark.faults

PROBE_PERIOD = CHECK_INTER_MS / 1000
# After a dependency is back, the balancer needs `rise` good checks before it sends traffic again.
BALANCER_RETURN = CHECK_RISE * PROBE_PERIOD + PROBE_PERIOD
PEOPLE = 4
PASSWORD = "fault-suite-password-0123"


class Cluster:
    def __init__(self, tmp: Path, pg: PrivatePostgres, redis: PrivateRedis, llm: FakeLLMServer) -> None:
        self.tmp, self.pg, self.redis, self.llm = tmp, pg, redis, llm
        self.env = {
            "REDIS_URL": redis.url,
            "LOGIN_RATE_LIMIT": "1000/minute",
            "API_RATE_LIMIT": "100000/minute;1000000/hour",
            "ASK_RATE_LIMIT": "100000/minute;1000000/hour",
            **{k: str(v) for k, v in llm.config(LLM_TIMEOUT_SECONDS=4).items()},
            "LOG_LEVEL": "INFO",
            "GUNICORN_DRAIN_SECONDS": "5",  # gunicorn.conf.py's default (the test helper sets 0)
        }
        self.servers: dict[str, Gunicorn] = {}
        self.generation = 0

    def start(self, name: str) -> Gunicorn:
        self.generation += 1
        server = start_gunicorn(self.tmp, self.pg.url, workers=2, extra_env=self.env,
                                name=f"{name}-{self.generation}")
        self.servers[name] = server
        return server

    def port(self, name: str) -> int:
        return self.servers[name].port


def _kill_instance(server: Gunicorn) -> None:
    """SIGKILL the master and its workers: a crashed host, nothing gets to clean up."""
    pids = [server.proc.pid, *server.worker_pids()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.proc.wait(timeout=30)


def _ready_status(server: Gunicorn) -> int:
    try:
        return get(f"{server.url}/ready", timeout=5)[0]
    except OSError:
        return 0


def _ready_within_one_probe_period(servers: list[Gunicorn]) -> list[str]:
    """The first probe after the dependency is back, or the next one a probe period later, is 200."""
    problems = []
    for server in servers:
        statuses = [_ready_status(server)]
        if statuses[0] != 200:
            time.sleep(PROBE_PERIOD)
            statuses.append(_ready_status(server))
        if statuses[-1] != 200:
            problems.append(f"/ready of :{server.port} answered {statuses} after the dependency returned")
    return problems


def _serves_at_once(cluster: Cluster) -> list[str]:
    """Straight to each instance, the first request after the database is back succeeds."""
    problems = []
    token = cluster.people[0].token
    for server in cluster.servers.values():
        try:
            status = get(f"{server.url}/api/daily-logs?per_page=1",
                         headers={"Authorization": f"Bearer {token}"}, timeout=10)[0]
        except OSError as exc:
            status = repr(exc)
        if status != 200:
            problems.append(f"the first request to :{server.port} after the database returned got {status}")
    return problems


def _wait_until(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"waited {seconds:.0f} s for {what}")


@pytest.fixture
def cluster():
    missing = missing_tools()
    if missing:
        service_missing(f"the fault suite needs PostgreSQL 15, HAProxy and redis-server: missing {missing}")
    # Not under pytest's basetemp, which other runs on the machine rotate away: on a failure the
    # logs stay here for reading (the path is in the message); a passing run removes them.
    tmp = Path(tempfile.mkdtemp(prefix="worklog-faults-run-"))
    pg = PrivatePostgres()
    redis = PrivateRedis()
    llm = FakeLLMServer().start()
    proxy: HAProxy | None = None
    made: Cluster | None = None
    try:
        pg.start()
        redis.start()
        _migrate(pg.url, tmp / "migrate")
        made = Cluster(tmp, pg, redis, llm)
        made.people = _people(pg.url, tmp)
        made.start("a")
        made.start("b")
        proxy = HAProxy(tmp, {"a": made.port("a"), "b": made.port("b")})
        proxy.start()
        proxy.wait_up(["a", "b"])
        for person in made.people:
            sign_in(proxy.port, person)
        made.proxy = proxy
        yield made
    finally:
        if proxy is not None:
            proxy.stop()
        if made is not None and getattr(made, "proxy", None) is not None:
            made.proxy.stop()  # the current one: faults that restart an instance make a new one
        if made is not None:
            for server in made.servers.values():
                server.stop()
        llm.stop()
        redis.stop()
        pg.destroy()


def _people(url: str, tmp: Path) -> list[Client]:
    from app import create_app
    from app.extensions import db
    from app.services.accounts.tokens import issue_token
    from app.services.accounts.users import create_user
    from tests.conftest import _base_config

    app = create_app(_base_config(url, tmp / "people"))
    people = []
    with app.app_context():
        for i in range(PEOPLE):
            email = f"load{i}@faults.example.com"
            user = create_user(email, password=PASSWORD)
            db.session.flush()
            token = issue_token(user, "fault suite", None, via="cli", actor=None).raw
            db.session.commit()
            people.append(Client(email, PASSWORD, token))
        db.engine.dispose()
    return people


def _lost_writes(cluster: Cluster, ids: list[int]) -> int:
    engine = sa.create_engine(cluster.pg.url)
    try:
        with engine.connect() as conn:
            found = set(conn.scalars(sa.text("SELECT id FROM log_entries WHERE id = ANY(:ids)"),
                                     {"ids": ids}))
    finally:
        engine.dispose()
    return len(set(ids) - found)


class Run:
    """Collects the table rows and every broken promise, so all faults run and are reported."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.rows: list[Tally] = []
        self.problems: list[str] = []

    def judge(self, load: Load, row: Tally, *, strict: bool = False) -> None:
        self.rows.append(row)
        outside = sum(row.before.values()) + sum(row.after.values())
        if row.failures_before and row.failures_before * 1000 >= max(outside, 1):
            self.problems.append(f"{row.name}: {row.failures_before} failures before the fault: {row.before}")
        if row.failures_after:
            examples = [r.detail for r in load.results if r.status >= 400 or r.status == 0][:3]
            self.problems.append(f"{row.name}: {row.failures_after} failures after the fault: {row.after} "
                                 f"{examples}")
        if strict and row.failures_during:
            self.problems.append(f"{row.name}: {row.failures_during} failures during it: {row.during}")
        if not sum(row.after.values()):
            self.problems.append(f"{row.name}: no requests measured after the fault")
        lost = _lost_writes(self.cluster, load.acknowledged)
        if lost:
            self.problems.append(f"{row.name}: {lost} acknowledged writes are not in the database")
        errors = [r for r in load.results if r.status == 500]
        if errors:
            # A fault may make the app unavailable (503), never broken.
            self.problems.append(f"{row.name}: {len(errors)} × 500, e.g. {errors[0].detail!r}")
        if any(r.body_has_traceback for r in load.results):
            self.problems.append(f"{row.name}: a traceback reached a client")


def _load(cluster: Cluster, **kw) -> Load:
    return Load(cluster.proxy.port, cluster.people, **kw)


def test_faults_behind_haproxy(cluster, request):
    run = Run(cluster)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    faults = {"healthy": _healthy, "sigkill": _sigkill_one_instance, "sigterm": _sigterm_one_instance,
              "postgres-restart": _postgres_restart, "postgres-freeze": _postgres_frozen,
              "redis": _redis_down, "llm": _llm_hangs}
    chosen = [f.strip() for f in os.environ.get("WORKLOG_FAULTS", "").split(",") if f.strip()] or list(faults)
    try:
        for name in chosen:
            faults[name](cluster, run)
    finally:
        capture = request.config.pluginmanager.getplugin("capturemanager")
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line("")
                reporter.write_line(table(run.rows))
    logs = "\n".join(server.log() for server in cluster.servers.values())
    assert not run.problems, ("\n".join(run.problems) + "\n\n" + table(run.rows)
                              + f"\n\nlogs in {cluster.tmp}\n" + logs[-3000:])
    shutil.rmtree(cluster.tmp, ignore_errors=True)


def _healthy(cluster: Cluster, run: Run) -> None:
    """No fault: every request must succeed (no 502 from a keep-alive race, in particular)."""
    start = time.monotonic()
    with _load(cluster) as load:
        time.sleep(8)
    run.judge(load, tally("both instances healthy", load.results, start, start), strict=True)


def _sigkill_one_instance(cluster: Cluster, run: Run) -> None:
    with _load(cluster) as load:
        time.sleep(2)
        fault_at = time.monotonic()
        _kill_instance(cluster.servers["b"])
        _wait_until(lambda: cluster.proxy.server_states().get("b", "").startswith("DOWN"), 30,
                    "haproxy to see b down")
        window_ends = time.monotonic() + PROBE_PERIOD
        time.sleep(7)  # the survivor's 500s were seen 3-6 s after its sibling died
    run.judge(load, tally("SIGKILL one instance", load.results, fault_at, window_ends))
    cluster.start("b")
    _rewire(cluster)


def _rewire(cluster: Cluster) -> None:
    """A restarted instance has a new port: a new HAProxy over both."""
    cluster.proxy.stop()
    directory = cluster.tmp / f"proxy-{cluster.generation}"
    directory.mkdir()
    cluster.proxy = HAProxy(directory, {"a": cluster.port("a"), "b": cluster.port("b")})
    cluster.proxy.start()
    cluster.proxy.wait_up(["a", "b"])


def _sigterm_one_instance(cluster: Cluster, run: Run) -> None:
    """A rolling deploy: b is told to stop while a slow request is in flight on it."""
    server = cluster.servers["b"]
    cluster.llm.responder = lambda _request: (cluster.llm.wait(2.5), Reply())[1]
    in_flight: dict[str, object] = {}

    def slow_request() -> None:
        # The ask page, then a question whose model call takes 2.5 s, straight to b.
        person = cluster.people[1]
        probe = Load(server.port, [person], ask=True)
        probe._ask(_Connection(server.port, 30), person, time.monotonic())
        in_flight["result"] = probe.results[0]

    with _load(cluster) as load:
        time.sleep(2)
        thread = threading.Thread(target=slow_request)
        thread.start()
        time.sleep(1)
        fault_at = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        statuses: list[int] = []
        _wait_until(lambda: statuses.append(_ready_status(server)) or statuses[-1] != 200, 10,
                    "b's /ready to stop answering 200")
        thread.join(timeout=30)
        try:
            server.proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            run.problems.append("SIGTERM: b did not exit within its grace period")
            _kill_instance(server)
        window_ends = time.monotonic()
        time.sleep(2)
    cluster.llm.responder = lambda _request: Reply()
    if statuses[-1] != 503:
        run.problems.append(f"SIGTERM: b's /ready answered {statuses} instead of 503 while draining")
    result = in_flight.get("result")
    if result is None or result.status != 200:
        run.problems.append(f"SIGTERM: the request in flight on b did not finish: {result}")
    run.judge(load, tally("SIGTERM one instance (rolling deploy)", load.results, fault_at, window_ends),
              strict=True)
    cluster.start("b")
    _rewire(cluster)


def _postgres_restart(cluster: Cluster, run: Run) -> None:
    with _load(cluster) as load:
        time.sleep(2)
        fault_at = time.monotonic()
        cluster.pg.stop()
        time.sleep(3)
        cluster.pg.start()  # returns once it accepts connections
        run.problems.extend(f"PostgreSQL restart: {p}" for p in _serves_at_once(cluster))
        run.problems.extend(f"PostgreSQL restart: {p}"
                            for p in _ready_within_one_probe_period(list(cluster.servers.values())))
        window_ends = time.monotonic() + BALANCER_RETURN
        time.sleep(5)
    run.judge(load, tally("PostgreSQL stopped 3 s, started", load.results, fault_at, window_ends))


def _postgres_frozen(cluster: Cluster, run: Run) -> None:
    with _load(cluster) as load:
        time.sleep(2)
        fault_at = time.monotonic()
        pids = cluster.pg.freeze()
        time.sleep(5)
        cluster.pg.thaw(pids)
        cluster.pg.wait_accepting(30)
        run.problems.extend(f"PostgreSQL frozen: {p}" for p in _serves_at_once(cluster))
        run.problems.extend(f"PostgreSQL frozen: {p}"
                            for p in _ready_within_one_probe_period(list(cluster.servers.values())))
        window_ends = time.monotonic() + BALANCER_RETURN
        time.sleep(5)
    run.judge(load, tally("PostgreSQL frozen (SIGSTOP) 5 s", load.results, fault_at, window_ends))


def _redis_down(cluster: Cluster, run: Run) -> None:
    with _load(cluster) as load:
        time.sleep(2)
        fault_at = time.monotonic()
        cluster.redis.stop()
        time.sleep(3)
        cluster.redis.start()
        run.problems.extend(f"Redis down: {p}"
                            for p in _ready_within_one_probe_period(list(cluster.servers.values())))
        window_ends = time.monotonic() + BALANCER_RETURN
        time.sleep(4)
    run.judge(load, tally("Redis down 3 s, back", load.results, fault_at, window_ends), strict=True)


def _llm_hangs(cluster: Cluster, run: Run) -> None:
    hanging = threading.Event()
    cluster.llm.responder = lambda _request: Reply.hang(30) if hanging.is_set() else Reply()
    with _load(cluster, ask=True) as load:
        time.sleep(3)
        fault_at = time.monotonic()
        hanging.set()
        time.sleep(6)
        hanging.clear()
        window_ends = time.monotonic() + 3  # a question asked just before still waits out its timeout
        time.sleep(5)
    cluster.llm.responder = lambda _request: Reply()
    # The rest of the app does not notice a hanging model at all.
    run.judge(load, tally("LLM endpoint hanging 6 s", load.results, fault_at, window_ends), strict=True)
    asks = tally("LLM endpoint hanging 6 s: questions", load.results, fault_at, window_ends, kinds=("ask",))
    run.rows.append(asks)
    if set(asks.during) - {200, 503}:
        run.problems.append(f"LLM hanging: questions got {asks.during}, expected a clear 503 at worst")
    if asks.failures_after or asks.failures_before or not sum(asks.after.values()):
        run.problems.append(f"LLM hanging: questions before/after: {asks.before} / {asks.after}")
