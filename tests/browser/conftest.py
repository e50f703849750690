"""Playwright driving the system Chromium (headless) against pytest-django's live server.

The playwright package is imported inside the fixtures, so collecting these tests needs neither it nor Chromium:
tests/conftest.py skips ``browser`` tests (or fails them in CI) when either is missing. Chromium is the Debian
package at /usr/bin/chromium; `playwright install` (a download) is never used.
"""

import pytest
from django.db import connections

from tests.conftest import CHROMIUM
from tests.factories import ensure_role_groups

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000  # a page of the live server answers in well under a second: fail rather than hang


@pytest.fixture
def browser(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread. Django then sees an async context: its
    # async-unsafe check would refuse the test's own ORM calls (allowed only while a browser test runs), and the
    # database connections opened meanwhile are kept apart from the thread's usual ones, so they are closed here
    # (else PostgreSQL refuses to drop the test database: "being accessed by other users").
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()


@pytest.fixture
def page(browser, live_server):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def role_groups(db) -> None:
    ensure_role_groups()
