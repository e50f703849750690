"""Promotion rules: the defaults match the original workflow; each rule can be switched off or tuned."""

from datetime import UTC, datetime, timedelta

import pytest
import responses

from sync.models import PromotionStatus, SecurityEvent
from sync.services.ingest import sync_organization
from sync.services.rules import is_eligible
from tests.factories import ids_event, make_organization
from tests.fakes import FakeMeraki, fast_client

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def event(**fields) -> SecurityEvent:
    fields.setdefault("event_type", "IDS Alert")
    fields.setdefault("disposition", "")
    return SecurityEvent(**fields)


@pytest.mark.parametrize(
    ("fields", "eligible"),
    [
        ({"event_type": "File Scanned", "disposition": "Malicious"}, True),
        ({"event_type": "File Scanned", "disposition": "malicious"}, True),
        ({"event_type": "File Scanned", "disposition": "Clean"}, False),
        ({"event_type": "File Scanned", "disposition": "Unknown"}, False),
        ({"event_type": "Malware Downloaded"}, True),
        ({"event_type": "IDS Alert", "priority": 1}, True),
        ({"event_type": "IDS Alert", "priority": 2}, False),
        ({"event_type": "IDS Alert", "priority": None}, False),
        ({"event_type": "Content Filtering Block", "priority": 1}, False),
    ],
)
def test_default_rules_promote_malware_and_ids_priority_1(db, fields, eligible):
    assert is_eligible(event(**fields), organization=make_organization()) is eligible


def test_ids_threshold_is_configurable(db):
    organization = make_organization(ids_priority_threshold=3)

    assert is_eligible(event(priority=3), organization=organization)
    assert not is_eligible(event(priority=4), organization=organization)


def test_each_rule_can_be_switched_off(db):
    no_malware = make_organization(promote_malware=False)
    no_ids = make_organization(promote_ids=False)

    assert not is_eligible(event(event_type="Malware Downloaded"), organization=no_malware)
    assert is_eligible(event(priority=1), organization=no_malware)
    assert not is_eligible(event(priority=1), organization=no_ids)
    assert is_eligible(event(event_type="File Scanned", disposition="Malicious"), organization=no_ids)


def test_sync_marks_eligible_events_pending_and_others_not_eligible(organization):
    with responses.RequestsMock() as mock:
        meraki = FakeMeraki(mock, org_id=organization.meraki_org_id)
        start = NOW - timedelta(minutes=30)
        meraki.events = [ids_event(start, priority=1), ids_event(start + timedelta(minutes=1), priority=3)]

        sync_organization(organization_id=organization.pk, now=NOW, client_factory=fast_client)

    statuses = dict(SecurityEvent.objects.values_list("priority", "promotion_status"))
    assert statuses == {1: PromotionStatus.PENDING, 3: PromotionStatus.NOT_ELIGIBLE}
    assert SecurityEvent.objects.get(priority=1).notification_status == "pending"
