"""Real headless Chromium (Debian's package) driven by Playwright, and a live app server."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, service_missing

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def sign_in(page, user, landing: str = r"/log$") -> None:
    """Sign `user` in through the login form and wait for the page it lands on."""
    page.goto("/auth/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(landing))


def wait_until(page, expression: str, arg=None, timeout: float = 30.0) -> None:
    """Poll a JavaScript predicate until it is true.

    page.wait_for_function would poll inside the page with eval, which the app's CSP
    (no 'unsafe-eval') refuses whenever the first check is false; page.evaluate goes through
    the DevTools protocol, which the CSP does not govern.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression, arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} s: {expression}")
        time.sleep(0.01)


def chromium_path() -> str | None:
    given = os.environ.get("CHROMIUM_PATH")
    if given and os.path.exists(given):
        return given
    return shutil.which("chromium") or shutil.which("chromium-browser")


class LiveServer:
    """The app served on 127.0.0.1 by a threaded Werkzeug server for one test."""

    def __init__(self, app: Flask) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    if path is None:
        service_missing("Chromium is not installed (Debian: apt-get install chromium); browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def page(browser, live_server: LiveServer) -> Iterator[object]:
    context = browser.new_context(base_url=live_server.url, locale="en-US")
    pg = context.new_page()
    errors: list[str] = []
    # A CSP violation or a script error shows up here; the tests assert there are none.
    # (Chromium also logs every 4xx answer as "Failed to load resource"; those are expected
    # when a test submits a wrong password, and are checked by status in the tests.)
    pg.on(
        "console",
        lambda msg: errors.append(msg.text)
        if msg.type == "error" and not msg.text.startswith("Failed to load resource")
        else None,
    )
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()
