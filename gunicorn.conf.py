"""Gunicorn settings for Worklog. Every value can be overridden with GUNICORN_CMD_ARGS."""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(multiprocessing.cpu_count() * 2 + 1, 8)))
# Threads let one worker keep serving while another request waits on the database or the LLM.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Above the LLM budget (LLM_TIMEOUT_SECONDS with retries), so the app times out first and
# answers with a clear message instead of the worker being killed mid-request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5
max_requests = 2000
max_requests_jitter = 200
# The app writes its own access line (with request id and user id); gunicorn's would duplicate it.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Only trust X-Forwarded-* via the app's ProxyFix (TRUSTED_PROXY_COUNT), not gunicorn's own parsing.
forwarded_allow_ips = "127.0.0.1"
