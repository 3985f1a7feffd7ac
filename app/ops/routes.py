"""Liveness, readiness and metrics: no login, no session, no rate limit, no CSRF."""

import hmac
import logging
import os
import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask, Response, current_app, jsonify, request

from app import metrics
from app.extensions import db
from app.models import User, UserSession
from app.models.base import utcnow
from app.ops import bp
from app.services.ops.health import DatabaseProbe, Readiness, readiness
from app.web import json_error

log = logging.getLogger("worklog.metrics")

_PROBE_KEY = "worklog.database_probe"
_probe_lock = threading.Lock()


def _database_probe(app: Flask) -> DatabaseProbe:
    """One probe per app, made on first use (the engine exists only inside the app)."""
    with _probe_lock:
        probe = app.extensions.get(_PROBE_KEY)
        if probe is None:
            options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {}
            probe = DatabaseProbe(db.engine.url, options.get("connect_args", {}),
                                  app.extensions["worklog.migration_heads"])
            app.extensions[_PROBE_KEY] = probe
        return probe


def current_readiness() -> Readiness:
    """This instance's readiness, as /ready reports it (the admin console shows it too)."""
    cfg = current_app.config
    result = readiness(
        _database_probe(current_app._get_current_object()),  # type: ignore[attr-defined]
        timeout=cfg["READY_TIMEOUT_SECONDS"],
        disk_path=current_app.instance_path,
        min_free_mb=cfg["DISK_FREE_MIN_MB"],
        llm_provider=cfg["LLM_PROVIDER"],
        llm_api_key=cfg["OPENAI_API_KEY"],
    )
    result.components["jobs"] = _jobs_component(result.components.get("database") == "ok")
    result.components.update(_publishing_components(result.components.get("database") == "ok"))
    return result


def _publishing_components(database_ok: bool) -> dict[str, str]:
    """`notion` / `confluence`: `configured` or `not configured` (environment, else the
    /admin/integrations rows). Never a call to those services; advisory (never fails
    readiness). The rows are read like the jobs component: on a connection of its own in a
    daemon thread, waited for at most a second (`unknown` then)."""
    import json

    from app.services.publishing.destinations import KINDS, complete, env_values

    env = {kind: env_values(kind) for kind in KINDS}
    out = {kind: "configured" for kind in KINDS if complete(kind, env[kind], None, False)}
    if len(out) == len(KINDS):
        return out
    rows: dict[str, tuple[dict, bool]] = {}
    done = threading.Event()
    url = str(current_app.config["SQLALCHEMY_DATABASE_URI"])
    sql = ("SELECT kind, settings, secret_encrypted IS NOT NULL FROM integration_destinations "
           "WHERE team_id IS NULL")

    def read() -> None:
        if url.startswith("sqlite"):
            import sqlite3
            from contextlib import closing

            path = sa.engine.make_url(url).database or ""
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as conn:
                found = conn.execute(sql).fetchall()
        else:
            import psycopg

            from app.jobs.engine import conninfo

            with psycopg.connect(conninfo(current_app_obj), connect_timeout=2,
                                 options="-c statement_timeout=1000") as conn:
                found = conn.execute(sql).fetchall()
        for kind, settings, has_secret in found:
            rows[kind] = (json.loads(settings) if isinstance(settings, str) else settings or {},
                          bool(has_secret))
        done.set()

    current_app_obj = current_app._get_current_object()  # type: ignore[attr-defined]
    if database_ok:
        thread = threading.Thread(target=_quietly(read), name="ready-publishing", daemon=True)
        thread.start()
        thread.join(timeout=min(1.0, float(current_app.config["READY_TIMEOUT_SECONDS"])))
    for kind in KINDS:
        if kind in out:
            continue
        if not done.is_set():
            out[kind] = "unknown"
            continue
        settings, has_secret = rows.get(kind, ({}, False))
        out[kind] = "configured" if complete(kind, env[kind], settings, has_secret) \
            else "not configured"
    return out


def _jobs_component(database_ok: bool) -> str:
    """The job workers as /ready reports them; never fails readiness (health.ADVISORY).

    Read on a connection of its own in a daemon thread, waited for at most a second: a pooled
    connection that went silent must not hold /ready (the database probe reports that).
    """
    from app import jobs
    from app.jobs.engine import conninfo
    from app.services.ops.health import jobs_status

    backend = jobs.backend()
    stalled = float(current_app.config.get("JOBS_STALLED_SECONDS", 30))
    if backend != "queue":
        return jobs_status(backend, None, stalled)
    if not database_ok:
        return "unknown"
    url = conninfo(current_app._get_current_object())  # type: ignore[attr-defined]
    result: dict[str, float | None] = {}

    def read() -> None:
        import psycopg

        with psycopg.connect(url, connect_timeout=2, options="-c statement_timeout=1000") as conn:
            row = conn.execute("SELECT EXTRACT(EPOCH FROM (now() - max(last_heartbeat))) "
                               "FROM procrastinate_workers").fetchone()
            result["age"] = None if row is None or row[0] is None else float(row[0])

    thread = threading.Thread(target=_quietly(read), name="ready-jobs", daemon=True)
    thread.start()
    thread.join(timeout=min(1.0, float(current_app.config["READY_TIMEOUT_SECONDS"])))
    if "age" not in result:
        return "unknown"
    return jobs_status(backend, result["age"], stalled)


def _quietly(func):  # noqa: ANN001, ANN202 - a thread target whose failure means "unknown"
    def run() -> None:
        try:
            func()
        except Exception:  # noqa: BLE001
            log.info("jobs_status_unavailable", exc_info=True)

    return run


def draining() -> bool:
    """gunicorn.conf.py creates this file when the instance gets SIGTERM."""
    path = os.environ.get("WORKLOG_DRAIN_FILE")
    return bool(path) and os.path.exists(path)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/health")
@bp.get("/liveness")
def health() -> Response:
    """The process is up; touches nothing else."""
    return _no_store(jsonify(status="healthy", version=current_app.config["APP_VERSION"]))


@bp.get("/ready")
@bp.get("/readiness")
def ready() -> Response:
    """Can this instance serve traffic: database, migrations, LLM config, disk."""
    cfg = current_app.config
    if draining():
        # Told to stop (SIGTERM): still serving, but balancers must send nothing new. Answered
        # at once, without touching the database.
        response = jsonify({"status": "not_ready", "version": cfg["APP_VERSION"],
                            "environment": cfg["APP_ENV"], "components": {"shutdown": "draining"},
                            "failing": ["shutdown"]})
        response.status_code = 503
        response.headers["Connection"] = "close"
        return _no_store(response)
    result = current_readiness()
    body = {
        "status": "ready" if result.ready else "not_ready",
        "version": cfg["APP_VERSION"],
        "environment": cfg["APP_ENV"],
        "components": result.components,
    }
    if not result.ready:
        body["failing"] = result.failing
    response = jsonify(body)
    response.status_code = 200 if result.ready else 503
    return _no_store(response)


def _active_sessions() -> float | None:
    """Live sessions of active users, as the session loader would accept them."""
    cutoff = utcnow() - timedelta(days=current_app.config["SESSION_IDLE_DAYS"])
    try:
        return float(db.session.scalar(
            sa.select(sa.func.count()).select_from(UserSession).join(User)
            .where(UserSession.ended_at.is_(None), UserSession.last_seen_at >= cutoff, User.is_active)
        ) or 0)
    except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
        db.session.rollback()
        log.warning("active_sessions_unavailable", exc_info=True)
        return None
    finally:
        db.session.remove()


def _job_gauges() -> tuple[dict[str, int], float | None] | None:
    """Queue depth per queue and worker heartbeat age (PostgreSQL queue backend only)."""
    from app import jobs

    if jobs.backend() != "queue":
        return None
    from app.jobs import admin as job_admin

    try:
        return job_admin.queue_depths(), job_admin.heartbeat_age()
    except Exception:  # noqa: BLE001 - a scrape must answer even when the database does not
        db.session.rollback()
        log.warning("job_gauges_unavailable", exc_info=True)
        return None
    finally:
        db.session.remove()


def _metrics_token_ok() -> bool:
    expected = current_app.config.get("METRICS_TOKEN")
    if not expected:
        return True
    given = request.headers.get("Authorization", "")
    scheme, _, token = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    """Prometheus text for every worker of this instance; Bearer METRICS_TOKEN when set."""
    if not _metrics_token_ok():
        response = json_error(401, "authentication_required", "A valid metrics token is required.")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = Response(metrics.render(_active_sessions, _job_gauges), mimetype=None)
    response.headers["Content-Type"] = metrics.CONTENT_TYPE
    return _no_store(response)
