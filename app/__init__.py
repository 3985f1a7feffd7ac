"""Worklog: a structured work log with AI-drafted weekly reviews."""

from __future__ import annotations

import logging
import os
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask, Response, g, render_template, request, session
from flask_login import AnonymousUserMixin
from werkzeug.routing import IntegerConverter, Map

from app import db_events  # noqa: F401  (registers SQLite connection settings)
from app.config import ConfigError, config_for, startup_problems
from app.extensions import babel, csrf, db, htmx, limiter, login_manager, migrate
from app.logging_setup import configure_logging
from app.metrics import observe_request, start_known_series
from app.web import ID_MAX, request_id

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = str(PROJECT_ROOT / "migrations")
access_log = logging.getLogger("worklog.access")

__all__ = ["ConfigError", "create_app"]


def app_version() -> str:
    try:
        base = version("worklog")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        base = "0.0.0"
    release = os.environ.get("WORKLOG_RELEASE")
    return f"{base}+{release}" if release else base


class Anonymous(AnonymousUserMixin):
    is_admin = False
    is_lead = False
    role = None

    def has_role(self, *_roles: Any) -> bool:
        return False


class IdConverter(IntegerConverter):
    """`<int:…>` with an upper bound of the id columns (32-bit INTEGER on PostgreSQL)."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None,  # werkzeug's parameter names
                 max: int | None = ID_MAX, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment (and `.env`); `test_config` overrides settings."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    app = Flask(
        __name__,
        # Tests name their own folder, so a test's `flask demo seed` never writes its logins
        # into the developer's instance/demo-logins.txt.
        instance_path=(test_config or {}).get("INSTANCE_PATH")
        or os.environ.get("WORKLOG_INSTANCE_PATH", str(PROJECT_ROOT / "instance")),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    # Every <int:id> in a URL fits the id columns: a larger one is a 404 from routing, not a
    # database overflow (SQLite raises on integers past 64 bits).
    app.url_map.converters["int"] = IdConverter
    # JSON as UTF-8 text: Korean stays readable (`결제`, not `\uacb0\uc81c`) with curl.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app_env = (test_config or {}).get("APP_ENV") or os.environ.get("APP_ENV")
    settings = config_for(app_env).load(app.instance_path)
    settings.update(test_config or {})
    problems = startup_problems(settings)
    if problems:
        raise ConfigError("Worklog cannot start:\n  - " + "\n  - ".join(problems))
    app.config.update(settings)
    app.config["APP_VERSION"] = app_version()

    configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    from app.sentry import init_sentry

    init_sentry(app.config)
    if app.config["TRUSTED_PROXY_COUNT"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    _init_extensions(app)
    from app.security import input as request_input

    # NUL, other control characters and lone surrogates are dropped from every query string,
    # form, JSON body and path value before any view sees them (PostgreSQL refuses NUL).
    request_input.install(app)
    from app.urls import install_host_check

    install_host_check(app)
    _register_blueprints(app)
    start_known_series()
    from app.web import compression

    compression.install(app)  # before the other hooks: it runs last, on the finished response
    _register_hooks(app)

    from app.errors import register_error_handlers

    register_error_handlers(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    from app.db_resilience import install_session_teardown

    install_session_teardown(app, db)
    from app.services import freshness

    freshness.install(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    csrf.init_app(app)
    htmx.init_app(app)
    # Flask-Limiter keeps the key prefix and default limits of the first app it served;
    # reset them so each app (each test, in particular) gets its own configuration.
    limiter._key_prefix = app.config["RATELIMIT_KEY_PREFIX"]
    limiter.limit_manager.set_default_limits([])
    limiter.init_app(app)

    login_manager.init_app(app)
    login_manager.session_protection = None  # server-side session records do this job
    login_manager.anonymous_user = Anonymous
    login_manager.login_view = "auth.login"

    from app.security.sessions import install_session_loader
    from app.services.ops.health import script_heads

    install_session_loader(login_manager)
    app.extensions["worklog.migration_heads"] = frozenset(script_heads(MIGRATIONS_DIR))

    from app.i18n import init_i18n

    init_i18n(app, babel)


def _register_blueprints(app: Flask) -> None:
    from app.account import bp as account_bp
    from app.admin import bp as admin_bp
    from app.api import bp as api_bp
    from app.ask import bp as ask_bp
    from app.auth import bp as auth_bp
    from app.integrations import bp as integrations_bp
    from app.log import bp as log_bp
    from app.main import bp as main_bp
    from app.notifications import bp as notifications_bp
    from app.ops import bp as ops_bp
    from app.reviews import bp as reviews_bp
    from app.suggestions import bp as suggestions_bp

    app.register_blueprint(ops_bp)
    csrf.exempt(ops_bp)
    limiter.exempt(ops_bp)
    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp, url_prefix="/auth")
    app.register_blueprint(account_bp, url_prefix="/account")
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(log_bp, url_prefix="/log")
    app.register_blueprint(reviews_bp, url_prefix="/reviews")
    app.register_blueprint(ask_bp, url_prefix="/ask")
    app.register_blueprint(api_bp, url_prefix="/api")
    app.register_blueprint(notifications_bp, url_prefix="/notifications")
    app.register_blueprint(integrations_bp, url_prefix="/integrations")
    app.register_blueprint(suggestions_bp, url_prefix="/log/suggestions")


SECURITY_HEADERS = (
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
     "form-action 'self'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _security_headers(app: Flask, response: Response) -> None:
    """Add each header the view did not set itself (one pass over the response's headers)."""
    headers = response.headers
    present = {name.lower() for name, _value in headers.items()}
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if app.config["HSTS_ENABLED"] and HSTS[0].lower() not in present:
        headers.add(*HSTS)


def _register_hooks(app: Flask) -> None:
    def assign_request_id() -> None:
        request_id()
        g.started_at = time.perf_counter()

    # First of all before_request hooks, so what the extensions log carries the id too.
    app.before_request_funcs.setdefault(None, []).insert(0, assign_request_id)

    @app.after_request
    def finish_response(response: Response) -> Response:
        response.headers["X-Request-ID"] = request_id()
        response.vary.add("HX-Request")
        _security_headers(app, response)
        if (
            request.headers.get("HX-Request") == "true"
            and "HX-Redirect" not in response.headers
            and response.mimetype == "text/html"
            and not response.is_streamed
            and "_flashes" in session
        ):
            # htmx swaps only what it asked for; messages ride along out of band.
            flashes = session.pop("_flashes")
            response.set_data(
                response.get_data(as_text=True)
                + render_template("_flashes_oob.html", flashes=flashes)
            )
        seconds = time.perf_counter() - g.get("started_at", time.perf_counter())
        rule = request.url_rule.rule if request.url_rule else None
        observe_request(request.method, rule, response.status_code, seconds)
        if request.path.startswith("/static/"):
            return response
        duration_ms = round(seconds * 1000, 1)
        level = logging.DEBUG if request.blueprint == "ops" else logging.INFO
        access_log.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "route": rule,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response

    from app.services.freshness import add_etag

    # Registered after finish_response, so it runs before it (before htmx's flashes are popped).
    app.after_request(add_etag)

    from app.services.accounts.devices import describe_device
    from app.services.log.query import search_terms
    from app.services.markdown import plain_excerpt, render_markdown
    from app.services.text import highlight

    app.jinja_env.globals.update(render_markdown=render_markdown, plain_excerpt=plain_excerpt)
    app.jinja_env.filters["device"] = describe_device
    app.jinja_env.filters["highlight"] = lambda text, q: highlight(text, search_terms(q or ""))
    from app.log.rows import entry_row

    app.jinja_env.globals["entry_row"] = entry_row

    @app.context_processor
    def inject_globals() -> dict[str, Any]:
        return {"app_version": app.config["APP_VERSION"], "app_env": app.config["APP_ENV"]}
