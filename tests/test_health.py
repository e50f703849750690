"""Liveness and readiness probes: /healthz touches nothing, /readyz names what is down and never a secret."""

import socket

import pytest
from django.db import OperationalError, connections

from sync.health import safe_message

PASSWORD = "s3cret"


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: bound, then closed (connections to it are refused at once)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_stopped(settings, closed_port) -> str:
    """Cache and broker pointed at a Redis that is not running, with a password in the URL."""
    url = f"redis://:{PASSWORD}@127.0.0.1:{closed_port}/0"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    settings.CELERY_BROKER_URL = url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    return url


@pytest.fixture
def database_stopped(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    # Every cursor, on an open connection too, goes through ensure_connection: the boundary a dead server fails.
    monkeypatch.setattr(connections["default"], "ensure_connection", refuse)


@pytest.mark.django_db
def test_healthz_answers_ok_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_healthz_needs_no_login_no_database_and_is_not_cached(client):
    # No django_db mark: pytest-django refuses any database connection here.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_when_database_broker_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok", "cache": "ok"}}


@pytest.mark.django_db
def test_readyz_answers_head_requests(client):
    assert client.head("/readyz").status_code == 200


@pytest.mark.django_db
def test_stopped_redis_makes_readyz_unavailable_naming_cache_and_broker(client, redis_stopped):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"] == {"database": "ok", "broker": "error", "cache": "error"}
    assert set(body["errors"]) == {"broker", "cache"}
    for error in body["errors"].values():
        assert error["error"]  # the exception's class
        assert error["message"]


@pytest.mark.django_db
def test_readyz_never_shows_a_password_from_a_url(client, redis_stopped):
    response = client.get("/readyz")
    assert response.status_code == 503
    assert PASSWORD not in response.content.decode()


@pytest.mark.django_db
def test_stopped_database_makes_readyz_unavailable_naming_the_database(client, database_stopped):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "error"
    assert body["checks"]["cache"] == "ok"
    assert body["errors"]["database"]["error"] == "OperationalError"
    assert "Connection refused" in body["errors"]["database"]["message"]


def test_missing_filesystem_broker_folder_makes_the_broker_check_fail(settings, tmp_path):
    from sync.health import check_broker

    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "gone")}
    with pytest.raises(FileNotFoundError):
        check_broker()


def test_writable_filesystem_broker_folders_pass_and_stay_empty(settings, tmp_path):
    from sync.health import check_broker

    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path), "control_folder": str(tmp_path)}
    check_broker()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text",
    [
        "Error connecting to redis://:s3cret@10.0.0.5:6379/0",
        "could not connect to postgres://app:s3cret@db:5432/x (timeout)",
        "amqp://user:s3cret@rabbit// refused",
    ],
)
def test_safe_message_removes_passwords_from_urls(text):
    message = safe_message(Exception(text))
    assert PASSWORD not in message
    assert "***@" in message


def test_safe_message_removes_a_configured_password_quoted_without_its_url(settings):
    settings.CELERY_BROKER_URL = f"redis://:{PASSWORD}@127.0.0.1:6379/0"
    assert PASSWORD not in safe_message(Exception(f"AUTH {PASSWORD} failed"))


def test_safe_message_is_short():
    assert len(safe_message(Exception("x" * 5000))) <= 200
