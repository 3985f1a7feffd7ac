"""Checks a configuration for its APP_ENV without starting the app: `flask config check`.

Finds every problem at once (the app itself stops at the first), tries the database and
Redis, and describes the settings with secrets masked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.config import MIN_SECRET_LENGTH, ConfigError, config_for, startup_problems
from app.security.secrets import key_problem
from app.services.llm.embeddings import BUDGET_SECONDS as EMBEDDINGS_BUDGET
from app.services.outbound import mask_url

# PRODUCT.md's configuration contract, in its order (then the settings added since), and which
# of them are secrets.
SETTINGS = (
    "APP_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "LOG_FORMAT", "LLM_PROVIDER",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL", "LLM_TIMEOUT_SECONDS", "ASK_RATE_LIMIT",
    "LOGIN_RATE_LIMIT", "CORS_ORIGINS", "METRICS_TOKEN", "SENTRY_DSN", "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL", "TRUSTED_PROXY_COUNT", "BASE_URL", "TRUSTED_HOSTS", "BACKUP_SIGNING_KEY",
    "INTEGRATIONS_KEY", "NOTION_API_KEY", "NOTION_DATABASE_ID", "CONFLUENCE_BASE_URL",
    "CONFLUENCE_USER_EMAIL", "CONFLUENCE_API_TOKEN", "CONFLUENCE_SPACE_KEY", "SMTP_URL",
    "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "MAIL_FROM", "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
)
SECRETS = frozenset({"SECRET_KEY", "OPENAI_API_KEY", "METRICS_TOKEN", "BACKUP_SIGNING_KEY",
                     "INTEGRATIONS_KEY", "NOTION_API_KEY", "CONFLUENCE_API_TOKEN", "SMTP_PASSWORD",
                     "SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN"})
URLS_WITH_SECRETS = frozenset({"DATABASE_URL", "REDIS_URL", "SENTRY_DSN", "SLACK_WEBHOOK_URL",
                               "TEAMS_WEBHOOK_URL", "OPENAI_BASE_URL", "SMTP_URL"})
# Settings keys for the variables whose names differ.
_SETTING_KEY = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI", "TRUSTED_HOSTS": "TRUSTED_HOSTS_EXTRA"}
_NAMED = re.compile(r"^([A-Z][A-Z0-9_]+) ")
CONNECT_TIMEOUT = 3


@dataclass
class ConfigReport:
    app_env: str
    settings: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: dict[str, str] = field(default_factory=dict)
    invalid: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


def mask_secret(value: Any) -> str:
    if value in (None, ""):
        return "(not set)"
    return f"****** ({len(str(value))} characters)"


@contextmanager
def _without(names: set[str]) -> Iterator[None]:
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _load(instance_path: str, env_class: Any, report: ConfigReport) -> dict[str, Any] | None:
    """Load settings, collecting every malformed variable (each is then left at its default)."""
    broken: set[str] = set()
    for _ in range(len(SETTINGS) + 20):
        try:
            with _without(broken):
                return env_class.load(instance_path)
        except ConfigError as exc:
            report.problems.append(str(exc))
            match = _NAMED.match(str(exc))
            if not match or match.group(1) in broken:
                return None
            broken.add(match.group(1))
            report.invalid.add(match.group(1))
    return None


def check_configuration(instance_path: str, *, connect: bool = True,
                        gunicorn_timeout: float | None = None) -> ConfigReport:
    raw_env = os.environ.get("APP_ENV") or "development"
    report = ConfigReport(app_env=raw_env)
    try:
        env_class = config_for(raw_env)
    except ConfigError as exc:
        report.problems.append(str(exc))
        env_class = config_for("production")  # check the rest as strictly as possible
    settings = _load(instance_path, env_class, report)
    if settings is None:
        return report
    report.settings = settings
    report.problems.extend(startup_problems(settings))
    _policy(settings, report, gunicorn_timeout)
    if connect:
        _check_database(settings, report)
        _check_redis(settings, report)
    return report


def _policy(settings: Mapping[str, Any], report: ConfigReport, gunicorn_timeout: float | None) -> None:
    env = settings["APP_ENV"]
    production_like = env in ("staging", "production")
    secret = os.environ.get("SECRET_KEY")
    if env == "development" and secret and len(secret) < MIN_SECRET_LENGTH:
        report.warnings.append(f"SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters.")
    if env == "staging" and settings["DEBUG"]:
        report.warnings.append("DEBUG is on in staging.")
    if env == "staging" and "*" in settings["CORS_ORIGINS"]:
        report.warnings.append("CORS_ORIGINS is '*' in staging; production refuses it.")
    if settings["LLM_PROVIDER"] == "openai" and not settings.get("OPENAI_API_KEY"):
        report.problems.append(
            "LLM_PROVIDER is openai but OPENAI_API_KEY is not set (a local OpenAI-compatible "
            "server that needs no key still needs some value, e.g. OPENAI_API_KEY=unused)."
        )
    if settings.get("ASK_EMBEDDINGS_MODEL"):
        _embeddings_policy(settings, report)
    dsn = settings.get("SENTRY_DSN")
    if dsn:
        parts = urlsplit(dsn)
        if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname \
                or not parts.path.strip("/"):
            report.problems.append("SENTRY_DSN is not a Sentry DSN (https://<key>@<host>/<project>).")
    integrations_key = key_problem(dict(settings))
    if integrations_key:
        # Short keys are refused everywhere; a missing key only stops storing new secrets.
        (report.warnings if "not set" in integrations_key else report.problems).append(
            integrations_key)
    for name in ("SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK_URL"):
        url = settings.get(name)
        if url and urlsplit(url).scheme not in ("http", "https"):
            report.problems.append(f"{name} must be an http(s) URL.")
        elif url and production_like and not url.startswith("https://"):
            report.warnings.append(f"{name} is not https.")
    if production_like:
        if (settings.get("BASE_URL") or "").startswith("http://"):
            report.warnings.append("BASE_URL is not https: links sent out would not be either.")
        if not settings.get("METRICS_TOKEN"):
            report.warnings.append(
                "METRICS_TOKEN is not set: /metrics is open to anyone who can reach it. Set it, "
                "or keep /metrics off the public network."
            )
        if not settings.get("REDIS_URL"):
            report.warnings.append(
                "REDIS_URL is not set: rate limits are kept per process, so they are not shared "
                "by several workers or instances."
            )
        if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            report.warnings.append("DATABASE_URL is SQLite: fine for one instance, not for several.")
    try:
        timeout = gunicorn_timeout or float(os.environ.get("GUNICORN_TIMEOUT") or 120)
    except ValueError:
        report.problems.append("GUNICORN_TIMEOUT must be a number of seconds.")
        timeout = 120.0
    if settings["LLM_TIMEOUT_SECONDS"] >= timeout:
        report.problems.append(
            f"LLM_TIMEOUT_SECONDS ({settings['LLM_TIMEOUT_SECONDS']:g}) must stay below the web "
            f"server's timeout (GUNICORN_TIMEOUT, {timeout:g} s)."
        )
    budget = settings.get("LLM_TOTAL_BUDGET_SECONDS")
    if budget is not None:
        # An Ask question may spend the embeddings' 15 s before its one model call.
        if budget + EMBEDDINGS_BUDGET >= timeout:
            report.problems.append(
                f"LLM_TOTAL_BUDGET_SECONDS ({budget:g}) plus {EMBEDDINGS_BUDGET:g} s for Ask's "
                f"embeddings must stay below the web server's timeout (GUNICORN_TIMEOUT, "
                f"{timeout:g} s).")
        if settings["LLM_TIMEOUT_SECONDS"] > budget:
            report.warnings.append(
                f"LLM_TIMEOUT_SECONDS ({settings['LLM_TIMEOUT_SECONDS']:g}) is longer than "
                f"LLM_TOTAL_BUDGET_SECONDS ({budget:g}): each call is cut at the budget.")


def _embeddings_policy(settings: Mapping[str, Any], report: ConfigReport) -> None:
    """Ask's embeddings are on: they need a key, and an endpoint that is an http(s) URL."""
    if not settings.get("OPENAI_API_KEY"):
        report.problems.append(
            "ASK_EMBEDDINGS_MODEL is set but OPENAI_API_KEY is not: every question would fall back "
            "to keyword search (a server that needs no key still needs some value)."
        )
    url = settings.get("ASK_EMBEDDINGS_BASE_URL") or settings.get("OPENAI_BASE_URL")
    if url and urlsplit(url).scheme not in ("http", "https"):
        name = "ASK_EMBEDDINGS_BASE_URL" if settings.get("ASK_EMBEDDINGS_BASE_URL") else "OPENAI_BASE_URL"
        report.problems.append(f"{name} must be an http(s) URL for ASK_EMBEDDINGS_MODEL.")
    if settings.get("ASK_EMBEDDINGS_MAX_CANDIDATES", 1) < 1:
        report.problems.append("ASK_EMBEDDINGS_MAX_CANDIDATES must be at least 1.")


def _check_database(settings: Mapping[str, Any], report: ConfigReport) -> None:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    from app import MIGRATIONS_DIR
    from app.services.ops.health import script_heads

    url = settings["SQLALCHEMY_DATABASE_URI"]
    args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT} if url.startswith("postgresql") \
        else {"timeout": CONNECT_TIMEOUT}
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args=args)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
            heartbeat = _worker_heartbeat(conn) if url.startswith("postgresql") else None
    except Exception as exc:  # noqa: BLE001 - any failure means unreachable; say why
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
        report.problems.append(f"DATABASE_URL is unreachable ({mask_url(url)}): {reason}")
        report.checks["database"] = "unreachable"
        return
    finally:
        engine.dispose()
    report.checks["database"] = "ok"
    if current != script_heads(MIGRATIONS_DIR):
        report.checks["migrations"] = "pending"
        report.warnings.append("The database schema is not at the latest migration: run `flask db upgrade`.")
    else:
        report.checks["migrations"] = "ok"
    if url.startswith("postgresql") and settings.get("APP_ENV") == "production" \
            and settings.get("JOBS_BACKEND", "auto") in ("auto", "queue"):
        stalled = float(settings.get("JOBS_STALLED_SECONDS") or 30)
        if heartbeat is None or heartbeat > stalled:
            report.checks["jobs"] = "no worker"
            report.warnings.append(
                "No job worker has been seen (no heartbeat in procrastinate_workers): "
                "notifications and scheduled tasks wait until `flask jobs worker` runs.")
        else:
            report.checks["jobs"] = "ok"


def _worker_heartbeat(conn: Any) -> float | None:
    """Seconds since the freshest job-worker heartbeat; None when none (or no queue table)."""
    import sqlalchemy as sa

    try:
        with conn.begin_nested():
            age = conn.scalar(sa.text(
                "SELECT EXTRACT(EPOCH FROM (now() - max(last_heartbeat))) FROM procrastinate_workers"))
    except Exception:  # noqa: BLE001 - before the migration there is no queue table
        return None
    return None if age is None else float(age)


def _check_redis(settings: Mapping[str, Any], report: ConfigReport) -> None:
    url = settings.get("REDIS_URL")
    if not url:
        report.checks["redis"] = "not configured"
        return
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT,
                                      socket_timeout=CONNECT_TIMEOUT)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, bad auth: all a problem
        report.problems.append(f"REDIS_URL is unreachable ({mask_url(url)}): {exc}")
        report.checks["redis"] = "unreachable"
        return
    report.checks["redis"] = "ok"


def describe(report: ConfigReport) -> list[tuple[str, str]]:
    """(name, shown value) for every contract setting, secrets masked."""
    rows = []
    for name in SETTINGS:
        value = report.settings.get(_SETTING_KEY.get(name, name))
        if name == "APP_ENV":
            value = report.settings.get("APP_ENV", report.app_env)
        if name in report.invalid and name not in SECRETS:
            shown = f"{os.environ.get(name)!r} (invalid)"
        elif name in SECRETS:
            shown = mask_secret(value)
            if name == "SECRET_KEY" and value and not os.environ.get("SECRET_KEY"):
                shown += ", generated in instance/"
        elif name in URLS_WITH_SECRETS:
            shown = mask_url(value)
        elif isinstance(value, list):
            shown = ", ".join(value) or "(none)"
        else:
            shown = "(not set)" if value in (None, "") else str(value)
        rows.append((name, shown))
    if report.settings:
        rows.extend(_sign_in_rows(report.settings))
    return rows


def _sign_in_rows(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Company sign-in: which providers, who may get in, and whether passwords work."""
    from app.oidc_config import describe_providers

    rows = [("PASSWORD_LOGIN", "true" if settings.get("PASSWORD_LOGIN", True) else "false")]
    providers = settings.get("OIDC_PROVIDERS") or []
    if providers:
        rows.append(("OIDC_PROVIDERS", ", ".join(p["name"] for p in providers)))
        rows.append(("OIDC_ALLOWED_DOMAINS", ", ".join(settings.get("OIDC_ALLOWED_DOMAINS") or [])
                     or "(none: no accounts are created at sign-in)"))
        rows.append(("OIDC_LINK_BY_EMAIL", "true" if settings.get("OIDC_LINK_BY_EMAIL") else "false"))
        rows.extend(describe_providers(settings))
    return rows
