"""Shared fixtures and the service marks.

Tests marked ``postgres`` or ``redis`` need the real service: they skip with a reason where it is absent (a
laptop's `make test`) and run in CI's PostgreSQL + Redis pass, where CI_REQUIRE_SERVICES=1 turns a skip into a
failure so a broken service can't pass silently. Tests marked ``browser`` need the system Chromium and the
playwright package the same way (CI installs Chromium; `playwright install` is never used).
"""

import importlib.util
import os
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.factories import make_organization
from tests.simulated import link_to_simulator, mount_simulator

CHROMIUM = Path("/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI_REQUIRE_SERVICES"):
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _unavailable("needs PostgreSQL: set DATABASE_URL=postgres://... (runs in CI's PostgreSQL + Redis pass)")
    if item.get_closest_marker("browser"):
        if not CHROMIUM.exists():
            _unavailable(f"needs Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)")
        if importlib.util.find_spec("playwright") is None:
            _unavailable("needs the playwright package: pip install -r requirements-dev.txt")


@pytest.fixture
def redis_url() -> str:
    """The URL of a live Redis, or a skip when none is configured or answering."""
    url = settings.REDIS_URL
    if not url:
        _unavailable("needs Redis: set REDIS_URL=redis://... (runs in CI's PostgreSQL + Redis pass)")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis at REDIS_URL does not answer: {exc}")
    return url


@pytest.fixture
def organization(db):
    return make_organization()


@pytest.fixture
def simulator(live_server, settings) -> str:
    """The built-in simulator on the live server; its base URL."""
    return mount_simulator(live_server, settings)


@pytest.fixture
def simulated_organization(simulator):
    """An organization promoting to the simulated Threat Response and notifying the simulated Webex room."""
    return link_to_simulator(simulator)
