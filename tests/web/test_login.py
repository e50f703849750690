"""Sign-in: pages need a login, and repeated failed logins lock the account for a while (django-axes)."""

import pytest
from django.contrib.auth.models import User


@pytest.fixture(autouse=True)
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def analyst(db):
    return User.objects.create_user("analyst", password="right-password-1234")


def log_in(client, password: str):
    return client.post("/accounts/login/", {"username": "analyst", "password": password})


def test_pages_send_anonymous_users_to_the_login_page(client, db):
    response = client.get("/events/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/events/")


def test_the_right_password_logs_in(client, analyst):
    response = log_in(client, "right-password-1234")

    assert response.status_code == 302
    assert client.get("/").wsgi_request.user == analyst


def test_after_too_many_failures_even_the_right_password_is_refused(client, analyst, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert log_in(client, "wrong-guess").status_code == 200  # the form again, with an error
    assert log_in(client, "wrong-guess").status_code == 429  # the failure that reaches the limit locks

    locked = log_in(client, "right-password-1234")

    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_failure_below_the_limit_does_not_lock(client, analyst, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in(client, "wrong-guess")

    assert log_in(client, "right-password-1234").status_code == 302
