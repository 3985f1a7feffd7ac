"""Load generator: concurrent keep-alive HTTP/1.1 against loopback servers, bounded in time.

Runs in its own process (bench/run.py starts it after the servers), signs in a few bench
accounts through the real sign-in form, then for each scenario keeps --connections
connections busy (closed loop: each sends its next request as soon as the last answer
has been read), discards a warm-up, and reports requests/s and p50/p95/p99 latency, with
throughput and p50 relative to the bare Flask "hello" app.

    python bench/load.py --app http://127.0.0.1:8001 --hello http://127.0.0.1:8002
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import html
import ipaddress
import json
import math
import os
import random
import re
import socket
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accounts import BENCH_PASSWORD, bench_email  # noqa: E402

try:
    import brotli
except ImportError:  # pragma: no cover - a dependency of the app; gzip alone otherwise
    brotli = None

MAX_DURATION = 120.0
MAX_CONNECTIONS = 64
SEARCH_TERM = "결제"  # in about 1 entry in 12 (the payment template of app/services/demo_data.py)
SEARCH_TERM_LONG = "결제모듈"
_last = (datetime.now(UTC) - timedelta(days=7)).isocalendar()
LAST_WEEK = f"{_last.year}-W{_last.week:02d}"  # the seed spreads entries over recent weekdays


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # "app" or "hello"
    path: str
    signed_in: bool
    expect: str  # a fragment the body must contain, so a redirect or error page is not counted
    headers: tuple[tuple[str, str], ...] = ()
    # A repeat view: each connection fetches the page once (not counted), then sends its ETag
    # back in If-None-Match, as a browser revalidating its copy does; the answer must be a 304.
    repeat: bool = False
    # Never the same URL twice on a connection (`to=` a day earlier each time): the rendered list
    # cannot come from the server's copy, so this measures rendering it.
    cold: bool = False

    def path_for(self, n: int) -> str:
        if not self.cold:
            return self.path
        day = date.today() - timedelta(days=n % (3 * 365))
        return f"{self.path}{'&' if '?' in self.path else '?'}to={day.isoformat()}"


LIST_FRAGMENT = (("HX-Request", "true"), ("HX-Target", "entry-list"))
SCENARIOS = [
    Scenario("hello", "hello", "/", False, "hello"),
    Scenario("health", "app", "/health", False, '"healthy"'),
    Scenario("log", "app", "/log", True, 'id="entry-list"'),
    Scenario("log-repeat", "app", "/log", True, "", repeat=True),
    # What htmx asks for on a filter, a search keystroke or a page change: the list alone.
    Scenario("log-list", "app", "/log?page=2", True, 'id="entry-list"', headers=LIST_FRAGMENT),
    # The same two, with the list rendered for every request (a different day filter each time).
    Scenario("log-cold", "app", "/log", True, 'id="entry-list"', cold=True),
    Scenario("log-list-cold", "app", "/log", True, 'id="entry-list"', headers=LIST_FRAGMENT, cold=True),
    Scenario("search", "app", "/log?q=" + quote(SEARCH_TERM), True, 'id="entry-list"'),
    # Three or more characters: PostgreSQL may now use the trigram index (two cannot).
    Scenario("search-long", "app", "/log?q=" + quote(SEARCH_TERM_LONG), True, 'id="entry-list"'),
    Scenario("filtered", "app", "/log?" + urlencode({"impact": "High", "category": SEARCH_TERM}),
             True, 'id="entry-list"'),
    # Twelve weeks with their entry counts and review states; last week's entries beside its review.
    Scenario("reviews", "app", "/reviews", True, 'class="weeks-table"'),
    Scenario("review-week", "app", "/reviews/" + LAST_WEEK, True, 'id="week-entries-heading"'),
]


class HTTPError(Exception):
    pass


# As a browser sends it: the servers may compress (Worklog does; the hello app does not).
ACCEPT_ENCODING = "gzip, br" if brotli is not None else "gzip"


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # as sent over the wire
    _decoded: bytes | None = None

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def text(self) -> bytes:
        """The body decompressed (what the check looks at)."""
        if self._decoded is None:
            encoding = (self.header("content-encoding") or [""])[0]
            if encoding == "gzip":
                self._decoded = gzip.decompress(self.body)
            elif encoding == "br" and brotli is not None:
                self._decoded = brotli.decompress(self.body)
            else:
                self._decoded = self.body
        return self._decoded


class Connection:
    """One keep-alive HTTP/1.1 connection with its own cookie jar."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.cookies: dict[str, str] = {}
        self.reconnects = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"",
                      headers: dict[str, str] | None = None) -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "User-Agent: worklog-bench", "Accept: text/html", f"Accept-Encoding: {ACCEPT_ENCODING}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        # A server may close an idle keep-alive connection (or a recycled worker may), and we
        # only learn it on the next request: reconnect once and send it again.
        for attempt in (1, 2):
            if self.writer is None:
                await self._open()
            try:
                self.writer.write(raw)
                await self.writer.drain()
                response = await self._read_response()
            except (ConnectionError, asyncio.IncompleteReadError, HTTPError):
                self.close()
                if attempt == 2:
                    raise
                self.reconnects += 1
                continue
            for cookie in response.header("set-cookie"):
                name, _, value = cookie.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
            if any(v.lower() == "close" for v in response.header("connection")):
                self.close()
            return response
        raise AssertionError("unreachable")

    async def _read_response(self) -> Response:
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise HTTPError("connection closed before the status line")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HTTPError(f"bad status line {status_line!r}")
        headers = []
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
        response = Response(int(parts[1]), headers, b"")
        if response.status in (204, 304) or response.status < 200:
            return response  # no body, whatever the headers say
        if response.header("transfer-encoding") and "chunked" in response.header("transfer-encoding")[0]:
            chunks = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    while (await self.reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(await self.reader.readexactly(size + 2))
            response.body = b"".join(c[:-2] for c in chunks)
        elif response.header("content-length"):
            response.body = await self.reader.readexactly(int(response.header("content-length")[0]))
        else:
            response.body = await self.reader.read()
            self.close()
        return response


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stats() -> list[tuple[int, int, str, float, float]]:
    """(pid, parent pid, command, own CPU s, reaped children's CPU s) per process (Linux /proc)."""
    stats = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        command = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        stats.append((int(entry.name), int(fields[1]), command,
                      (int(fields[11]) + int(fields[12])) / CLOCK_TICKS,
                      (int(fields[13]) + int(fields[14])) / CLOCK_TICKS))
    return stats


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting on I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _serves_other_database(pid: int, database: str | None) -> bool:
    """A PostgreSQL client backend connected to a database other than ours (its title says)."""
    if not database:
        return False
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    backend = re.search(r"postgres: [^:]+: \S+ (\S+) (\S+\(\d+\)|\[local\])", title)
    return bool(backend) and backend.group(1) != database


def cpu_seconds(roots: dict[str, int], database: str | None = None) -> dict[str, float]:
    """CPU seconds used so far by each named process tree, by PostgreSQL, and by the machine.

    A tree counts its live processes plus the children its root has reaped, so gunicorn
    workers recycled mid-scenario (max_requests) still count.
    """
    if not Path("/proc/self/stat").exists():
        return {}
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, ppid, *_rest in stats:
        children.setdefault(ppid, []).append(pid)
    own = {pid: seconds for pid, _ppid, _command, seconds, _reaped in stats}
    reaped = {pid: seconds for pid, _ppid, _command, _seconds, seconds in stats}
    totals = {}
    for name, root in roots.items():
        todo, total = [root], reaped.get(root, 0.0)
        while todo:
            pid = todo.pop()
            total += own.get(pid, 0.0)
            todo.extend(children.get(pid, []))
        totals[name] = total
    postgres = {pid for pid, _ppid, command, *_rest in stats if command == "postgres"}
    # The server's own processes and our database's backends; other databases' backends
    # (someone's test run, say) count as "other". Ended backends' CPU is in the postmaster's
    # reaped total, whichever database they served.
    totals["postgres"] = sum(
        own[pid] + (reaped[pid] if ppid not in postgres else 0.0)
        for pid, ppid, command, *_rest in stats
        if pid in postgres and not _serves_other_database(pid, database)
    )
    totals["machine"] = machine_busy_seconds()
    return totals


def loopback_address(url: str) -> tuple[str, int]:
    """Host and port of `url`, refusing anything but this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SystemExit(f"{url}: give http://127.0.0.1:PORT")
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
    except ValueError:
        raise SystemExit(f"{url}: the load generator only targets loopback addresses") from None
    return host, parts.port


async def sign_in(conn: Connection, email: str, password: str) -> None:
    """Through the real sign-in form: its CSRF token, then the POST."""
    page = await conn.request("GET", "/auth/login")
    match = re.search(rb'<meta name="csrf-token" content="([^"]+)"', page.text)
    if page.status != 200 or not match:
        raise SystemExit(f"sign-in page answered {page.status} without a CSRF token")
    form = urlencode({"email": email, "password": password,
                      "csrf_token": html.unescape(match.group(1).decode())}).encode()
    answer = await conn.request("POST", "/auth/login", form,
                                {"Content-Type": "application/x-www-form-urlencoded"})
    if answer.status not in (302, 303):
        raise SystemExit(f"signing in as {email} answered {answer.status}; is the bench data "
                         "seeded and LOGIN_RATE_LIMIT high enough?")
    check = await conn.request("GET", "/log")
    if check.status != 200 or b'id="entry-list"' not in check.text:
        raise SystemExit(f"after signing in as {email}, /log answered {check.status}")


@dataclass
class Result:
    name: str
    url: str
    path: str
    connections: int
    seconds: float
    requests: int
    errors: int
    reconnects: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_bytes: int  # over the wire (compressed when the server compressed)
    client_cpu_share: float  # cores used by this load generator during the scenario
    server_cpu_share: float | None  # cores used by the server under test (gunicorn master + workers)
    db_cpu_share: float | None  # cores used by all PostgreSQL processes on this machine
    other_cpu_share: float | None  # cores used by everything else: other people's work, noise
    server_cpu_ms: float | None = None  # server CPU (user + system, all workers) per request
    error_samples: list[str] = field(default_factory=list)


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, math.ceil(share * len(sorted_values)) - 1))  # nearest rank
    return sorted_values[rank]


async def run_scenario(scenario: Scenario, conns: list[Connection], base: str,
                       warmup: float, duration: float, max_requests: int,
                       server_pids: dict[str, int], database: str | None) -> Result:
    latencies: list[float] = []
    sizes: list[int] = []
    errors: list[str] = []
    expect = scenario.expect.encode()
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + duration
    reconnects_before = sum(c.reconnects for c in conns)
    cpu_before = time.process_time()
    issued = 0

    async def worker(conn: Connection) -> None:
        nonlocal issued
        headers = dict(scenario.headers)
        if scenario.repeat:
            first = await conn.request("GET", scenario.path, headers=headers)
            etag = (first.header("etag") or [""])[0]
            if not etag:
                errors.append(f"no ETag on {scenario.path} ({first.status})")
                return
            headers["If-None-Match"] = etag
        sent = random.randrange(3 * 365)  # where this connection starts in the cold days
        while issued < max_requests:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            issued += 1
            sent += 1
            try:
                response = await conn.request("GET", scenario.path_for(sent), headers=headers)
                if scenario.repeat:
                    ok = response.status == 304
                else:
                    ok = response.status == 200 and expect in response.text
                problem = "" if ok else f"{response.status} {response.text[:80]!r}"
            except (OSError, asyncio.IncompleteReadError, HTTPError) as exc:
                conn.close()
                ok, problem, response = False, f"{type(exc).__name__}: {exc}", None
            t1 = time.perf_counter()
            if t0 >= measure_from and t1 <= stop_at:
                if ok:
                    latencies.append(t1 - t0)
                    sizes.append(len(response.body))
                else:
                    errors.append(problem)

    async def sample_cpu() -> tuple[dict[str, float], dict[str, float], float]:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        before, t_before = cpu_seconds(server_pids, database), time.perf_counter()
        await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
        return before, cpu_seconds(server_pids, database), time.perf_counter() - t_before

    sampler = asyncio.create_task(sample_cpu())
    await asyncio.gather(*(worker(c) for c in conns))
    window = min(time.perf_counter(), stop_at) - measure_from
    cpu = time.process_time() - cpu_before
    before, after, sampled = await sampler

    def share(name: str) -> float | None:
        if name not in after or sampled <= 0:
            return None
        return round((after[name] - before[name]) / sampled, 2)

    def other_share() -> float | None:
        if "machine" not in after or sampled <= 0:
            return None
        ours = sum(after[k] - before[k] for k in after if k != "machine")
        # The load generator's own CPU is measured over the whole scenario; scale to the window.
        ours += cpu * sampled / max(time.perf_counter() - started, 1e-9)
        return round(max(0.0, (after["machine"] - before["machine"] - ours) / sampled), 2)
    latencies.sort()
    ms = [v * 1000 for v in latencies]
    return Result(
        name=scenario.name, url=base + scenario.path, path=unquote(scenario.path), connections=len(conns),
        seconds=round(window, 2), requests=len(latencies), errors=len(errors),
        reconnects=sum(c.reconnects for c in conns) - reconnects_before,
        rps=round(len(latencies) / window, 1) if window > 0 else 0.0,
        p50_ms=round(percentile(ms, 0.50), 2), p95_ms=round(percentile(ms, 0.95), 2),
        p99_ms=round(percentile(ms, 0.99), 2), max_ms=round(ms[-1], 2) if ms else float("nan"),
        mean_bytes=round(sum(sizes) / len(sizes)) if sizes else 0,
        client_cpu_share=round(cpu / (time.perf_counter() - started), 2),
        server_cpu_share=share(scenario.server), db_cpu_share=share("postgres"),
        other_cpu_share=other_share(),
        server_cpu_ms=(round((after[scenario.server] - before[scenario.server]) * 1000 / len(latencies), 2)
                       if latencies and scenario.server in after else None),
        error_samples=sorted(set(errors))[:3],
    )


def _cores(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def table(results: list[Result]) -> str:
    hello = next((r for r in results if r.name == "hello"), None)
    head = ("| scenario | request | req/s | p50 ms | p95 ms | p99 ms | errors "
            "| req/s ÷ hello | p50 ÷ hello | server CPU ms/req | bytes | "
            "cores: server / PostgreSQL / load gen / other |")
    rows = [head, "|" + "---|" * 12]
    for r in results:
        rps_ratio = f"{r.rps / hello.rps:.3f}" if hello and hello.rps else "–"
        p50_ratio = f"{r.p50_ms / hello.p50_ms:.1f}" if hello and hello.p50_ms else "–"
        shown = f"`GET {r.path}`" + (" (bare Flask app)" if r.name == "hello" else "")
        if r.name.startswith("before:"):
            shown = "before: " + shown
        if r.name.endswith("-cold"):
            shown = f"`GET {r.path}?to=…`, another day each request"
        shown += {"log-repeat": " with If-None-Match",
                  "log-list": " (htmx list fragment)",
                  "log-list-cold": " (htmx list fragment)"}.get(r.name.removeprefix("before:"), "")
        cpu_ms = "–" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.1f}"
        rows.append(f"| {r.name} | {shown} | {r.rps:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} "
                    f"| {r.p99_ms:.1f} | {r.errors} | {rps_ratio} | {p50_ratio} | {cpu_ms} "
                    f"| {r.mean_bytes:,} "
                    f"| {_cores(r.server_cpu_share)} / {_cores(r.db_cpu_share)} / {r.client_cpu_share:.2f} "
                    f"/ {_cores(r.other_cpu_share)} |")
    return "\n".join(rows)


# The scenarios also run against --baseline (an earlier commit), each right after its own.
BASELINE_SCENARIOS = ("log", "log-list", "search", "filtered")


async def main_async(args: argparse.Namespace) -> list[Result]:
    servers = {"app": loopback_address(args.app), "hello": loopback_address(args.hello)}
    wanted = [s for s in SCENARIOS if not args.only or s.name in args.only]
    if args.baseline:
        servers["baseline"] = loopback_address(args.baseline)
        wanted = [each for s in wanted
                  for each in ((s, replace(s, name=f"before:{s.name}", server="baseline"))
                               if s.name in BASELINE_SCENARIOS else (s,))]
    server_pids = dict(item.split("=", 1) for item in args.server_pid or [])
    server_pids = {name: int(pid) for name, pid in server_pids.items()}
    signed_in: dict[str, list[Connection]] = {}
    for name in sorted({s.server for s in wanted if s.signed_in}):
        host, port = servers[name]
        signed_in[name] = []
        for i in range(args.connections):
            conn = Connection(host, port)
            await sign_in(conn, bench_email(i % args.accounts + 1), BENCH_PASSWORD)
            signed_in[name].append(conn)
        print(f"signed in {min(args.accounts, args.connections)} bench accounts on "
              f"{len(signed_in[name])} connections to {name}", file=sys.stderr)
    results = []
    for scenario in wanted:
        host, port = servers[scenario.server]
        fresh = [] if scenario.signed_in else [Connection(host, port) for _ in range(args.connections)]
        conns = signed_in[scenario.server] if scenario.signed_in else fresh
        base = f"http://{host}:{port}"
        database = args.baseline_database if scenario.server == "baseline" else args.database
        print(f"{scenario.name}: {args.warmup:.0f}s warm-up, {args.duration:.0f}s measured, "
              f"{len(conns)} connections, GET {scenario.path}", file=sys.stderr)
        result = await run_scenario(scenario, conns, base, args.warmup, args.duration,
                                    args.max_requests, server_pids, database)
        if not scenario.signed_in:
            for c in conns:
                c.close()
        print(f"  {result.requests:,} ok, {result.errors} errors, {result.rps:,.1f} req/s, "
              f"p50 {result.p50_ms} ms, p95 {result.p95_ms} ms, "
              f"server CPU {result.server_cpu_ms} ms/request, "
              f"{result.mean_bytes:,} bytes; cores used: server "
              f"{result.server_cpu_share}, PostgreSQL {result.db_cpu_share}, load generator "
              f"{result.client_cpu_share}, other processes {result.other_cpu_share}", file=sys.stderr)
        for sample in result.error_samples:
            print(f"  error: {sample}", file=sys.stderr)
        results.append(result)
    for conns in signed_in.values():
        for c in conns:
            c.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", required=True, help="Worklog, e.g. http://127.0.0.1:8001")
    parser.add_argument("--hello", required=True, help="the bare Flask app, e.g. http://127.0.0.1:8002")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=8, help="bench accounts to sign in")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per scenario, not measured")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per scenario")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="per scenario")
    parser.add_argument("--only", nargs="*", help="scenario names: " + ", ".join(s.name for s in SCENARIOS))
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--database", help="PostgreSQL database the app uses, to tell its backends apart")
    parser.add_argument("--baseline", help="an earlier Worklog, e.g. http://127.0.0.1:8003: the log "
                        "scenarios run against it too ('before:' rows)")
    parser.add_argument("--baseline-database", help="the PostgreSQL database the baseline uses")
    parser.add_argument("--server-pid", action="append", metavar="app=PID",
                        help="gunicorn master of 'app' or 'hello', to report the CPU its tree uses")
    args = parser.parse_args(argv)
    if not 1 <= args.connections <= MAX_CONNECTIONS:
        parser.error(f"--connections must be 1..{MAX_CONNECTIONS}")
    if not 0 < args.duration <= MAX_DURATION or not 0 <= args.warmup <= MAX_DURATION:
        parser.error(f"--duration and --warmup must be at most {MAX_DURATION:.0f}s")
    results = asyncio.run(main_async(args))
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "connections": args.connections, "accounts": args.accounts,
            "warmup_s": args.warmup, "duration_s": args.duration,
            "results": [asdict(r) for r in results],
        }, indent=2, ensure_ascii=False) + "\n")
    return 1 if any(r.errors or not r.requests for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
