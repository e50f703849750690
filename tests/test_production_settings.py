"""Production hardening: `check --deploy` is clean with only the required variables, and the HTTPS defaults.

Complements tests/test_settings.py (which covers refusing to start without each required variable) and reuses its
fresh-interpreter helper: each subprocess sees only the variables given here, no DATABASE_URL, no .env values
of the test run itself.
"""

import json

import pytest
from cryptography.fernet import Fernet
from django.http import HttpResponse
from django.middleware.security import SecurityMiddleware
from django.test import RequestFactory

from tests.test_settings import START, start_django

# check --deploy warns about a SECRET_KEY shorter than 50 characters (security.W009): use a real one.
REQUIRED = {
    "DEBUG": "false",
    "SECRET_KEY": "k7#Qv2!pX9zL0rT4wY8uB3nM6cF1hJ5dS-aE=gR_oI+lK*eW^&tU",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "incidents.example.com",
}
CHECK_DEPLOY = (
    "import runpy, sys; "
    "sys.argv = ['manage.py', 'check', '--deploy', '--fail-level', 'WARNING']; "
    "runpy.run_path('manage.py', run_name='__main__')"
)
HTTPS_SETTINGS = (
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_PROXY_SSL_HEADER",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
)
PRINT_HTTPS_SETTINGS = (
    f"{START}; import json; from django.conf import settings; "
    f"print(json.dumps({{name: getattr(settings, name, None) for name in {HTTPS_SETTINGS!r}}}))"
)


def https_settings(tmp_path, **variables) -> dict:
    result = start_django(tmp_path, PRINT_HTTPS_SETTINGS, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


# --- check --deploy ----------------------------------------------------------------------------------------------


def test_check_deploy_passes_with_only_the_four_required_variables(tmp_path):
    result = start_django(tmp_path, CHECK_DEPLOY, **REQUIRED)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_fails_when_https_is_turned_off(tmp_path):
    """The same command does catch a weakened deployment: the test above is not passing vacuously."""
    result = start_django(tmp_path, CHECK_DEPLOY, **REQUIRED, SECURE_HSTS_SECONDS="0", SECURE_SSL_REDIRECT="false")

    assert result.returncode != 0
    assert "security.W004" in result.stderr
    assert "security.W008" in result.stderr


def test_check_deploy_without_a_required_variable_fails_naming_it(tmp_path):
    variables = {name: value for name, value in REQUIRED.items() if name != "FIELD_ENCRYPTION_KEY"}

    result = start_django(tmp_path, CHECK_DEPLOY, **variables)

    assert result.returncode != 0
    assert result.stderr.splitlines()[-1].endswith("need these environment variables: FIELD_ENCRYPTION_KEY")


# --- the HTTPS defaults -------------------------------------------------------------------------------------------


def test_production_defaults_are_secure(tmp_path):
    assert https_settings(tmp_path, **REQUIRED) == {
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_REDIRECT_EXEMPT": [r"^healthz$", r"^readyz$", r"^metrics$"],
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "X_FRAME_OPTIONS": "DENY",
    }


def test_development_serves_plain_http_without_hsts(tmp_path):
    values = https_settings(tmp_path, DEBUG="true")

    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_SECURE"] is False


def test_https_settings_can_be_overridden_in_production(tmp_path):
    values = https_settings(
        tmp_path, **REQUIRED, SECURE_HSTS_SECONDS="3600", SECURE_HSTS_PRELOAD="false", SECURE_SSL_REDIRECT="false"
    )

    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_HSTS_PRELOAD"], values["SECURE_SSL_REDIRECT"]) == (
        3600,
        False,
        False,
    )


def test_empty_https_variables_keep_the_production_defaults(tmp_path):
    """`.env.example` lists them empty; copying it as is must not turn HTTPS off."""
    empty = {name: "" for name in ("SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD", "SECURE_SSL_REDIRECT")}

    values = https_settings(tmp_path, **REQUIRED, **empty)

    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_HSTS_PRELOAD"], values["SECURE_SSL_REDIRECT"]) == (
        31_536_000,
        True,
        True,
    )


def test_x_forwarded_proto_is_trusted_only_when_configured(tmp_path):
    values = https_settings(tmp_path, **REQUIRED, TRUST_X_FORWARDED_PROTO="true")

    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


# --- the redirect exemptions, through Django's SecurityMiddleware -------------------------------------------------


@pytest.fixture
def production_redirects(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.ALLOWED_HOSTS = ["incidents.example.com"]
    return SecurityMiddleware(lambda request: HttpResponse("ok"))


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_health_probes_are_answered_over_plain_http(production_redirects, path):
    response = production_redirects(RequestFactory().get(path, HTTP_HOST="incidents.example.com"))

    assert response.status_code == 200


@pytest.mark.parametrize("path", ["/admin/", "/healthz/extra", "/xhealthz"])
def test_everything_else_is_redirected_to_https(production_redirects, path):
    response = production_redirects(RequestFactory().get(path, HTTP_HOST="incidents.example.com"))

    assert response.status_code == 301
    assert response["Location"] == f"https://incidents.example.com{path}"
