"""Retention: old events never eligible for promotion are deleted in batches; everything an analyst acts on stays."""

from datetime import timedelta
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from meraki_incidents.celery import app
from sync.models import Incident, PromotionAttempt, PromotionStatus, SecurityEvent
from sync.services.retention import delete_expired_events
from sync.tasks import delete_expired_events as delete_expired_events_task

NOW = timezone.now()
OLD = NOW - timedelta(days=181)
RECENT = NOW - timedelta(days=179)
_fingerprints = count(1)


@pytest.fixture(autouse=True)
def retention_180_days(settings):
    settings.EVENT_RETENTION = timedelta(days=180)


def make_event(organization, ts, status=PromotionStatus.NOT_ELIGIBLE, **fields) -> SecurityEvent:
    return SecurityEvent.objects.create(
        organization=organization,
        ts=ts,
        fingerprint=f"{next(_fingerprints):064x}",
        raw={},
        event_type="IDS Alert",
        promotion_status=status,
        **fields,
    )


def remaining() -> set[int]:
    return set(SecurityEvent.objects.values_list("pk", flat=True))


def test_old_events_never_eligible_are_deleted(organization):
    old = [make_event(organization, OLD) for _ in range(3)]

    deleted = delete_expired_events(now=NOW)

    assert deleted == 3
    assert not SecurityEvent.objects.filter(pk__in=[event.pk for event in old]).exists()


@pytest.mark.parametrize("status", [PromotionStatus.PROMOTED, PromotionStatus.PENDING, PromotionStatus.FAILED])
def test_old_events_that_are_or_may_become_incidents_are_kept(organization, status):
    kept = make_event(organization, OLD, status)

    assert delete_expired_events(now=NOW) == 0
    assert remaining() == {kept.pk}


def test_recent_events_are_kept(organization):
    recent = make_event(organization, RECENT)
    make_event(organization, OLD)

    assert delete_expired_events(now=NOW) == 1
    assert remaining() == {recent.pk}


def test_incidents_and_promoted_events_survive_with_their_history(organization):
    incident = Incident.objects.create(
        organization=organization, ctia_id="incident-1", external_id="x", title="t", severity="High", status="New"
    )
    promoted = make_event(organization, OLD, PromotionStatus.PROMOTED, incident=incident)
    PromotionAttempt.objects.create(
        event=promoted, kind="promotion", trigger="sync", outcome=PromotionAttempt.Outcome.SUCCEEDED
    )
    make_event(organization, OLD)

    delete_expired_events(now=NOW)

    assert remaining() == {promoted.pk}
    assert Incident.objects.filter(pk=incident.pk).exists()
    assert PromotionAttempt.objects.filter(event=promoted).count() == 1


def test_deletes_in_batches_until_nothing_is_left(organization):
    for _ in range(5):
        make_event(organization, OLD)
    kept = make_event(organization, OLD, PromotionStatus.FAILED)

    with CaptureQueriesContext(connection) as queries:
        deleted = delete_expired_events(now=NOW, batch_size=2)

    assert deleted == 5
    assert remaining() == {kept.pk}
    deletes = [query["sql"] for query in queries if query["sql"].startswith('DELETE FROM "sync_securityevent"')]
    assert len(deletes) == 3  # 2 + 2 + 1


@pytest.mark.parametrize("disabled", [None, timedelta(0)])
def test_disabled_retention_deletes_nothing(organization, settings, disabled):
    settings.EVENT_RETENTION = disabled
    old = make_event(organization, NOW - timedelta(days=3650))

    assert delete_expired_events(now=NOW) == 0
    assert remaining() == {old.pk}


def test_a_shorter_retention_deletes_sooner(organization, settings):
    settings.EVENT_RETENTION = timedelta(days=7)
    make_event(organization, NOW - timedelta(days=8))
    week_old = make_event(organization, NOW - timedelta(days=6))

    assert delete_expired_events(now=NOW) == 1
    assert remaining() == {week_old.pk}


def test_the_task_deletes_and_reports_the_count(organization):
    make_event(organization, timezone.now() - timedelta(days=400))

    assert delete_expired_events_task() == {"deleted": 1}
    assert remaining() == set()


def test_beat_runs_retention_daily():
    entry = app.conf.beat_schedule["delete-expired-events"]

    assert entry["task"] == "sync.tasks.delete_expired_events"
    assert entry["task"] in app.tasks
    assert entry["schedule"].remaining_estimate(timezone.now()) <= timedelta(days=1)


# --- the EVENT_RETENTION setting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "180 days, 0:00:00"), ("30d", "30 days, 0:00:00"), ("0", "None"), ("", "None")],
)
def test_event_retention_setting(tmp_path, value, expected):
    from tests.test_settings import START, start_django

    variables = {} if value is None else {"EVENT_RETENTION": value}
    code = f"{START}; from django.conf import settings; print(settings.EVENT_RETENTION)"

    result = start_django(tmp_path, code, DEBUG="true", **variables)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected
