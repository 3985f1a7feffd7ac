"""Prometheus metrics: the names PRODUCT.md promises, and small helpers the rest of the app calls.

Other code never touches prometheus_client directly; it calls one of

    count_llm_request(purpose, outcome)
    count_llm_tokens(purpose, kind, n)
    count_cache(operation, cache="ask")
    count_auth_attempt(outcome, method="password")
    count_rate_limit_exceeded(route)
    count_error(status, exception)

Under gunicorn, several worker processes serve requests. prometheus_client's multiprocess
mode (on when PROMETHEUS_MULTIPROC_DIR is set before this module is imported; gunicorn.conf.py
does that) keeps each worker's values in files in that directory, and a scrape answered by
any worker adds them all up. gunicorn.conf.py wipes the directory at start and marks dead
workers, so counters survive worker restarts and live-gauges drop the dead.

`active_sessions_total` is not a stored metric: it is a database count made while the
scrape is answered, so every worker (and every instance) reports the same, correct number.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
_LABEL_MAX = 64

http_requests_total = Counter(
    "http_requests_total", "HTTP requests answered, by route rule, method and status.",
    ["method", "route", "status"],
)
http_request_duration_seconds = Histogram(
    "http_request_duration_seconds", "Time to produce the response, by route rule and method.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
llm_requests_total = Counter(
    "llm_requests_total", "Calls to the LLM provider, by purpose and outcome.",
    ["purpose", "outcome"],
)
llm_tokens_total = Counter(
    "llm_tokens_total", "LLM tokens used, by purpose and kind (prompt or completion).",
    ["purpose", "kind"],
)
cache_operations_total = Counter(
    "cache_operations_total", "Cache lookups and writes, by cache and operation (hit, miss, set).",
    ["cache", "operation"],
)
auth_attempts_total = Counter(
    "auth_attempts_total", "Sign-in attempts, by method and outcome.", ["method", "outcome"],
)
rate_limit_exceeded_total = Counter(
    "rate_limit_exceeded_total", "Requests refused with 429, by route rule.", ["route"],
)
errors_total = Counter(
    "errors_total", "Server errors answered (5xx from an exception), by status and exception type.",
    ["status", "exception"],
)
# Not in the contract, but the dashboard's memory panel needs it and, in multiprocess mode,
# the usual process_resident_memory_bytes is not collected. livesum: dead workers drop out.
worker_memory_bytes = Gauge(
    "worklog_worker_resident_memory_bytes", "Resident memory of the worker processes.",
    multiprocess_mode="livesum",
)

# Background jobs. Counted where the job runs: the worker process (`flask jobs worker` serves
# them on JOBS_METRICS_PORT) or, with SQLite, the web process that ran it in-process.
publish_total = Counter(
    "publish_total", "Publishing attempts to systems of record, by destination (notion, "
    "confluence) and outcome (published, retried, failed).", ["destination", "outcome"],
)
jobs_total = Counter(
    "jobs_total", "Job runs, by task and outcome (succeeded, retried, failed).", ["task", "status"],
)
job_duration_seconds = Histogram(
    "job_duration_seconds", "Time one job run took, by task.", ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0),
)

_MEMORY_EVERY_SECONDS = 5.0
_memory_sampled_at = 0.0


def _label(value: object) -> str:
    text = str(value) if value is not None else "unknown"
    return text[:_LABEL_MAX] or "unknown"


# --- helpers other code calls ---------------------------------------------------------


def count_llm_request(purpose: str, outcome: str) -> None:
    """One call to the LLM provider. outcome: e.g. "ok", "error", "timeout", "rate_limited", "cached"."""
    llm_requests_total.labels(purpose=_label(purpose), outcome=_label(outcome)).inc()


def count_llm_tokens(purpose: str, kind: str, n: int) -> None:
    """Tokens used by one call; kind is "prompt" or "completion". Zero or negative n is ignored."""
    if n and n > 0:
        llm_tokens_total.labels(purpose=_label(purpose), kind=_label(kind)).inc(n)


def count_cache(operation: str, cache: str = "ask") -> None:
    """One cache operation: "hit", "miss", "set" (or "error")."""
    cache_operations_total.labels(cache=_label(cache), operation=_label(operation)).inc()


def count_auth_attempt(outcome: str, method: str = "password") -> None:
    """One sign-in attempt: outcome "success", "failure", "locked", "inactive" or "rate_limited"."""
    auth_attempts_total.labels(method=_label(method), outcome=_label(outcome)).inc()


def count_rate_limit_exceeded(route: str | None) -> None:
    rate_limit_exceeded_total.labels(route=_label(route or UNMATCHED_ROUTE)).inc()


def count_error(status: int, exception: BaseException | type[BaseException] | None) -> None:
    name = "none"
    if exception is not None:
        name = (exception if isinstance(exception, type) else type(exception)).__name__
    errors_total.labels(status=str(status), exception=_label(name)).inc()


# Label sets that exist from the start, at 0, so `rate(errors_total[5m])` and friends read 0
# instead of "no data" until the first event. In multiprocess mode creating a child writes its
# 0 into the worker's file, so every scrape shows it.
_PURPOSES = ("weekly_review", "structure", "ask")
KNOWN_SERIES: dict[str, list[dict[str, str]]] = {
    "llm_requests_total": [{"purpose": p, "outcome": o}
                           for p in _PURPOSES for o in ("ok", "error", "timeout")],
    "llm_tokens_total": [{"purpose": p, "kind": k} for p in _PURPOSES for k in ("prompt", "completion")],
    "cache_operations_total": [{"cache": "ask", "operation": o} for o in ("hit", "miss", "set", "error")],
    "rate_limit_exceeded_total": [{"route": r} for r in (
        "/auth/login", "/ask", "/log/structure", "/log/entries/<int:entry_id>/structure", "/api/daily-logs")],
    "errors_total": [{"status": s, "exception": "none"} for s in ("500", "503")],
    "publish_total": [{"destination": d, "outcome": o} for d in ("notion", "confluence")
                      for o in ("published", "retried", "failed")],
}


def start_known_series() -> None:
    """Create the known label sets at 0 (idempotent; called when the app is built)."""
    families = {"llm_requests_total": llm_requests_total, "llm_tokens_total": llm_tokens_total,
                "cache_operations_total": cache_operations_total,
                "rate_limit_exceeded_total": rate_limit_exceeded_total, "errors_total": errors_total,
                "publish_total": publish_total}
    for name, label_sets in KNOWN_SERIES.items():
        for labels in label_sets:
            families[name].labels(**labels)


def observe_publish(destination: str, outcome: str) -> None:
    """One publishing attempt (app.services.publishing)."""
    publish_total.labels(destination=_label(destination), outcome=_label(outcome)).inc()


def observe_job(task: str, status: str, seconds: float) -> None:
    """One job run (app.jobs.registry.run)."""
    jobs_total.labels(task=_label(task), status=_label(status)).inc()
    job_duration_seconds.labels(task=_label(task)).observe(max(seconds, 0.0))


def observe_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Called once per response by the app's after_request hook."""
    method = method if method in KNOWN_METHODS else "OTHER"
    route = _label(route or UNMATCHED_ROUTE)
    http_requests_total.labels(method=method, route=route, status=str(status)).inc()
    http_request_duration_seconds.labels(method=method, route=route).observe(max(seconds, 0.0))
    _sample_memory()


def _resident_memory_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # not Linux: peak instead of current
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _sample_memory() -> None:
    global _memory_sampled_at
    now = time.monotonic()
    if now - _memory_sampled_at >= _MEMORY_EVERY_SECONDS:
        _memory_sampled_at = now
        worker_memory_bytes.set(_resident_memory_bytes())


# --- the scrape -------------------------------------------------------------------------


class _ScrapeTimeGauge(Collector):
    """A gauge whose value is computed while this scrape is answered (skipped if that fails)."""

    def __init__(self, name: str, documentation: str, compute: Callable[[], float | None]) -> None:
        self._name, self._doc, self._compute = name, documentation, compute

    def collect(self) -> Iterator[Metric]:
        value = self._compute()
        if value is not None:
            family = GaugeMetricFamily(self._name, self._doc)
            family.add_metric([], value)
            yield family


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


class _JobGauges(Collector):
    """jobs_queued{queue} and job_worker_heartbeat_age_seconds, read from the queue's tables."""

    def __init__(self, compute: Callable[[], tuple[dict[str, int], float | None] | None]) -> None:
        self._compute = compute

    def collect(self) -> Iterator[Metric]:
        found = self._compute()
        if found is None:
            return
        depths, age = found
        queued = GaugeMetricFamily("jobs_queued", "Jobs waiting to run, by queue.", labels=["queue"])
        for queue, depth in sorted(depths.items()):
            queued.add_metric([queue], depth)
        yield queued
        if age is not None:
            heartbeat = GaugeMetricFamily("job_worker_heartbeat_age_seconds",
                                          "Seconds since the freshest job-worker heartbeat.")
            heartbeat.add_metric([], age)
            yield heartbeat


def render(active_sessions: Callable[[], float | None],
           job_gauges: Callable[[], tuple[dict[str, int], float | None] | None] | None = None
           ) -> bytes:
    """The Prometheus text for one scrape: every worker's values plus scrape-time gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(_ScrapeTimeGauge(
        "active_sessions_total", "Signed-in sessions that have not ended or gone idle.",
        active_sessions,
    ))
    if job_gauges is not None:
        registry.register(_JobGauges(job_gauges))
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """For gunicorn's child_exit hook: drop a dead worker's live gauges."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)
