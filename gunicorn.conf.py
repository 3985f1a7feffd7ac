"""Gunicorn settings for Worklog. Every value can be overridden with GUNICORN_CMD_ARGS.

Environment: BIND (0.0.0.0:8000), WEB_CONCURRENCY (workers), GUNICORN_THREADS (threads per
worker), GUNICORN_TIMEOUT (seconds), GUNICORN_KEEPALIVE (75 s), GUNICORN_DRAIN_SECONDS (5 s),
GUNICORN_GRACEFUL_TIMEOUT (30 s), LOG_LEVEL, LOG_FORMAT, PROMETHEUS_MULTIPROC_DIR.
"""

import json
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
# Threads let one worker keep serving while another request waits on the database or the LLM,
# and a streamed response (the AI draft) holds a thread, not a whole worker.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Above the LLM budget (LLM_TOTAL_BUDGET_SECONDS, plus 15 s of Ask embeddings), so the app
# times out first and answers with a clear message instead of the worker being killed mid-request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
# After SIGTERM: in-flight requests (and streamed drafts) get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# How long an idle keep-alive connection stays open. It must outlive the idle timeout of
# whatever proxy sits in front and reuses connections (AWS ALB 60 s, nginx upstream keepalive
# 60 s, HAProxy's idle pool): if gunicorn closes a connection at the moment the proxy sends
# the next request on it, the proxy answers 502. So the app waits longer than any of them.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
# On SIGTERM, first answer /ready with 503 for this long while still serving, so balancers
# (HAProxy checks, Kubernetes endpoints) stop sending new requests; then stop gracefully.
drain_seconds = float(os.environ.get("GUNICORN_DRAIN_SECONDS", "5"))
max_requests = 2000
max_requests_jitter = 200
# The app writes its own access line (with route, request id and user id, masked, as JSON
# when LOG_FORMAT=json); gunicorn's would duplicate it, so gunicorn writes none.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Only trust X-Forwarded-* via the app's ProxyFix (TRUSTED_PROXY_COUNT), not gunicorn's own parsing.
forwarded_allow_ips = "127.0.0.1"
# No `gunicornc` control socket: it is one fixed path per user, which several instances on one
# host would fight over, and nothing here uses it.
control_socket_disable = True
# Worker heartbeat files in memory, not on a container's overlay disk.
_shm = "/dev/shm"  # noqa: S108 - gunicorn's documented choice; files are per-worker and private
worker_tmp_dir = _shm if os.path.isdir(_shm) else None
# The app is imported once in the master and the workers are forked from it: code, templates
# and catalogs are shared copy-on-write instead of loaded per worker (see post_fork for what
# each worker must not share). GUNICORN_PRELOAD=false loads the app in each worker instead.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() not in ("0", "false", "no", "off")



class JsonLogFormatter(logging.Formatter):
    """gunicorn's own lines (start, worker boot and exit) as JSON objects, like the app's."""

    def format(self, record):
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            # In a worker the app masks every record as it is made (exc_text included).
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_production_like = os.environ.get("APP_ENV") in ("staging", "production")
if os.environ.get("LOG_FORMAT", "json" if _production_like else "console") == "json":
    # gunicorn's own loggers get this handler; the root logger gets none, because the app puts
    # its own (masking) handler there: a second one would write every app record twice, the
    # copy unmasked.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        # No handler on the root logger: the app installs its own (JSON, masked) there, and a
        # second one here would write every app event twice.
        "root": {"level": loglevel.upper(), "handlers": []},
        "formatters": {"json": {"()": JsonLogFormatter}},
        "handlers": {"error_console": {"class": "logging.StreamHandler", "formatter": "json",
                                       "stream": "ext://sys.stderr"}},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"],
                               "propagate": False, "qualname": "gunicorn.error"},
            "gunicorn.access": {"level": loglevel.upper(), "handlers": [], "propagate": False,
                                "qualname": "gunicorn.access"},
        },
    }

# --- Prometheus multiprocess mode -------------------------------------------------------
# Each worker writes its metric values to files here; a scrape answered by any worker adds
# them up. It must be set before the app (and so prometheus_client) is imported, which
# happens after this file is read. Without an explicit directory each gunicorn gets its own,
# so two instances on one host never mix their numbers.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="worklog-metrics-")
_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
# With preload_app the app (and its metrics) is imported before on_starting: the directory must
# exist now. on_starting still wipes what an earlier run left; a forked worker notices its new
# pid on its first metric update and writes all its series to its own files.
_metrics_dir.mkdir(parents=True, exist_ok=True)


def on_starting(server):
    """Start from zero: values left by an earlier run would be added to this one's."""
    _metrics_dir.mkdir(parents=True, exist_ok=True)
    # Only prometheus_client's own files, should the directory be shared with anything else.
    for pattern in ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db"):
        for stale in _metrics_dir.glob(pattern):
            stale.unlink(missing_ok=True)
    server.log.info("prometheus multiprocess directory %s (wiped)", _metrics_dir)
    # The workers learn that this instance is draining from this file (/ready answers 503
    # while it exists). Named after the master, so instances sharing the directory never mix.
    # Set here, in the master before any worker is forked, so every worker inherits it.
    os.environ["WORKLOG_DRAIN_FILE"] = str(_metrics_dir / f"draining-{os.getpid()}")


def when_ready(server):
    """SIGTERM drains first: /ready answers 503 for drain_seconds while requests are served."""
    if drain_seconds <= 0:
        return
    stop_now = server.handle_term
    manage_workers = server.manage_workers
    drain_file = Path(os.environ["WORKLOG_DRAIN_FILE"])
    state = {"until": None}

    def handle_term():
        if state["until"] is not None:
            stop_now()  # a second SIGTERM: stop (gracefully) without waiting out the drain
        drain_file.touch()
        state["until"] = time.monotonic() + drain_seconds
        server.log.info("SIGTERM: draining for %.0f s (/ready answers 503), then stopping gracefully "
                        "(in-flight requests get %d s)", drain_seconds, graceful_timeout)

    def manage_workers_or_stop():
        # The master's loop calls this about once a second; StopIteration is its graceful stop.
        if state["until"] is not None and time.monotonic() >= state["until"]:
            raise StopIteration
        manage_workers()

    server.handle_term = handle_term
    server.manage_workers = manage_workers_or_stop


def post_fork(server, worker):
    """A forked worker opens its own database connections, never the master's.

    On a graceful stop an idle kept-alive connection is closed after half a second instead of
    gthread's default linger, so an idle server stops within about a second of SIGTERM (after
    the drain) while requests in flight still get graceful_timeout to finish.
    """
    import sys

    from gunicorn.workers import gthread

    if hasattr(gthread, "STOP_KEEPALIVE_LINGER"):
        gthread.STOP_KEEPALIVE_LINGER = min(gthread.STOP_KEEPALIVE_LINGER, 0.5)

    wsgi = sys.modules.get("wsgi")
    app = getattr(wsgi, "app", None)
    if app is None or not hasattr(app, "app_context"):
        return
    from app.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def child_exit(server, worker):
    """A worker ended (restart, crash, max_requests): drop its live gauges, keep its counts."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    Path(os.environ.get("WORKLOG_DRAIN_FILE", _metrics_dir / "-")).unlink(missing_ok=True)
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)
