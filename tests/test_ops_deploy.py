"""Deploy files: what can be checked without a Docker engine or a cluster."""

from __future__ import annotations

import json
import re
import runpy
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import service_missing
from tests.ops_support import ROOT

DEPLOY = ROOT / "deploy"
CONTRACT_SETTINGS = (
    "APP_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "LOG_LEVEL", "LOG_FORMAT", "LLM_PROVIDER",
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "LLM_MODEL", "LLM_TIMEOUT_SECONDS", "ASK_RATE_LIMIT",
    "LOGIN_RATE_LIMIT", "CORS_ORIGINS", "METRICS_TOKEN", "SENTRY_DSN", "SLACK_WEBHOOK_URL",
    "TEAMS_WEBHOOK_URL", "TRUSTED_PROXY_COUNT",
)
# Settings added since the contract was written (issue 20).
ADDED_SETTINGS = ("BASE_URL", "TRUSTED_HOSTS", "BACKUP_SIGNING_KEY")
YAML_FILES = sorted([ROOT / "docker-compose.yml", *DEPLOY.rglob("*.yml"), *DEPLOY.rglob("*.yaml")])


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_yaml_parses(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents


def _k8s() -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for path in (DEPLOY / "kubernetes").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                assert {"apiVersion", "kind", "metadata"} <= set(doc), path
                found.setdefault(doc["kind"], []).append(doc)
    return found


def _deployments() -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in _k8s()["Deployment"]}


def test_kubernetes_deployment_probes_health_and_ready_and_runs_as_non_root():
    deployment = _deployments()["worklog"]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert spec["securityContext"]["runAsNonRoot"] is True
    names = {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]}
    assert names == {"worklog-config", "worklog-secrets"}
    (service,) = _k8s()["Service"]
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_kubernetes_workers_stop_within_their_grace_period_and_probe_the_heartbeat():
    worker = _deployments()["worklog-worker"]
    spec = worker["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert worker["spec"]["replicas"] == 2
    assert container["command"][:3] == ["flask", "jobs", "worker"]
    env = {item["name"]: item["value"] for item in container["env"]}
    # The worker exits at most 5 s after its grace bound; Kubernetes must wait longer than that.
    assert spec["terminationGracePeriodSeconds"] > float(env["JOBS_SHUTDOWN_GRACE_SECONDS"]) + 5
    assert container["livenessProbe"]["exec"]["command"][:3] == ["flask", "jobs", "alive"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["worker"]["command"][:3] == ["flask", "jobs", "worker"]


def test_kubernetes_cronjobs_draft_the_week_and_back_up():
    jobs = {j["metadata"]["name"]: j for j in _k8s()["CronJob"]}
    draft = jobs["worklog-weekly-drafts"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert "flask reviews draft --week" in " ".join(draft["command"])
    backup = jobs["worklog-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    command = " ".join(backup["command"])
    assert "flask backup create --output" in command and "-mtime +30 -delete" in command


def test_secret_example_names_only_contract_settings():
    (secret,) = _k8s()["Secret"]
    (config,) = _k8s()["ConfigMap"]
    assert set(secret["stringData"]) <= set(CONTRACT_SETTINGS + ADDED_SETTINGS)
    gunicorn = {"WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_KEEPALIVE", "GUNICORN_DRAIN_SECONDS",
                "GUNICORN_GRACEFUL_TIMEOUT"}
    unknown = set(config["data"]) - set(CONTRACT_SETTINGS + ADDED_SETTINGS) - gunicorn
    assert not unknown


def test_compose_has_the_whole_stack_and_its_mounted_files_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"app", "postgres", "redis", "prometheus", "grafana"} <= set(compose["services"])
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source
    app = compose["services"]["app"]
    assert app["environment"]["REDIS_URL"].startswith("redis://redis")


def test_prometheus_scrapes_the_app_metrics():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "worklog")
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["app:8000"]


def test_promtool_accepts_the_prometheus_config_and_alerts():
    if shutil.which("promtool") is None:
        service_missing("promtool is not installed (Debian package `prometheus`)")
    for args in (["check", "config", "deploy/prometheus/prometheus.yml"],
                 ["check", "rules", "deploy/prometheus/alerts.yml"]):
        result = subprocess.run(["promtool", *args], cwd=ROOT, capture_output=True, text=True)  # noqa: S603,S607
        assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_shows_rps_errors_p95_memory_and_llm_tokens():
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "worklog.json").read_text())
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for needle in ("rate(http_requests_total", 'status=~"5.."', "histogram_quantile(0.95",
                   "worklog_worker_resident_memory_bytes", "llm_tokens_total", "active_sessions_total"):
        assert needle in exprs, needle
    provisioning = DEPLOY / "grafana" / "provisioning" / "dashboards" / "worklog.yml"
    provider = yaml.safe_load(provisioning.read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_dashboard_and_alerts_use_only_metrics_the_app_exports():
    from app import metrics  # noqa: F401 - registers them

    exported = {"http_requests_total", "http_request_duration_seconds_bucket", "llm_requests_total",
                "llm_tokens_total", "cache_operations_total", "auth_attempts_total", "active_sessions_total",
                "rate_limit_exceeded_total", "errors_total", "worklog_worker_resident_memory_bytes", "up"}
    text = (DEPLOY / "grafana" / "dashboards" / "worklog.json").read_text() \
        + (DEPLOY / "prometheus" / "alerts.yml").read_text()
    used = set(re.findall(r"\b([a-z_]+(?:_total|_bucket|_bytes)|up)\{", text)) \
        | set(re.findall(r"\((?:[a-z_]+ )?\(?([a-z_]+(?:_total|_bucket|_bytes))\b", text))
    assert used and used <= exported, used - exported


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    text = (ROOT / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "HEALTHCHECK" in text and "/health" in text
    assert '"gunicorn", "--config", "gunicorn.conf.py"' in text


def test_gunicorn_config_serves_streams_and_has_metrics_hooks(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("LOG_FORMAT", "json")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["worker_class"] == "gthread" and settings["workers"] == 3
    assert settings["timeout"] > 30  # above the default LLM_TIMEOUT_SECONDS
    assert callable(settings["child_exit"]) and callable(settings["on_starting"])
    assert settings["accesslog"] is None  # the app writes the access line
    assert settings["logconfig_dict"]["formatters"]["json"]


def test_env_example_lists_every_setting_of_the_contract():
    names = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert set(CONTRACT_SETTINGS + ADDED_SETTINGS) <= names
