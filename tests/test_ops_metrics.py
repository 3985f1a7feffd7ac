"""/metrics: the contract's names, route-rule labels, the token, and real gunicorn workers."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import _migrate
from tests.ops_support import family_types, get, samples, start_gunicorn, value

CONTRACT = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "llm_requests_total": "counter",
    "llm_tokens_total": "counter",
    "cache_operations_total": "counter",
    "auth_attempts_total": "counter",
    "active_sessions_total": "gauge",
    "rate_limit_exceeded_total": "counter",
    "errors_total": "counter",
}


def scrape(client, **headers) -> dict:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.data
    return samples(response.get_data(as_text=True))


def test_it_exposes_every_contract_metric_with_its_type(client):
    from app import metrics

    # Labelled counters appear once they have a value; give each one.
    metrics.count_llm_request("ask", "ok")
    metrics.count_llm_tokens("ask", "prompt", 12)
    metrics.count_cache("hit")
    client.get("/health")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    types = family_types(response.get_data(as_text=True))
    for name, kind in CONTRACT.items():
        family = name.removesuffix("_total") if kind == "counter" else name
        assert types.get(family) == kind, f"{name} missing or not a {kind}: {types.get(family)}"


def test_it_labels_requests_by_route_rule_not_raw_path(client, actors, auth):
    before = scrape(client)
    auth.login_as(actors.member)
    client.get("/log/entries/987654")
    client.get("/no/such/page/4711")
    after = scrape(client)
    assert value(after, "http_requests_total", route="/log/entries/<int:entry_id>", status="404") \
        - value(before, "http_requests_total", route="/log/entries/<int:entry_id>", status="404") == 1
    assert value(after, "http_requests_total", route="<unmatched>", status="404") \
        - value(before, "http_requests_total", route="<unmatched>", status="404") == 1
    labels = {dict(lbls).get("route") for (_n, lbls) in after}
    assert not any(label and ("987654" in label or "4711" in label) for label in labels)
    assert value(after, "http_request_duration_seconds_count", route="/health") >= 0


def test_helpers_count_llm_tokens_cache_and_auth(client, actors, auth):
    from app import metrics

    before = scrape(client)
    metrics.count_llm_request("weekly_draft", "error")
    metrics.count_llm_tokens("weekly_draft", "completion", 40)
    metrics.count_llm_tokens("weekly_draft", "completion", 0)
    metrics.count_cache("miss")
    auth.login(actors.member, "wrong password")
    auth.login(actors.member)
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("llm_requests_total", purpose="weekly_draft", outcome="error") == 1
    assert delta("llm_tokens_total", purpose="weekly_draft", kind="completion") == 40
    assert delta("cache_operations_total", cache="ask", operation="miss") == 1
    assert delta("auth_attempts_total", outcome="failure", method="password") == 1
    assert delta("auth_attempts_total", outcome="success", method="password") == 1


def test_active_sessions_is_a_database_count_at_scrape_time(client, actors, auth, app):
    assert value(scrape(client), "active_sessions_total") == 0
    auth.login_as(actors.member)
    assert value(scrape(client), "active_sessions_total") == 1
    auth.logout()
    assert value(scrape(client), "active_sessions_total") == 0


@pytest.fixture
def config_overrides():
    return {"LOGIN_RATE_LIMIT": "2/minute"}


def test_rate_limited_requests_are_counted(client):
    before = scrape(client)
    statuses = [client.post_form("/auth/login", {"email": "x@example.com", "password": "p"}).status_code
                for _ in range(3)]
    assert statuses[-1] == 429
    after = scrape(client)
    assert value(after, "rate_limit_exceeded_total", route="/auth/login") \
        - value(before, "rate_limit_exceeded_total", route="/auth/login") == 1
    assert value(after, "auth_attempts_total", outcome="rate_limited") \
        - value(before, "auth_attempts_total", outcome="rate_limited") == 1


@pytest.mark.fresh_app
def test_unhandled_errors_are_counted(app, client):
    def boom():
        raise RuntimeError("kaboom")

    app.add_url_rule("/test-boom", "test_boom", boom)
    before = scrape(client)
    assert client.get("/test-boom").status_code == 500
    after = scrape(client)
    assert value(after, "errors_total", status="500", exception="RuntimeError") \
        - value(before, "errors_total", status="500", exception="RuntimeError") == 1


def test_metrics_need_no_session_and_are_never_rate_limited(client):
    for _ in range(60):
        response = client.get("/metrics")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers


class TestToken:
    @pytest.fixture
    def config_overrides(self):
        return {"METRICS_TOKEN": "metrics-token-0123456789"}

    def test_it_refuses_a_scrape_without_the_token(self, client):
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["WWW-Authenticate"].startswith("Bearer")

    def test_it_answers_with_the_token(self, client):
        ok = client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
        assert ok.status_code == 200
        assert b"http_requests_total" in ok.data


# --- several gunicorn workers ------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'gunicorn.db'}"
    _migrate(url, tmp_path)
    return url


def _drive(url: str, n: int) -> list[int]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _i: get(url)[0], range(n)))


def test_metrics_add_up_across_gunicorn_workers(tmp_path, sqlite_url):
    server = start_gunicorn(tmp_path, sqlite_url, workers=2)
    try:
        # start_gunicorn polled /health until the server answered.
        served = value(samples(get(f"{server.url}/metrics")[1]), "http_requests_total", route="/health")
        # Until both workers have served some requests (each writes its own counter file).
        for _ in range(20):
            assert set(_drive(f"{server.url}/health", 50)) == {200}
            served += 50
            pids = {p.stem.rsplit("_", 1)[-1] for p in server.metrics_dir.glob("counter_*.db")}
            if len(pids) >= 2:
                break
        assert len(pids) >= 2, "every request went to one worker"
        assert set(_drive(f"{server.url}/no-such-page", 30)) == {404}

        # Every worker answers a scrape with the whole instance's numbers.
        for _ in range(4):
            status, text = get(f"{server.url}/metrics")
            assert status == 200
            parsed = samples(text)
            assert value(parsed, "http_requests_total", route="/health", status="200") == served
            assert value(parsed, "http_requests_total", route="<unmatched>", status="404") == 30
            assert value(parsed, "http_request_duration_seconds_count", route="/health") == served
            assert value(parsed, "active_sessions_total") == 0

        # A worker that dies keeps its counts and loses its live gauges.
        victim = min(server.worker_pids())
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60  # a bound on the cleanup, not a speed check
        while any(server.metrics_dir.glob(f"gauge_livesum_{victim}.db")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(server.metrics_dir.glob(f"gauge_livesum_{victim}.db"))
        parsed = samples(get(f"{server.url}/metrics")[1])
        assert value(parsed, "http_requests_total", route="/health", status="200") == served
        assert value(parsed, "worklog_worker_resident_memory_bytes") > 0
    finally:
        server.stop()
    assert server.proc.returncode == 0, server.log()


def test_gunicorn_wipes_the_metrics_directory_at_start(tmp_path, sqlite_url):
    stale = tmp_path / "gunicorn-metrics"
    stale.mkdir()
    (stale / "counter_1.db").write_bytes(b"left over from an earlier run")
    server = start_gunicorn(tmp_path, sqlite_url, workers=1)
    try:
        assert not (stale / "counter_1.db").exists()
        assert get(f"{server.url}/metrics")[0] == 200
    finally:
        server.stop()
