"""Load test: signed-in people browsing, searching and writing their work log.

Accounts come from LOADTEST_USERS ("email:password,email:password"); each simulated person
signs in once with one of them. The target's LOGIN_RATE_LIMIT must allow that many sign-ins
from the load generator's address (loadtest/run.py --serve starts a local server that does).
Scenarios and thresholds: loadtest/run.py.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import threading
from datetime import date

import requests
from locust import HttpUser, between, task

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
ENTRY_LINK = re.compile(r'href="/log/entries/(\d+)"')
SEARCHES = ["결제", "리팩터링", "deploy", "review", "migration", "API", "incident", "성능", "test"]
FILTERS = ["impact=High", "impact=Medium", "category=Engineering", "tag=python", "from=2020-01-01"]


def _accounts() -> list[tuple[str, str]]:
    raw = os.environ.get("LOADTEST_USERS", "")
    accounts = [tuple(item.split(":", 1)) for item in raw.split(",") if ":" in item]
    if not accounts:
        raise SystemExit("Set LOADTEST_USERS=email:password[,email:password...] "
                         "(or use loadtest/run.py --serve)")
    return accounts  # type: ignore[return-value]


_next_account = itertools.cycle(_accounts())
_lock = threading.Lock()


class LoggedInPerson(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        """Sign in once, outside the measurements.

        A sign-in spends ~0.3 s of CPU on Argon2id by design; a crowd of them at the start
        would measure the password hash, not the browsing the thresholds are about.
        """
        with _lock:
            self.email, password = next(_next_account)
        with requests.Session() as signin:
            page = signin.get(f"{self.host}/auth/login", timeout=60)
            self.csrf = self._token(page.text)
            response = signin.post(f"{self.host}/auth/login", timeout=60, data={
                "email": self.email, "password": password, "csrf_token": self.csrf})
            if "/auth/login" in response.url:
                raise SystemExit(f"Sign-in failed for {self.email} ({response.status_code})")
            # Signing in starts a new session, and with it a new CSRF token.
            log_page = signin.get(f"{self.host}/log", timeout=60)
            self.csrf = self._token(log_page.text)
            self.entry_ids: list[str] = ENTRY_LINK.findall(log_page.text)[:30]
            self.client.cookies.update(signin.cookies)

    @staticmethod
    def _token(html: str) -> str:
        match = CSRF.search(html)
        return match.group(1) if match else ""

    @task(5)
    def browse(self) -> None:
        response = self.client.get("/log", name="/log")
        self.csrf = self._token(response.text) or self.csrf
        self.entry_ids = ENTRY_LINK.findall(response.text)[:30] or self.entry_ids

    @task(3)
    def search(self) -> None:
        self.client.get("/log", params={"q": random.choice(SEARCHES)}, name="/log?q=",
                        headers={"HX-Request": "true"})

    @task(2)
    def filter(self) -> None:
        self.client.get(f"/log?{random.choice(FILTERS)}", name="/log?filter", headers={"HX-Request": "true"})

    @task(2)
    def read_entry(self) -> None:
        if self.entry_ids:
            self.client.get(f"/log/entries/{random.choice(self.entry_ids)}", name="/log/entries/<id>")

    @task(1)
    def write_entry(self) -> None:
        self.client.post(
            "/log/entries",
            data={
                "csrf_token": self.csrf, "work_date": date.today().isoformat(),
                "title": f"Load test entry {random.randint(1, 10**6)}",
                "situation": "Load testing the work log.", "action": "Wrote an entry under load.",
                "category": "Engineering", "impact": random.choice(["Low", "Medium", "High"]),
                "tags": "loadtest, python",
            },
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf},
            name="/log/entries [POST]",
        )

    @task(1)
    def health(self) -> None:
        self.client.get("/health", name="/health")
