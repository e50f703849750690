"""Start-up settings, checked in a fresh interpreter: production refuses missing secrets; SQLite defaults; durations.

Each subprocess gets only the environment given here (no DATABASE_URL, no REDIS_URL), so it sees the defaults
whichever database the test run itself uses.
"""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from sync.durations import parse_duration

REPO_ROOT = Path(__file__).resolve().parent.parent
START = "import django; django.setup()"
PRODUCTION = {
    "SECRET_KEY": "a-production-secret-key-for-the-start-up-test",
    "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "incidents.example.com",
}


def start_django(tmp_path: Path, code: str = START, **variables: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "meraki_incidents.settings",
        "VAR_DIR": str(tmp_path / "var"),
        **variables,
    }
    return subprocess.run(  # noqa: S603 -- our own interpreter running our own code
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )


# --- production refuses to start without its secrets ---------------------------------------------------------


def test_production_without_any_secret_refuses_to_start_naming_all_three(tmp_path):
    result = start_django(tmp_path, DEBUG="false")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"):
        assert name in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"])
def test_production_missing_one_variable_refuses_to_start_naming_it(tmp_path, missing):
    present = {name: value for name, value in PRODUCTION.items() if name != missing}

    result = start_django(tmp_path, DEBUG="false", **present)

    assert result.returncode != 0
    last_line = result.stderr.splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured")
    assert last_line.endswith(f"need these environment variables: {missing}")


@pytest.mark.parametrize("empty", ["SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS"])
def test_production_with_an_empty_variable_refuses_to_start_naming_it(tmp_path, empty):
    result = start_django(tmp_path, DEBUG="false", **{**PRODUCTION, empty: ""})

    assert result.returncode != 0
    assert result.stderr.splitlines()[-1].endswith(f"need these environment variables: {empty}")


def test_production_with_all_three_variables_starts(tmp_path):
    code = f"{START}; from django.conf import settings; print(settings.DEBUG, settings.ALLOWED_HOSTS)"

    result = start_django(tmp_path, code, DEBUG="false", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False ['incidents.example.com']"
    assert "RuntimeWarning" not in result.stderr


def test_production_encrypts_with_the_configured_key(tmp_path):
    code = f"{START}; from sync.crypto import encrypt; print(encrypt('the-api-key'))"

    result = start_django(tmp_path, code, DEBUG="false", **PRODUCTION)

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().encode()
    assert Fernet(PRODUCTION["FIELD_ENCRYPTION_KEY"]).decrypt(token) == b"the-api-key"


# --- development -----------------------------------------------------------------------------------------------


def test_development_without_field_encryption_key_starts_with_a_runtime_warning(tmp_path):
    result = start_django(tmp_path, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert "RuntimeWarning: FIELD_ENCRYPTION_KEY is not set" in result.stderr


def test_development_with_field_encryption_key_starts_without_the_warning(tmp_path):
    result = start_django(tmp_path, DEBUG="true", FIELD_ENCRYPTION_KEY=PRODUCTION["FIELD_ENCRYPTION_KEY"])

    assert result.returncode == 0, result.stderr
    assert "FIELD_ENCRYPTION_KEY is not set" not in result.stderr


# --- the SQLite defaults ---------------------------------------------------------------------------------------

PROBE_SQLITE = f"""
{START}
import json
from django.db import connection, transaction
with connection.cursor() as cursor:
    pragmas = {{
        name: cursor.execute(f"PRAGMA {{name}}").fetchone()[0]
        for name in ("journal_mode", "busy_timeout", "synchronous")
    }}
connection.force_debug_cursor = True
connection.queries_log.clear()
with transaction.atomic():
    connection.cursor().execute("SELECT 1")
print(json.dumps({{"vendor": connection.vendor, **pragmas, "sql": [q["sql"] for q in connection.queries]}}))
"""


@pytest.fixture(scope="module")
def default_sqlite(tmp_path_factory) -> dict:
    """The default database of a fresh start (no DATABASE_URL), as its live connection reports it."""
    result = start_django(tmp_path_factory.mktemp("sqlite"), PROBE_SQLITE, DEBUG="true")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_default_database_is_a_sqlite_file_in_var_dir(tmp_path):
    code = f"{START}; from django.conf import settings; print(settings.DATABASES['default']['NAME'])"

    result = start_django(tmp_path, code, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "var" / "db.sqlite3")


def test_default_sqlite_uses_write_ahead_logging(default_sqlite):
    assert default_sqlite["vendor"] == "sqlite"
    assert default_sqlite["journal_mode"] == "wal"
    assert default_sqlite["synchronous"] == 1  # NORMAL: safe with WAL, one fsync per checkpoint


def test_default_sqlite_waits_20_seconds_for_a_lock(default_sqlite):
    assert default_sqlite["busy_timeout"] == 20_000


def test_default_sqlite_transactions_take_the_write_lock_up_front(default_sqlite):
    assert default_sqlite["sql"][0] == "BEGIN IMMEDIATE"


# --- durations (SYNC_INTERVAL, SYNC_LEASE_TIMEOUT, --since, --initial-lookback) --------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("10m", timedelta(minutes=10)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("45", timedelta(seconds=45)),
        ("1.5h", timedelta(minutes=90)),
        (" 2H ", timedelta(hours=2)),
        ("30 m", timedelta(minutes=30)),
    ],
)
def test_parse_duration_reads_human_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("value", [120, 120.0, timedelta(minutes=2)])
def test_parse_duration_takes_numbers_as_seconds_and_timedeltas_as_is(value):
    assert parse_duration(value) == timedelta(minutes=2)


@pytest.mark.parametrize("text", ["", "h", "2x", "-5m", "2 hours", "1h30m", "ten minutes", "2026-12-01T00:00:00"])
def test_parse_duration_refuses_anything_else_with_value_error(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
