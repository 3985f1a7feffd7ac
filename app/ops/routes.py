"""Liveness and readiness: no login, no session, no rate limit, no CSRF."""

from flask import Response, current_app, jsonify

from app.extensions import db
from app.ops import bp
from app.services.health import readiness


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
        db.engine,
        current_app.extensions["worklog.migration_heads"],
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
