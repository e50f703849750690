"""Promotion and notification against the built-in simulator over real HTTP (pytest-django's live_server).

The product's real clients talk to the simulated Threat Response (which validates CTIM and implements CTIA's
bundle-import semantics) and Webex; tests count what those received.
"""

import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from sync.models import (
    Incident,
    NotificationStatus,
    PromotionAttempt,
    PromotionStatus,
    SecurityEvent,
    SyncRun,
    WebexRoom,
)
from sync.services.accounts import build_threat_response_client, build_webex_client
from sync.services.ctim import build_event_entities
from sync.services.ingest import store_events
from sync.services.notification import notify_events
from sync.services.promotion import promote_events
from sync.services.repush import repush_events
from sync.simulator.models import CtiaEntity, SimulatedFault, SimulatedWebexMessage
from sync.simulator.threatresponse import store
from tests.factories import ids_event
from tests.simulated import CLIENT_ID

OFFICIAL_EVENTS = json.loads((Path(__file__).parent / "fixtures/meraki/official_example_events.json").read_text())
no_wait = {"sleep": lambda seconds: None, "max_attempts": 2}
tr_client = partial(build_threat_response_client, **no_wait)
webex_client = partial(build_webex_client, **no_wait)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def organization(simulated_organization):
    return simulated_organization


def ingest(organization, raw_events) -> list[SecurityEvent]:
    """Store events through the real ingest path (eligibility decided by the organization's rules)."""
    run = SyncRun.objects.create(organization=organization, started_at=datetime.now(UTC))
    store_events(organization=organization, run=run, raw_events=raw_events)
    return list(SecurityEvent.objects.filter(organization=organization).order_by("pk"))


def promote(organization, **options):
    return promote_events(organization_id=organization.pk, client_factory=tr_client, **options)


def notify(organization, **options):
    return notify_events(organization_id=organization.pk, client_factory=webex_client, **options)


def ctia_counts() -> dict[str, int]:
    return {
        kind: CtiaEntity.objects.filter(entity_type=kind).count() for kind in ("sighting", "incident", "relationship")
    }


def test_eligible_events_become_sighting_incident_and_relationship(organization):
    events = ingest(organization, OFFICIAL_EVENTS)  # File Scanned Malicious, IDS priority 2, IDS priority 1

    counts = promote(organization)

    assert (counts.succeeded, counts.failed, counts.retry) == (2, 0, 0)
    assert ctia_counts() == {"sighting": 2, "incident": 2, "relationship": 2}
    promoted = [event for event in events if event.priority != 2]
    for event in promoted:
        event.refresh_from_db()
        assert event.promotion_status == PromotionStatus.PROMOTED
        assert CtiaEntity.objects.get(entity_id=event.ctia_sighting_id).entity_type == "sighting"
        relationship = CtiaEntity.objects.get(entity_id=event.ctia_relationship_id).body
        assert (relationship["source_ref"], relationship["target_ref"]) == (
            event.ctia_sighting_id,
            event.incident.ctia_id,
        )
        assert relationship["relationship_type"] == "member-of"
    not_eligible = next(event for event in events if event.priority == 2)
    not_eligible.refresh_from_db()
    assert not_eligible.promotion_status == PromotionStatus.NOT_ELIGIBLE
    assert Incident.objects.count() == 2
    assert set(PromotionAttempt.objects.values_list("outcome", flat=True)) == {"succeeded"}


def test_promoting_again_and_repushing_create_nothing_new(organization):
    ingest(organization, OFFICIAL_EVENTS)
    promote(organization)
    before = ctia_counts()
    # As if our side had lost the answer: the events look pending again and are imported a second time.
    SecurityEvent.objects.filter(promotion_status=PromotionStatus.PROMOTED).update(promotion_status="pending")

    promote(organization)
    repush_events(organization_ids=[organization.pk], event_ids=SecurityEvent.objects.values_list("pk", flat=True))

    assert ctia_counts() == before
    assert Incident.objects.count() == 2
    assert SecurityEvent.objects.filter(promotion_status=PromotionStatus.PROMOTED).count() == 2


def test_a_partly_created_event_is_completed_without_duplicates(organization):
    (event,) = [e for e in ingest(organization, OFFICIAL_EVENTS[:1])]
    entities = build_event_entities(
        event, organization_key=organization.external_id_key, event_url="http://x/", promoted_at=datetime.now(UTC)
    )
    # Only the sighting reached Threat Response before (the incident failed then).
    tr_client(account=organization.threat_response_account).import_bundle(
        {"type": "bundle", "source": "test", "sightings": [entities.sighting]}
    )

    promote(organization)

    assert ctia_counts() == {"sighting": 1, "incident": 1, "relationship": 1}
    event.refresh_from_db()
    assert event.promotion_status == PromotionStatus.PROMOTED


def test_server_errors_leave_events_pending_and_the_next_run_completes_them(organization):
    ingest(organization, OFFICIAL_EVENTS)
    SimulatedFault.objects.create(api="threatresponse", kind="server_error", remaining=10)

    first = promote(organization)

    assert (first.succeeded, first.retry) == (0, 2)
    pending = SecurityEvent.objects.filter(promotion_status=PromotionStatus.PENDING)
    assert pending.count() == 2
    assert "unavailable" in pending.first().promotion_error
    assert ctia_counts() == {"sighting": 0, "incident": 0, "relationship": 0}

    SimulatedFault.objects.all().delete()
    second = promote(organization)

    assert second.succeeded == 2
    assert ctia_counts() == {"sighting": 2, "incident": 2, "relationship": 2}
    assert list(pending.values_list("promotion_attempts", flat=True)) == []


def test_a_rejected_bundle_marks_events_failed_and_a_repush_after_the_fix_succeeds(organization):
    ingest(organization, OFFICIAL_EVENTS)
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)  # the token passes

    first = promote(organization)

    assert first.failed == 2
    failed = SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED)
    assert failed.count() == 2 and "HTTP 400" in failed.first().promotion_error
    assert promote(organization).succeeded == 0  # failed events wait for a re-push

    results = repush_events(organization_ids=[organization.pk])

    assert results[organization.pk].promotion.succeeded == 2
    assert ctia_counts() == {"sighting": 2, "incident": 2, "relationship": 2}
    history = PromotionAttempt.objects.filter(kind="promotion").order_by("created_at", "id")
    assert [(a.trigger, a.outcome) for a in history[:2]] == [("sync", "failed")] * 2
    assert {(a.trigger, a.outcome) for a in history[2:]} == {("analyst", "succeeded")}


def test_an_expired_token_is_renewed_mid_run(organization):
    ingest(organization, OFFICIAL_EVENTS)
    client = tr_client(account=organization.threat_response_account)
    client.check_credentials()
    # The simulator issued this token 11 minutes ago: it answers 401 to it, as Threat Response would.
    client._token = store.issue_token(client_id=CLIENT_ID, issued_at=time.time() - 11 * 60)

    counts = promote_events(organization_id=organization.pk, client_factory=lambda account: client)

    assert counts.succeeded == 2
    assert client.tokens_fetched == 2


def test_promoting_500_events_takes_a_handful_of_requests(organization):
    start = datetime.now(UTC) - timedelta(hours=2)
    ingest(organization, [ids_event(start + timedelta(seconds=i), src=f"192.0.2.{i % 250 + 1}:{1024 + i}")
                          for i in range(500)])  # fmt: skip
    clients = []

    def counting_client(account):
        clients.append(tr_client(account=account))
        return clients[-1]

    counts = promote_events(organization_id=organization.pk, client_factory=counting_client)

    assert counts.succeeded == 500
    assert clients[0].requests_sent <= 3  # one token, one or two bundle imports: not 1,500 requests
    assert ctia_counts() == {"sighting": 500, "incident": 500, "relationship": 500}


def test_notification_posts_one_message_per_promoted_event_with_its_incident_link(organization):
    ingest(organization, OFFICIAL_EVENTS)
    promote(organization)

    counts = notify(organization)

    assert counts.succeeded == 2
    messages = list(SimulatedWebexMessage.objects.order_by("id"))
    assert len(messages) == 2
    incident = Incident.objects.first()
    assert any(incident.console_url in message.markdown for message in messages)
    sent = SecurityEvent.objects.filter(notification_status=NotificationStatus.SENT)
    assert sorted(sent.values_list("webex_message_id", flat=True)) == sorted(m.message_id for m in messages)


def test_many_promoted_events_make_one_digest(organization):
    start = datetime.now(UTC) - timedelta(hours=1)
    ingest(organization, [ids_event(start + timedelta(seconds=i), src=f"192.0.2.{i + 1}:4000") for i in range(8)])
    promote(organization)

    notify(organization)

    assert SimulatedWebexMessage.objects.count() == 1
    assert SecurityEvent.objects.filter(notification_status=NotificationStatus.SENT).count() == 8


def test_notification_waits_for_promotion(organization):
    ingest(organization, OFFICIAL_EVENTS)

    counts = notify(organization)

    assert counts.succeeded == 0
    assert SimulatedWebexMessage.objects.count() == 0


def test_a_missing_webex_room_fails_notification_clearly_while_promotion_succeeds(organization):
    WebexRoom.objects.filter(pk=organization.webex_room_id).update(room_title="No such room")
    ingest(organization, OFFICIAL_EVENTS)

    promotion = promote(organization)
    notification = notify(organization)

    assert (promotion.succeeded, notification.failed) == (2, 2)
    event = SecurityEvent.objects.filter(notification_status=NotificationStatus.FAILED).first()
    assert "invite the bot" in event.notification_error
    assert event.promotion_status == PromotionStatus.PROMOTED


def test_notification_can_be_repushed_on_its_own(organization):
    ingest(organization, OFFICIAL_EVENTS)
    promote(organization)
    SimulatedFault.objects.create(api="webex", kind="bad_request", remaining=5)
    notify(organization)
    assert SecurityEvent.objects.filter(notification_status=NotificationStatus.FAILED).count() == 2
    SimulatedFault.objects.all().delete()
    before = ctia_counts()

    results = repush_events(organization_ids=[organization.pk], promotion=False)

    assert results[organization.pk].notification.succeeded == 2
    assert ctia_counts() == before
