"""Liveness and readiness: no login, no session, no rate limit, no CSRF."""

import threading

from flask import Flask, Response, current_app, jsonify

from app.extensions import db
from app.ops import bp
from app.services.health import DatabaseProbe, readiness

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
    result = readiness(
        _database_probe(current_app._get_current_object()),  # type: ignore[attr-defined]
        timeout=cfg["READY_TIMEOUT_SECONDS"],
        disk_path=current_app.instance_path,
        min_free_mb=cfg["DISK_FREE_MIN_MB"],
        llm_provider=cfg["LLM_PROVIDER"],
        llm_api_key=cfg["OPENAI_API_KEY"],
    )
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
