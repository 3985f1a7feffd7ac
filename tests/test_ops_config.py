"""`flask config check`: every problem listed, secrets masked, exit 1 when something is wrong."""

from __future__ import annotations

import os
import subprocess

import pytest
from click.testing import CliRunner

from app.cli.config import config_cli
from tests.conftest import service_missing
from tests.ops_support import BIN, ROOT, closed_port

TEST_REDIS_URL = os.environ.get("REDIS_URL")
GOOD_SECRET = "Zq8-very-long-and-random-secret-key-value-0123456789"
CONTRACT_VARS = (
    "APP_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "LOG_FORMAT", "LLM_PROVIDER",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL", "LLM_TIMEOUT_SECONDS", "ASK_RATE_LIMIT",
    "LOGIN_RATE_LIMIT", "CORS_ORIGINS", "METRICS_TOKEN", "SENTRY_DSN", "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL", "TRUSTED_PROXY_COUNT", "DEBUG", "GUNICORN_TIMEOUT", "BASE_URL",
    "TRUSTED_HOSTS", "BACKUP_SIGNING_KEY", "INTEGRATIONS_KEY",
)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean environment: only what each test sets."""
    for name in CONTRACT_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WORKLOG_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'check.db'}")
    monkeypatch.setenv("BASE_URL", "https://worklog.example.com")

    def set_(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)

    return set_


def run(*args: str):
    return CliRunner().invoke(config_cli, ["check", *args])


def test_a_sound_production_configuration_passes(env):
    env(APP_ENV="production", SECRET_KEY=GOOD_SECRET, METRICS_TOKEN="metrics-token-abcdef0123456789",
        OPENAI_API_KEY="sk-abcdefghijklmnopqrstu")
    result = run()
    assert result.exit_code == 0, result.output
    assert "Configuration OK." in result.output
    assert GOOD_SECRET not in result.output
    assert "metrics-token-abcdef0123456789" not in result.output
    assert "sk-abcdefghijklmnopqrstu" not in result.output
    assert "database             ok" in result.output
    for name in ("SECRET_KEY", "DATABASE_URL", "METRICS_TOKEN", "TRUSTED_PROXY_COUNT"):
        assert name in result.output


def test_every_production_problem_is_listed_at_once(env):
    env(APP_ENV="production", SECRET_KEY="short", DEBUG="true", CORS_ORIGINS="*",
        LOGIN_RATE_LIMIT="lots", ASK_RATE_LIMIT="ten/minute", LOG_LEVEL="loud",
        LLM_PROVIDER="openai", TRUSTED_PROXY_COUNT="two")
    result = run("--no-connect")
    assert result.exit_code == 1
    out = result.output
    for expected in ("SECRET_KEY is too weak", "DEBUG must be false", "CORS_ORIGINS must list",
                     "LOGIN_RATE_LIMIT must look like", "ASK_RATE_LIMIT must look like",
                     "LOG_LEVEL must be one of", "OPENAI_API_KEY is not set",
                     "TRUSTED_PROXY_COUNT must be a whole number"):
        assert expected in out, expected
    assert "'lots' (invalid)" in out
    assert "Problems (8)" in out


def test_base_url_is_required_in_staging_and_production_and_must_be_a_plain_url(env, monkeypatch):
    monkeypatch.delenv("BASE_URL")
    for app_env in ("staging", "production"):
        env(APP_ENV=app_env, SECRET_KEY=GOOD_SECRET)
        result = run("--no-connect")
        assert result.exit_code == 1, result.output
        assert "BASE_URL is not set" in result.output
    env(APP_ENV="development")
    assert run("--no-connect").exit_code == 0
    for bad in ("worklog.example.com", "ftp://worklog.example.com", "https://x.example?next=/",
                "https://user:pw@worklog.example.com"):
        env(BASE_URL=bad)
        result = run("--no-connect")
        assert result.exit_code == 1, bad
        assert "BASE_URL must be" in result.output
    env(APP_ENV="production", BASE_URL="https://worklog.example.com/", TRUSTED_HOSTS="wl.example.com")
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    assert "https://worklog.example.com" in result.output and "wl.example.com" in result.output


def test_a_missing_secret_key_fails_in_production_but_not_in_development(env):
    env(APP_ENV="production")
    assert "SECRET_KEY is not set" in run("--no-connect").output
    env(APP_ENV="development")
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    assert "generated in instance/" in result.output


def test_unreachable_database_and_redis_are_problems(env):
    port = closed_port()
    env(DATABASE_URL=f"postgresql://worklog:pa55word@127.0.0.1:{port}/worklog",
        REDIS_URL=f"redis://:redispass@127.0.0.1:{port}/0")
    result = run()
    assert result.exit_code == 1
    assert "DATABASE_URL is unreachable" in result.output
    assert "REDIS_URL is unreachable" in result.output
    assert "pa55word" not in result.output and "redispass" not in result.output
    assert "worklog:******@127.0.0.1" in result.output


def test_reachable_redis_is_ok(env):
    if not TEST_REDIS_URL:
        service_missing("REDIS_URL is not set")
    env(REDIS_URL=TEST_REDIS_URL)
    result = run()
    assert "redis                ok" in result.output, result.output


def test_sentry_dsn_and_llm_timeout_are_checked(env):
    env(SENTRY_DSN="not a dsn", LLM_TIMEOUT_SECONDS="300")
    result = run("--no-connect")
    assert result.exit_code == 1
    assert "SENTRY_DSN is not a Sentry DSN" in result.output
    assert "LLM_TIMEOUT_SECONDS (300) must stay below" in result.output


def test_the_llm_total_budget_is_checked_against_the_web_servers_timeout(env, monkeypatch):
    monkeypatch.delenv("LLM_TOTAL_BUDGET_SECONDS", raising=False)
    assert run("--no-connect").exit_code == 0  # the default, 60 s, with 15 s of embeddings
    env(LLM_TOTAL_BUDGET_SECONDS="110", LLM_TIMEOUT_SECONDS="115")
    result = run("--no-connect")
    assert result.exit_code == 1
    assert "LLM_TOTAL_BUDGET_SECONDS (110) plus 15 s" in result.output
    assert "LLM_TIMEOUT_SECONDS (115) is longer than LLM_TOTAL_BUDGET_SECONDS (110)" in result.output


def test_production_warnings_do_not_fail(env):
    env(APP_ENV="production", SECRET_KEY=GOOD_SECRET)
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    assert "METRICS_TOKEN is not set" in result.output
    assert "REDIS_URL is not set" in result.output
    assert "DATABASE_URL is SQLite" in result.output


def test_flask_config_check_runs_when_the_app_cannot_start(tmp_path):
    """The app refuses to start on this configuration; the check still explains why."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
        "FLASK_APP": "wsgi.py", "APP_ENV": "production", "SECRET_KEY": "weak",
        "WORKLOG_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
    }
    result = subprocess.run([str(BIN / "flask"), "config", "check", "--no-connect"],  # noqa: S603
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SECRET_KEY is too weak" in result.stderr
    assert "weak" not in result.stdout.replace("too weak", "")


def test_the_backup_signing_key_is_shown_masked(env):
    env(BACKUP_SIGNING_KEY="backup-signing-key-that-nobody-should-see-0123")
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    assert "backup-signing-key-that-nobody" not in result.output
    assert "BACKUP_SIGNING_KEY" in result.output and "******" in result.output


def test_the_integrations_key_is_masked_and_checked(env):
    env(APP_ENV="production", SECRET_KEY=GOOD_SECRET)
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    assert "INTEGRATIONS_KEY is not set" in result.output

    env(INTEGRATIONS_KEY="integrations-key-that-nobody-should-see-0123")
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    assert "integrations-key-that-nobody" not in result.output
    assert "INTEGRATIONS_KEY is not set" not in result.output

    env(INTEGRATIONS_KEY="too-short")
    result = run("--no-connect")
    assert result.exit_code == 1
    assert "INTEGRATIONS_KEY: every key must be at least 32 characters" in result.output


def test_mail_and_slack_secrets_are_shown_masked(env):
    env(SMTP_URL="smtp://mailer:smtp-pass-nobody-sees@mail.example.com:587",
        SMTP_PASSWORD="smtp-password-nobody-sees", SLACK_SIGNING_SECRET="slack-signing-nobody-sees",
        SLACK_BOT_TOKEN="xoxb-bot-token-nobody-sees")
    result = run("--no-connect")
    assert result.exit_code == 0, result.output
    for secret in ("smtp-pass-nobody-sees", "smtp-password-nobody-sees", "slack-signing-nobody-sees",
                   "xoxb-bot-token-nobody-sees"):
        assert secret not in result.output
    assert "mail.example.com" in result.output and "SLACK_SIGNING_SECRET" in result.output
