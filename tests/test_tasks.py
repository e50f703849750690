"""Celery: the settings really apply, beat dispatches one sync per enabled organization, a real worker runs it."""

import time
import uuid
from datetime import timedelta

import pytest
import responses
from celery.app.defaults import NAMESPACES, flatten
from django.conf import settings
from django.utils import timezone

from meraki_incidents.celery import app
from sync.models import SyncRun
from sync.tasks import dispatch_syncs, sync_organization
from tests.factories import ids_events, make_organization
from tests.fakes import FakeMeraki

KNOWN_CELERY_SETTINGS = {key for key, _ in flatten(NAMESPACES)}


@pytest.fixture
def eager_celery():
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture
def mock_http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def test_every_celery_setting_is_one_celery_knows():
    """A misspelled CELERY_ setting is silently ignored by Celery; here it fails."""
    names = [name for name in dir(settings) if name.startswith("CELERY_")]

    unknown = [name for name in names if name.removeprefix("CELERY_").lower() not in KNOWN_CELERY_SETTINGS]

    assert len(names) >= 10
    assert unknown == []


def test_celery_settings_reach_the_app():
    conf = app.conf

    assert conf.broker_url == settings.CELERY_BROKER_URL
    assert conf.broker_transport_options == settings.CELERY_BROKER_TRANSPORT_OPTIONS
    assert (conf.task_acks_late, conf.task_reject_on_worker_lost, conf.worker_prefetch_multiplier) == (True, True, 1)
    assert (conf.task_serializer, conf.accept_content) == ("json", ["json"])
    assert conf.task_time_limit == 3600
    assert conf.beat_schedule["dispatch-syncs"]["task"] == "sync.tasks.dispatch_syncs"
    assert conf.beat_schedule["dispatch-syncs"]["schedule"] == settings.SYNC_INTERVAL.total_seconds()


def test_filesystem_broker_delivers_messages():
    """The laptop broker needs its folders configured (in and out the same); a message must round-trip."""
    if settings.REDIS_URL:
        pytest.skip("REDIS_URL is set: the broker is Redis, not the filesystem")
    with app.connection_for_write() as connection:
        queue = connection.SimpleQueue(f"test-filesystem-broker-{uuid.uuid4().hex}")
        queue.put({"hello": "broker"})
        message = queue.get(timeout=5)
        message.ack()
        queue.close()

    assert message.payload == {"hello": "broker"}


def test_redis_visibility_timeout_outlasts_the_task_time_limit():
    if not settings.REDIS_URL:
        pytest.skip("the filesystem broker has no visibility timeout")
    assert app.conf.broker_transport_options["visibility_timeout"] > app.conf.task_time_limit


def test_tasks_are_registered_under_stable_names():
    assert {"sync.tasks.dispatch_syncs", "sync.tasks.sync_organization"} <= set(app.tasks)


def test_dispatch_syncs_syncs_each_enabled_organization_once(db, eager_celery, mock_http, settings):
    now = timezone.now()
    enabled = [make_organization(), make_organization()]
    disabled = make_organization(enabled=False)
    for organization in enabled:
        FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=ids_events(now - timedelta(minutes=30), 3))
    settings.MERAKI_RATE_LIMIT_PER_SECOND = 1000

    result = dispatch_syncs.delay().get()

    assert result == {"queued": 2}
    runs = SyncRun.objects.all()
    assert sorted(run.organization_id for run in runs) == sorted(org.pk for org in enabled)
    assert {(run.status, run.created) for run in runs} == {(SyncRun.Status.SUCCEEDED, 3)}
    assert not SyncRun.objects.filter(organization=disabled).exists()


def test_sync_task_for_a_deleted_organization_is_a_no_op(db):
    assert sync_organization(987654) == {"organization": 987654, "status": "deleted"}


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_real_worker_on_redis_runs_dispatch_syncs_end_to_end(redis_url, mock_http):
    from celery.contrib.testing.worker import start_worker

    now = timezone.now()
    organizations = [make_organization(), make_organization()]
    for organization in organizations:
        FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=ids_events(now - timedelta(minutes=20), 15))
    assert app.conf.broker_url.startswith("redis://")
    app.control.purge()

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, loglevel="WARNING"):
        dispatch_syncs.delay()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).count() == 2:
                break
            time.sleep(0.2)

    runs = SyncRun.objects.order_by("organization_id")
    assert [run.organization_id for run in runs] == [org.pk for org in organizations]
    assert [(run.status, run.trigger, run.created) for run in runs] == [("succeeded", "schedule", 15)] * 2


def test_a_second_beat_within_the_interval_queues_nothing(db):
    """Only one beat should run; a second one (or a restarted beat) must not double the syncs."""
    from sync.services.organizations import claim_due_organizations

    organizations = [make_organization(), make_organization()]
    make_organization(enabled=False)
    now, interval = timezone.now(), timedelta(hours=1)

    first = claim_due_organizations(now=now, interval=interval)
    second_beat = claim_due_organizations(now=now + timedelta(minutes=5), interval=interval)
    next_tick = claim_due_organizations(now=now + interval - timedelta(seconds=30), interval=interval)

    assert first == [organization.pk for organization in organizations]
    assert second_beat == []
    assert next_tick == first  # a tick slightly early (clock drift) still dispatches
