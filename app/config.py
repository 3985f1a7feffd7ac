"""Settings from the environment (and `.env`), one class per APP_ENV."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from limits import parse_many

MIN_SECRET_LENGTH = 32
SECRET_FILE_NAME = "secret_key"  # noqa: S105 - a file name, not a secret
KNOWN_ENVS = ("development", "staging", "production")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("json", "console")
LLM_PROVIDERS = ("offline", "openai")


class ConfigError(RuntimeError):
    """The configuration cannot run; the message says what to set."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {value!r}.") from exc


def _float(name: str, default: float) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {value!r}.") from exc


def _list(name: str) -> list[str]:
    return [item.strip() for item in (_env(name) or "").split(",") if item.strip()]


def _rate_limit(name: str, default: str) -> str:
    value = _env(name, default) or default
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(
            f"{name} must look like '5/minute' or '10/minute;100/hour', got {value!r}."
        ) from exc
    return value


def _choice(name: str, default: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
    raw = _env(name, default) or default
    value = raw.strip().upper() if upper else raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {raw!r}.")
    return value


def sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "worklog.db")


def dev_secret_key(instance_path: str) -> str:
    """A random key made once per checkout and kept in instance/, so sessions survive restarts."""
    path = Path(instance_path) / SECRET_FILE_NAME
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


class BaseConfig:
    APP_ENV = "development"
    DEBUG = False
    TESTING = False
    # Always present so `flask config check` can print them; values are read at load time.

    @classmethod
    def load(cls, instance_path: str) -> dict[str, Any]:
        """Read the environment into a dict of Flask settings for this APP_ENV."""
        env = cls.APP_ENV
        production_like = env in ("staging", "production")
        database_url = _env("DATABASE_URL") or sqlite_url(instance_path)
        if database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgres://"):]
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]
        redis_url = _env("REDIS_URL")
        secret = _env("SECRET_KEY")
        if secret is None and not production_like:
            secret = dev_secret_key(instance_path)
        settings: dict[str, Any] = {
            "APP_ENV": env,
            "DEBUG": _bool("DEBUG", cls.DEBUG),
            "SECRET_KEY": secret,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options(database_url, hide_parameters=production_like),
            "REDIS_URL": redis_url,
            "LOG_LEVEL": _choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            "LOG_FORMAT": _choice("LOG_FORMAT", "json" if production_like else "console",
                                  LOG_FORMATS),
            "LLM_PROVIDER": _choice("LLM_PROVIDER", "offline", LLM_PROVIDERS),
            "OPENAI_API_KEY": _env("OPENAI_API_KEY"),
            "OPENAI_BASE_URL": _env("OPENAI_BASE_URL"),
            "LLM_MODEL": _env("LLM_MODEL", "gpt-4o-mini"),
            "LLM_TIMEOUT_SECONDS": _float("LLM_TIMEOUT_SECONDS", 30.0),
            # The whole of one model call, retries and their waits included (each attempt
            # has LLM_TIMEOUT_SECONDS).
            "LLM_TOTAL_BUDGET_SECONDS": _float("LLM_TOTAL_BUDGET_SECONDS", 60.0),
            "ASK_RATE_LIMIT": _rate_limit("ASK_RATE_LIMIT", "10/minute;100/hour"),
            "LOGIN_RATE_LIMIT": _rate_limit("LOGIN_RATE_LIMIT", "5/minute"),
            "CORS_ORIGINS": _list("CORS_ORIGINS"),
            "METRICS_TOKEN": _env("METRICS_TOKEN"),
            "SENTRY_DSN": _env("SENTRY_DSN"),
            "SLACK_WEBHOOK_URL": _env("SLACK_WEBHOOK_URL"),
            "TEAMS_WEBHOOK_URL": _env("TEAMS_WEBHOOK_URL"),
            "TRUSTED_PROXY_COUNT": _int("TRUSTED_PROXY_COUNT", 0),
            # The canonical external address: every absolute link written outside a response
            # (notifications, invites, API `url` fields) is built on it, never on `Host`.
            "BASE_URL": (_env("BASE_URL") or "").strip().rstrip("/") or None,
            # Hosts besides BASE_URL's that production answers for (others get 400).
            "TRUSTED_HOSTS_EXTRA": _list("TRUSTED_HOSTS"),
            # Signs backups (HMAC-SHA256); unset: a key derived from SECRET_KEY.
            "BACKUP_SIGNING_KEY": _env("BACKUP_SIGNING_KEY"),
            # Encrypts integration secrets at rest (app/security/secrets.py); comma-separated
            # for rotation, the first encrypts.
            "INTEGRATIONS_KEY": _env("INTEGRATIONS_KEY"),
            # Background jobs (app/jobs): procrastinate on PostgreSQL, in-process on SQLite.
            "JOBS_BACKEND": _choice("JOBS_BACKEND", "auto", ("auto", "queue", "inprocess")),
            "JOBS_CONCURRENCY": _int("JOBS_CONCURRENCY", 2),
            "JOBS_SHUTDOWN_GRACE_SECONDS": _float("JOBS_SHUTDOWN_GRACE_SECONDS", 25.0),
            "JOBS_HEARTBEAT_SECONDS": _float("JOBS_HEARTBEAT_SECONDS", 10.0),
            "JOBS_STALLED_SECONDS": _float("JOBS_STALLED_SECONDS", 30.0),
            "JOBS_RETRY_BASE_SECONDS": _float("JOBS_RETRY_BASE_SECONDS", 2.0),
            "JOBS_RETRY_MAX_SECONDS": _float("JOBS_RETRY_MAX_SECONDS", 600.0),
            "JOBS_METRICS_PORT": _int("JOBS_METRICS_PORT", 0),
            "JOBS_HEARTBEAT_FILE": _env("JOBS_HEARTBEAT_FILE", "/tmp/worklog-worker-heartbeat"),  # noqa: S108
            "NOTIFY_MAX_ATTEMPTS": _int("NOTIFY_MAX_ATTEMPTS", 5),
            "NOTIFY_TIMEOUT_SECONDS": _float("NOTIFY_TIMEOUT_SECONDS", 5.0),
            # Publishing approved reviews (app/services/publishing); these win over
            # /admin/integrations. NOTION_BASE_URL / CONFLUENCE_BASE_URL may point at a stand-in.
            "NOTION_API_KEY": _env("NOTION_API_KEY"),
            # NOTION_DB1_ID: the name seed 001 used, accepted too.
            "NOTION_DATABASE_ID": _env("NOTION_DATABASE_ID") or _env("NOTION_DB1_ID"),
            "NOTION_ENTRIES_DATABASE_ID": _env("NOTION_ENTRIES_DATABASE_ID"),
            "NOTION_BASE_URL": _env("NOTION_BASE_URL"),
            "NOTION_REQUESTS_PER_SECOND": _float("NOTION_REQUESTS_PER_SECOND", 3.0),
            "CONFLUENCE_BASE_URL": _env("CONFLUENCE_BASE_URL"),
            "CONFLUENCE_USER_EMAIL": _env("CONFLUENCE_USER_EMAIL"),
            "CONFLUENCE_API_TOKEN": _env("CONFLUENCE_API_TOKEN"),
            "CONFLUENCE_SPACE_KEY": _env("CONFLUENCE_SPACE_KEY"),
            "CONFLUENCE_PARENT_PAGE_ID": _env("CONFLUENCE_PARENT_PAGE_ID"),
            "PUBLISH_MAX_ATTEMPTS": _int("PUBLISH_MAX_ATTEMPTS", 6),
            "PUBLISH_TIMEOUT_SECONDS": _float("PUBLISH_TIMEOUT_SECONDS", 20.0),
            "REVIEWS_DRAFT_SCHEDULE": _env("REVIEWS_DRAFT_SCHEDULE", "0 6 * * 1"),
            # E-mail (app/services/mail.py): SMTP_URL (smtp:// or smtps://user:pass@host:port,
            # ?starttls=1) or the separate settings; no host means no e-mail is sent.
            "SMTP_URL": _env("SMTP_URL"),
            "SMTP_HOST": _env("SMTP_HOST"),
            "SMTP_PORT": _int("SMTP_PORT", 587),
            "SMTP_USER": _env("SMTP_USER"),
            "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
            "SMTP_STARTTLS": _bool("SMTP_STARTTLS", True),
            "SMTP_TIMEOUT_SECONDS": _float("SMTP_TIMEOUT_SECONDS", 10.0),
            "MAIL_FROM": _env("MAIL_FROM", "Worklog <worklog@localhost>"),
            "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", 6),
            # Slack app (capture with /worklog and "Save to Worklog"; reminder DMs).
            "SLACK_SIGNING_SECRET": _env("SLACK_SIGNING_SECRET"),
            "SLACK_BOT_TOKEN": _env("SLACK_BOT_TOKEN"),
            "SLACK_API_BASE_URL": _env("SLACK_API_BASE_URL", "https://slack.com/api/"),
            "SLACK_RATE_LIMIT": _rate_limit("SLACK_RATE_LIMIT", "120/minute"),
            # Repository suggestions: default API addresses (GitHub Enterprise/GitLab self-managed
            # are set per connection on /account/integrations).
            "GITHUB_API_URL": _env("GITHUB_API_URL", "https://api.github.com"),
            "GITLAB_URL": _env("GITLAB_URL", "https://gitlab.com"),
            "REMINDERS_LOOKBACK_MINUTES": _int("REMINDERS_LOOKBACK_MINUTES", 60),
            "REPOS_TIMEOUT_SECONDS": _float("REPOS_TIMEOUT_SECONDS", 15.0),
            "APP_TIMEZONE": _env("APP_TIMEZONE", "UTC"),
            # Flask and extension settings derived from the above.
            "SQLALCHEMY_TRACK_MODIFICATIONS": False,
            "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 1024 * 1024),
            "SESSION_COOKIE_NAME": "worklog_session",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": production_like,
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SECURE": production_like,
            "PREFERRED_URL_SCHEME": "https" if production_like else "http",
            "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
            "WTF_CSRF_SSL_STRICT": production_like,
            "RATELIMIT_STORAGE_URI": redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            # If Redis is down, limits keep working per process instead of switching off.
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
            # The fallback switches once, for the first request that finds Redis gone; another
            # thread's request already talking to Redis at that moment would otherwise get a 500
            # (the fault suite caught one). Such a request is let through and the error logged.
            "RATELIMIT_SWALLOW_ERRORS": True,
            # A Redis that hangs must not hang every request; a timeout counts as "down".
            "RATELIMIT_STORAGE_OPTIONS": (
                {"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {}
            ),
            "RATELIMIT_KEY_PREFIX": "worklog",
            "BABEL_DEFAULT_LOCALE": "en",
            "BABEL_DEFAULT_TIMEZONE": "UTC",
            "LANGUAGES": ["en", "ko"],
            "HSTS_ENABLED": env == "production",
            "SESSION_IDLE_DAYS": _int("SESSION_IDLE_DAYS", 14),
            # Responses: gzip/Brotli from this size up; ETags (304 on a repeat view) on pages.
            "COMPRESS_MIN_BYTES": _int("COMPRESS_MIN_BYTES", 1024),
            "ETAGS_ENABLED": _bool("ETAGS_ENABLED", True),
            "LOCKOUT_THRESHOLD": _int("LOCKOUT_THRESHOLD", 5),
            "LOCKOUT_BASE_SECONDS": _int("LOCKOUT_BASE_SECONDS", 60),
            "LOCKOUT_MAX_SECONDS": _int("LOCKOUT_MAX_SECONDS", 3600),
            "READY_TIMEOUT_SECONDS": _float("READY_TIMEOUT_SECONDS", 1.5),
            "DISK_FREE_MIN_MB": _int("DISK_FREE_MIN_MB", 100),
            # Destructive admin actions ask for the password again when the sign-in is older.
            "ADMIN_REAUTH_MINUTES": _int("ADMIN_REAUTH_MINUTES", 15),
            "INVITE_TTL_HOURS": _int("INVITE_TTL_HOURS", 72),
            # Per personal API token, on /api.
            "API_RATE_LIMIT": _rate_limit("API_RATE_LIMIT", "60/minute;1000/hour"),
            "API_MAX_BODY_BYTES": _int("API_MAX_BODY_BYTES", 64 * 1024),
            # "Structure with AI" on the entry form, per user.
            "STRUCTURE_RATE_LIMIT": _rate_limit("STRUCTURE_RATE_LIMIT", "10/minute;100/hour"),
            # Ask your log: entries sent to the model per question; how long answers are cached.
            "ASK_MAX_ENTRIES": _int("ASK_MAX_ENTRIES", 15),
            "ASK_CACHE_TTL_SECONDS": _int("ASK_CACHE_TTL_SECONDS", 86400),
            # Optional meaning-based retrieval for Ask: off unless an embeddings model is named.
            # The endpoint defaults to OPENAI_BASE_URL (resolved where it is used) and uses
            # OPENAI_API_KEY; only the newest candidates of a question's period are compared.
            "ASK_EMBEDDINGS_MODEL": _env("ASK_EMBEDDINGS_MODEL"),
            "ASK_EMBEDDINGS_BASE_URL": _env("ASK_EMBEDDINGS_BASE_URL"),
            "ASK_EMBEDDINGS_MAX_CANDIDATES": _int("ASK_EMBEDDINGS_MAX_CANDIDATES", 2000),
        }
        settings.update(_oidc_settings())
        return settings


def _oidc_settings() -> dict[str, Any]:
    from app.oidc_config import OidcConfigError, load_oidc_settings

    try:
        return load_oidc_settings()
    except OidcConfigError as exc:
        raise ConfigError(str(exc)) from exc


class DevelopmentConfig(BaseConfig):
    APP_ENV = "development"


class StagingConfig(BaseConfig):
    APP_ENV = "staging"


class ProductionConfig(BaseConfig):
    APP_ENV = "production"


CONFIGS: dict[str, type[BaseConfig]] = {
    "development": DevelopmentConfig,
    "staging": StagingConfig,
    "production": ProductionConfig,
}


def config_for(app_env: str | None) -> type[BaseConfig]:
    env = (app_env or "development").strip().lower()
    if env not in CONFIGS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(KNOWN_ENVS)}; got {app_env!r}.")
    return CONFIGS[env]


def engine_options(database_url: str, *, hide_parameters: bool = False) -> dict[str, Any]:
    """Engine settings; `hide_parameters` (staging, production) keeps bound values (password
    hashes, token hashes, emails) out of the text of database errors, and so out of logs."""
    if database_url.startswith("sqlite"):
        # A lock wait instead of "database is locked"; see db_events for WAL and BEGIN IMMEDIATE.
        return {"connect_args": {"timeout": 15, "check_same_thread": False},
                "hide_parameters": hide_parameters}
    return {
        "hide_parameters": hide_parameters,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "pool_timeout": 5,
        "connect_args": {
            "connect_timeout": 5,
            "options": "-c statement_timeout=15000 -c lock_timeout=5000",
            # A server that vanished without a reset (host down, NAT or firewall forgot the
            # connection) would otherwise leave pooled connections blocking for ~15 minutes.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "tcp_user_timeout": 30000,
        },
    }


def startup_problems(settings: dict[str, Any]) -> list[str]:
    """Problems that must stop the app from starting at all."""
    problems = []
    env = settings["APP_ENV"]
    secret = settings.get("SECRET_KEY") or ""
    if env in ("staging", "production"):
        if not secret:
            problems.append(
                "SECRET_KEY is not set. Set it to a random string of at least "
                f"{MIN_SECRET_LENGTH} characters, e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        elif len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                f"SECRET_KEY is too weak ({len(secret)} characters). Set it to a random "
                f"string of at least {MIN_SECRET_LENGTH} characters."
            )
    from app.urls import base_url_problem

    if env in ("staging", "production") and not settings.get("BASE_URL"):
        problems.append(
            "BASE_URL is not set. Set it to the address people use to reach Worklog, e.g. "
            "https://worklog.example.com: links in notifications, invites and the API are built on it."
        )
    base_problem = base_url_problem(settings.get("BASE_URL"))
    if base_problem:
        problems.append(base_problem)
    if env == "production" and settings.get("DEBUG"):
        problems.append("DEBUG must be false in production; unset DEBUG or set DEBUG=false.")
    if env == "production" and "*" in settings.get("CORS_ORIGINS", []):
        problems.append("CORS_ORIGINS must list origins explicitly in production, not '*'.")
    from app.oidc_config import oidc_problems

    problems.extend(oidc_problems(settings))
    problems.extend(_schedule_problems(settings))
    return problems


def _schedule_problems(settings: dict[str, Any]) -> list[str]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    problems = []
    tz = settings.get("APP_TIMEZONE") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"APP_TIMEZONE must be an IANA time zone like Asia/Seoul; got {tz!r}.")
    schedule = settings.get("REVIEWS_DRAFT_SCHEDULE") or "0 6 * * 1"
    if not croniter.is_valid(schedule):
        problems.append("REVIEWS_DRAFT_SCHEDULE must be a cron expression like '0 6 * * 1' "
                        f"(Monday 06:00); got {schedule!r}.")
    return problems
