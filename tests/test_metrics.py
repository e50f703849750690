"""Prometheus metrics: /metrics only when enabled, and the services count per organization."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import responses
from prometheus_client import REGISTRY

from sync.metrics import record_notification, record_promotion
from sync.models import SecurityEvent, SyncRun, ThreatResponseAccount, WebexRoom
from sync.services.attempts import AttemptCounts
from sync.services.ingest import store_events, sync_organization
from sync.services.notification import notify_events
from sync.services.organizations import OrganizationConfigError
from sync.services.promotion import promote_events
from tests.factories import ids_event, ids_events, make_organization
from tests.fakes import FakeMeraki, fast_client

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
METRIC_NAMES = [
    "meraki_incidents_events_fetched_total",
    "meraki_incidents_events_created_total",
    "meraki_incidents_events_promoted_total",
    "meraki_incidents_promotion_failures_total",
    "meraki_incidents_notifications_sent_total",
    "meraki_incidents_notification_failures_total",
    "meraki_incidents_sync_duration_seconds",
    "meraki_incidents_meraki_rate_limited_total",
    "meraki_incidents_sync_runs_total",
]

sync = partial(sync_organization, client_factory=fast_client, now=NOW)


def sample(name: str, **labels) -> float:
    """A sample's current value (0 before its first increment), from this process's registry."""
    labels = {key: str(value) for key, value in labels.items()}
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Delta:
    """How much samples grew between construction and a call: the registry is shared by every test."""

    def __init__(self, **samples: tuple[str, dict]):
        self.samples = samples
        self.before = {key: sample(name, **labels) for key, (name, labels) in samples.items()}

    def __call__(self) -> dict[str, float]:
        return {key: sample(name, **labels) - self.before[key] for key, (name, labels) in self.samples.items()}


@pytest.fixture
def metrics_settings(settings):
    settings.METRICS_ENABLED = True
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    return settings


@pytest.fixture
def mock_http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def meraki(mock_http, organization):
    return FakeMeraki(mock_http, org_id=organization.meraki_org_id, page_size=10)


def sync_deltas(organization) -> Delta:
    org = {"organization_id": organization.pk}
    return Delta(
        fetched=("meraki_incidents_events_fetched_total", org),
        created=("meraki_incidents_events_created_total", org),
        rate_limited=("meraki_incidents_meraki_rate_limited_total", org),
        succeeded=("meraki_incidents_sync_runs_total", {**org, "status": "succeeded"}),
        failed=("meraki_incidents_sync_runs_total", {**org, "status": "failed"}),
        timed=("meraki_incidents_sync_duration_seconds_count", {**org, "status": "succeeded"}),
    )


def test_metrics_are_not_found_when_disabled(client, settings):
    settings.METRICS_ENABLED = False
    settings.PROMETHEUS_MULTIPROC_DIR = ""
    assert client.get("/metrics").status_code == 404


def test_metrics_serve_the_text_exposition_without_login_when_enabled(client, metrics_settings):
    record_promotion(1, AttemptCounts())  # labelled metrics show samples once a child exists
    record_notification(1, AttemptCounts())
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    for name in METRIC_NAMES:
        assert name in text


def test_metrics_speak_openmetrics_to_a_scraper_that_asks(client, metrics_settings):
    response = client.get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().rstrip().endswith("# EOF")


def test_a_sync_counts_fetched_and_created_events_for_its_organization(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=50), 25, step=timedelta(minutes=1))
    deltas = sync_deltas(organization)
    other = Delta(fetched=("meraki_incidents_events_fetched_total", {"organization_id": organization.pk + 1000}))

    run = sync(organization_id=organization.pk)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert deltas() == {"fetched": 25, "created": 25, "rate_limited": 0, "succeeded": 1, "failed": 0, "timed": 1}
    assert other() == {"fetched": 0}


def test_rereading_a_window_counts_fetched_but_not_created(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=50), 12, step=timedelta(minutes=1))
    sync(organization_id=organization.pk)
    deltas = sync_deltas(organization)

    sync(organization_id=organization.pk, since=timedelta(hours=1))

    assert deltas()["fetched"] == 12
    assert deltas()["created"] == 0


def test_a_429_from_meraki_is_counted_for_its_organization(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=50), 5, step=timedelta(minutes=1))
    meraki.failures[1] = (429, '{"errors": ["Too many requests"]}')
    deltas = sync_deltas(organization)

    run = sync(organization_id=organization.pk)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert run.rate_limited == 1
    assert deltas()["rate_limited"] == 1
    assert deltas()["created"] == 5


def test_a_failed_sync_is_counted_by_status(organization, meraki):
    meraki.failures[1] = (401, '{"errors": ["Invalid API key"]}')
    deltas = sync_deltas(organization)

    run = sync(organization_id=organization.pk)

    assert run.status == SyncRun.Status.FAILED
    assert deltas()["failed"] == 1
    assert deltas()["succeeded"] == 0


def test_record_promotion_counts_promoted_and_failed_events_per_organization(db):
    org = {"organization_id": 42}
    deltas = Delta(
        promoted=("meraki_incidents_events_promoted_total", org),
        failed=("meraki_incidents_promotion_failures_total", {**org, "outcome": "failed"}),
        retry=("meraki_incidents_promotion_failures_total", {**org, "outcome": "retry"}),
    )

    record_promotion(42, AttemptCounts(succeeded=3, failed=2, retry=1))

    assert deltas() == {"promoted": 3, "failed": 2, "retry": 1}


def test_record_notification_counts_sent_and_failed_events_per_organization(db):
    org = {"organization_id": 43}
    deltas = Delta(
        sent=("meraki_incidents_notifications_sent_total", org),
        failed=("meraki_incidents_notification_failures_total", {**org, "outcome": "failed"}),
        retry=("meraki_incidents_notification_failures_total", {**org, "outcome": "retry"}),
    )

    record_notification(43, AttemptCounts(succeeded=5, failed=0, retry=4))

    assert deltas() == {"sent": 5, "failed": 0, "retry": 4}


def _pending_events(organization, n: int) -> None:
    run = SyncRun.objects.create(organization=organization, started_at=NOW)
    store_events(
        organization=organization, run=run, raw_events=[ids_event(NOW - timedelta(minutes=i)) for i in range(n)]
    )


def _refuse(**kwargs):
    raise OrganizationConfigError("credentials rejected")


def test_promote_events_counts_failures_for_its_organization(db):
    account = ThreatResponseAccount.objects.create(name="TR", client_id="client", client_secret="secret")
    organization = make_organization(threat_response_account=account)
    _pending_events(organization, 3)
    labels = {"organization_id": organization.pk, "outcome": "failed"}
    failed = Delta(failed=("meraki_incidents_promotion_failures_total", labels))

    counts = promote_events(organization_id=organization.pk, client_factory=_refuse)

    assert counts.failed == 3
    assert failed() == {"failed": 3}


def test_notify_events_counts_failures_for_its_organization(db):
    room = WebexRoom.objects.create(name="SOC", room_title="SOC", bot_token="token")
    organization = make_organization(webex_room=room)
    _pending_events(organization, 2)
    assert SecurityEvent.objects.filter(organization=organization).count() == 2
    labels = {"organization_id": organization.pk, "outcome": "failed"}
    failed = Delta(failed=("meraki_incidents_notification_failures_total", labels))

    counts = notify_events(organization_id=organization.pk, client_factory=_refuse)

    assert counts.failed == 2
    assert failed() == {"failed": 2}


def test_metrics_add_up_every_process_in_multiprocess_mode(client, metrics_settings, tmp_path):
    # Another process (a Celery worker) counts into the shared folder; this one (the web server) reports it.
    script = (
        "import django; django.setup();"
        "from sync.metrics import record_promotion; from sync.services.attempts import AttemptCounts;"
        "record_promotion(987654, AttemptCounts(succeeded=4))"
    )
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "meraki_incidents.settings",
    }
    subprocess.run([sys.executable, "-W", "ignore", "-c", script], env=env, check=True, timeout=60)  # noqa: S603
    metrics_settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert 'meraki_incidents_events_promoted_total{organization_id="987654"} 4.0' in response.content.decode()
