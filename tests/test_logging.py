"""Structured logs: JSON lines with ids in production, text in development, secrets masked, task failures named."""

import io
import json
import logging
from datetime import datetime

import pytest

from meraki_incidents.celery import app
from sync.logging import REDACTED, JsonFormatter, RedactSecretsFilter, redact
from sync.tasks import log_task_failure, sync_organization
from tests.test_production_settings import REQUIRED
from tests.test_settings import START, start_django

API_KEY = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def log():
    """A logger writing through the production handler set-up (redaction filter, JSON formatter) to a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.structured")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)
    logger.propagate = True


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- JSON lines --------------------------------------------------------------------------------------------------


def test_json_formatter_writes_one_object_with_time_level_logger_and_message(log):
    logger, stream = log

    logger.warning("sync failed\nsecond line")

    (entry,) = lines(stream)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tests.structured"
    assert entry["message"] == "sync failed\nsecond line"
    assert datetime.fromisoformat(entry["time"]).utcoffset().total_seconds() == 0


def test_json_formatter_adds_extra_fields(log):
    logger, stream = log

    logger.info("promotion done", extra={"org": 3, "run": 17, "counts": {"succeeded": 2}})

    (entry,) = lines(stream)
    assert (entry["org"], entry["run"], entry["counts"]) == (3, 17, {"succeeded": 2})


def test_json_formatter_lifts_org_and_run_ids_from_the_message(log):
    logger, stream = log

    logger.info("sync started org=%s run=%s window=%s", 3, 17, "a..b")

    (entry,) = lines(stream)
    assert (entry["org"], entry["run"]) == (3, 17)
    assert entry["message"] == "sync started org=3 run=17 window=a..b"


def test_json_formatter_keeps_its_own_fields_when_an_extra_has_the_same_name(log):
    logger, stream = log

    logger.info("hello", extra={"level": "spoofed", "time": "never"})

    (entry,) = lines(stream)
    assert (entry["level"], entry["time"]) != ("spoofed", "never")


def test_json_formatter_writes_the_traceback_as_a_string(log):
    logger, stream = log

    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("sync crashed org=%s", 5)

    (entry,) = lines(stream)
    assert entry["exc_info"].startswith("Traceback (most recent call last)")
    assert entry["exc_info"].endswith("ValueError: boom")


def test_json_formatter_writes_objects_json_cannot_hold_as_text(log):
    logger, stream = log

    logger.info("at", extra={"when": datetime(2026, 1, 2, 3, 4, 5)})

    assert lines(stream)[0]["when"] == "2026-01-02 03:04:05"


# --- secrets are masked -----------------------------------------------------------------------------------------


def test_a_bearer_token_in_a_message_is_redacted(log):
    logger, stream = log

    logger.error("request failed headers=%s", {"Authorization": f"Bearer {API_KEY}"})

    assert API_KEY not in stream.getvalue()
    assert f"Bearer {REDACTED}" in lines(stream)[0]["message"]


def test_a_url_password_is_redacted_and_the_user_kept(log):
    logger, stream = log

    logger.error("cannot connect to postgres://meraki:hunter2-db-pass@db:5432/meraki")

    assert lines(stream)[0]["message"] == f"cannot connect to postgres://meraki:{REDACTED}@db:5432/meraki"


def test_secrets_in_a_traceback_and_in_extras_are_redacted(log):
    logger, stream = log

    try:
        raise RuntimeError(f"GET https://api.example.com/v1?api_key={API_KEY} failed")
    except RuntimeError:
        logger.exception("failed", extra={"url": f"redis://:{API_KEY}@redis:6379/0", "data": {"token": API_KEY}})

    assert API_KEY not in stream.getvalue()
    entry = lines(stream)[0]
    assert f"api_key={REDACTED}" in entry["exc_info"]
    assert entry["url"] == f"redis://:{REDACTED}@redis:6379/0"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {API_KEY}", f"Authorization: Bearer {REDACTED}"),
        (f"X-Cisco-Meraki-API-Key: {API_KEY}", f"X-Cisco-Meraki-API-Key: {REDACTED}"),
        (f"https://x.example.com/?api_key={API_KEY}&page=2", f"https://x.example.com/?api_key={REDACTED}&page=2"),
        ('{"client_secret": "two words"}', f'{{"client_secret": "{REDACTED}"}}'),
        ("SECRET_KEY=abc FIELD_ENCRYPTION_KEY=def", f"SECRET_KEY={REDACTED} FIELD_ENCRYPTION_KEY={REDACTED}"),
    ],
)
def test_redact_masks_credential_shapes(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "sync succeeded org=1 run=2 pages=3 fetched=712 created=712",
        "Meraki API key rejected (HTTP 401)",
        "need these environment variables: SECRET_KEY, FIELD_ENCRYPTION_KEY",
        "basic checks passed; the bearer was told",
        "<Secret: hidden>",
    ],
)
def test_redact_leaves_ordinary_lines_alone(text):
    assert redact(text) == text


def test_a_bad_format_string_is_logged_instead_of_raising(log):
    logger, stream = log

    logger.info("two placeholders %s %s", "only-one")

    assert "two placeholders" in lines(stream)[0]["message"]


# --- LOG_FORMAT in a fresh start ------------------------------------------------------------------------------

LOG_A_LINE = f"{START}; import logging; logging.getLogger('sync.probe').warning('hello org=%s', 5)"


def test_production_logs_json_lines(tmp_path):
    result = start_django(tmp_path, LOG_A_LINE, **REQUIRED)

    assert result.returncode == 0, result.stderr
    entry = json.loads(result.stderr.splitlines()[-1])
    assert (entry["logger"], entry["message"], entry["org"]) == ("sync.probe", "hello org=5", 5)


def test_development_logs_readable_text(tmp_path):
    result = start_django(tmp_path, LOG_A_LINE, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].endswith(" WARNING sync.probe hello org=5")


def test_log_format_can_be_chosen_explicitly(tmp_path):
    result = start_django(tmp_path, LOG_A_LINE, DEBUG="true", LOG_FORMAT="json")

    assert json.loads(result.stderr.splitlines()[-1])["message"] == "hello org=5"


def test_an_unknown_log_format_refuses_to_start_naming_it(tmp_path):
    result = start_django(tmp_path, START, DEBUG="true", LOG_FORMAT="xml")

    assert result.returncode != 0
    assert result.stderr.splitlines()[-1].endswith("LOG_FORMAT must be json or text, not 'xml'")


def test_celery_leaves_the_root_logger_to_django():
    assert app.conf.worker_hijack_root_logger is False


# --- Celery task failures ------------------------------------------------------------------------------------


@app.task(name="tests.test_logging.failing_task")
def failing_task(organization_id: int, trigger: str = "schedule") -> None:
    raise RuntimeError(f"organization {organization_id} exploded")


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def failure_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "sync.tasks"]


def test_a_failing_task_is_logged_with_its_task_id_and_organization(eager_celery, caplog):
    result = failing_task.delay(42)

    (record,) = failure_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"task failed task_id={result.id} task=tests.test_logging.failing_task organization=42: "
        "RuntimeError: organization 42 exploded"
    )
    assert (record.task_id, record.task, record.org) == (result.id, "tests.test_logging.failing_task", 42)


def test_the_organization_is_found_when_passed_by_name(eager_celery, caplog):
    failing_task.apply_async(kwargs={"organization_id": 7, "trigger": "manual"})

    (record,) = failure_records(caplog)
    assert record.org == 7


def test_a_failure_signal_for_a_task_without_an_organization_logs_none(caplog):
    class FakeTask:
        name = "sync.tasks.dispatch_syncs"

        def run(self):
            pass

    log_task_failure(sender=FakeTask(), task_id="abc-123", exception=KeyError("x"), args=(), kwargs={})

    (record,) = failure_records(caplog)
    assert (
        record.getMessage()
        == "task failed task_id=abc-123 task=sync.tasks.dispatch_syncs organization=None: KeyError: 'x'"
    )


def test_the_signal_handler_reads_positional_arguments_of_real_tasks(caplog):
    log_task_failure(sender=sync_organization, task_id="t-1", exception=OSError("disk"), args=(9, "manual"), kwargs={})

    (record,) = failure_records(caplog)
    assert record.org == 9
