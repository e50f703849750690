"""The sync engine end to end against a fake Meraki on `responses`: window, paging, dedupe, cursor, lease."""

import json
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import responses

from sync.models import Organization, SecurityEvent, SyncRun
from sync.services.ingest import MERAKI_MAX_LOOKBACK, sync_organization, sync_window
from sync.services.leases import acquire_lease
from tests.factories import TEST_API_KEY, ids_event, ids_events, make_organization
from tests.fakes import FakeMeraki, fast_client

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


sync = partial(sync_organization, client_factory=fast_client)


@pytest.fixture
def mock_http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def meraki(mock_http, organization):
    return FakeMeraki(mock_http, org_id=organization.meraki_org_id)


def stored(organization) -> int:
    return SecurityEvent.objects.filter(organization=organization).count()


def test_first_sync_reads_initial_lookback_and_all_pages(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=59), 25, step=timedelta(minutes=2))
    meraki.events.insert(0, ids_event(NOW - timedelta(hours=2)))  # before the first window

    run = sync(organization_id=organization.pk, now=NOW)

    assert run.status == SyncRun.Status.SUCCEEDED
    assert (run.t0, run.t1) == (NOW - timedelta(hours=1), NOW)
    assert (run.pages, run.fetched, run.created, run.duplicates) == (3, 25, 25, 0)
    assert stored(organization) == 25
    organization.refresh_from_db()
    assert organization.sync_cursor == NOW
    assert organization.last_sync_status == SyncRun.Status.SUCCEEDED
    assert organization.lease_owner == ""


def test_request_asks_for_the_window_ascending_1000_per_page(organization, meraki):
    sync(organization_id=organization.pk, now=NOW)

    params = meraki.requests[0].params
    assert params == {
        "t0": "2026-12-04T11:00:00Z",
        "t1": "2026-12-04T12:00:00Z",
        "perPage": "1000",
        "sortOrder": "ascending",
    }
    assert meraki.requests[0].headers["Authorization"] == f"Bearer {TEST_API_KEY}"


def test_pages_are_stored_as_they_arrive_not_collected_first(organization, meraki):
    """Memory must not grow with the number of events: page 1 is in the database before page 2 is asked for."""
    meraki.events = ids_events(NOW - timedelta(minutes=50), 30, step=timedelta(minutes=1))
    stored_before_request = {}
    meraki.on_request = lambda number: stored_before_request.setdefault(number, stored(organization))

    sync(organization_id=organization.pk, now=NOW)

    assert stored_before_request == {1: 0, 2: 10, 3: 20}


def test_overlapping_windows_store_each_event_once(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=39), 20, step=timedelta(minutes=2))
    sync(organization_id=organization.pk, now=NOW)
    later = NOW + timedelta(hours=1)
    meraki.events += ids_events(NOW + timedelta(minutes=1), 5, step=timedelta(minutes=5))

    run = sync(organization_id=organization.pk, now=later)

    in_overlap = 5  # events from NOW-10min to NOW are read again
    assert (run.t0, run.t1) == (NOW - timedelta(minutes=10), later)
    assert (run.fetched, run.created, run.duplicates) == (5 + in_overlap, 5, in_overlap)
    assert stored(organization) == 25


def test_rereading_the_same_window_inserts_nothing(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=30), 12)
    sync(organization_id=organization.pk, now=NOW, since=timedelta(hours=1))

    run = sync(organization_id=organization.pk, now=NOW, since=timedelta(hours=1))

    assert (run.created, run.duplicates) == (0, 12)
    assert stored(organization) == 12


def test_identical_events_in_one_page_are_stored_once(organization, meraki):
    event = ids_event(NOW - timedelta(minutes=5))
    meraki.events = [event, dict(event)]

    run = sync(organization_id=organization.pk, now=NOW)

    assert (run.fetched, run.created, run.duplicates) == (2, 1, 1)


def test_run_failing_on_page_3_moves_no_cursor_and_next_run_loses_nothing(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=55), 35, step=timedelta(minutes=1))
    meraki.failures = {3: (500, "{}"), 4: (500, "{}")}  # both attempts at page 3

    failed = sync(organization_id=organization.pk, now=NOW)

    assert failed.status == SyncRun.Status.FAILED
    assert "500" in failed.error
    assert (failed.pages, failed.created) == (2, 20)
    organization.refresh_from_db()
    assert organization.sync_cursor == failed.t0  # not moved to t1: a retry starts before this window
    assert organization.last_sync_status == SyncRun.Status.FAILED

    meraki.failures = {}
    meraki.events += ids_events(NOW + timedelta(minutes=1), 3)
    retried = sync(organization_id=organization.pk, now=NOW + timedelta(minutes=30))

    assert retried.status == SyncRun.Status.SUCCEEDED
    assert retried.t0 <= failed.t0
    assert (retried.created, retried.duplicates) == (15 + 3, 20)
    assert stored(organization) == 38


def test_late_run_reads_everything_since_the_cursor(organization, meraki):
    Organization.objects.filter(pk=organization.pk).update(sync_cursor=NOW - timedelta(hours=6))
    meraki.events = ids_events(NOW - timedelta(hours=6), 60, step=timedelta(minutes=6))

    run = sync(organization_id=organization.pk, now=NOW)

    assert run.t0 == NOW - timedelta(hours=6, minutes=10)
    assert run.created == 60


def test_window_is_clamped_to_merakis_365_day_lookback(organization):
    organization.sync_cursor = NOW - timedelta(days=800)

    t0, t1 = sync_window(organization=organization, now=NOW)

    assert (t0, t1) == (NOW - MERAKI_MAX_LOOKBACK, NOW)
    assert NOW - t0 < timedelta(days=365)


def test_since_with_a_gap_after_the_cursor_leaves_the_cursor(organization, meraki):
    cursor = NOW - timedelta(hours=5)
    Organization.objects.filter(pk=organization.pk).update(sync_cursor=cursor)

    run = sync(organization_id=organization.pk, now=NOW, since=timedelta(hours=1))

    assert run.status == SyncRun.Status.SUCCEEDED
    organization.refresh_from_db()
    assert organization.sync_cursor == cursor  # the 4 hours before the window are still to be read


def test_since_reaching_before_the_cursor_advances_it(organization, meraki):
    Organization.objects.filter(pk=organization.pk).update(sync_cursor=NOW - timedelta(hours=5))

    sync(organization_id=organization.pk, now=NOW, since=datetime(2026, 12, 1, tzinfo=UTC))

    organization.refresh_from_db()
    assert organization.sync_cursor == NOW


def test_odd_events_are_stored_flagged_and_the_run_goes_on(organization, mock_http):
    odd = [
        ids_event(NOW - timedelta(minutes=9), src="[2001:db8::1]:443", destIp="2001:db8::2"),
        {"ts": "2026-12-04T11:55:00Z", "eventType": "Brand New Type", "whatever": {"nested": [1, 2]}},
        {"eventType": "IDS Alert", "message": "no ts at all"},
        {"ts": "yesterday", "eventType": "IDS Alert"},
        {
            "ts": "2026-12-04T11:56:00Z",
            "eventType": "IDS Alert",
            "message": "nul \u0000 inside",
            "priority": "x",
        },
        {"ts": "2026-12-04T11:57:00Z", "eventType": "IDS Alert", "classification": float("nan")},
        ["not", "an", "object"],
        None,
        {"ts": "2026-12-04T11:58:00Z", "eventType": "File Scanned", "uri": "http://x/" + "a" * 5000},
    ]
    url = f"https://api.meraki.com/api/v1/organizations/{organization.meraki_org_id}/appliance/security/events"
    mock_http.get(url, body=json.dumps(odd), content_type="application/json")  # json.dumps writes NaN as NaN

    run = sync(organization_id=organization.pk, now=NOW)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert (run.fetched, run.created) == (9, 9)
    events = SecurityEvent.objects.filter(organization=organization)
    ipv6 = events.get(src_ip="2001:db8::1")
    assert (ipv6.src_port, ipv6.dest_ip, ipv6.dest_port, ipv6.parse_error) == (443, "2001:db8::2", None, "")
    assert events.get(event_type="Brand New Type").parse_error == ""
    assert "ts" in events.get(message="no ts at all").parse_error
    assert events.filter(ts=run.started_at).count() == 4  # no ts, bad ts, the list, null: the fetch time
    assert run.malformed == events.exclude(parse_error="").count() >= 5
    long_uri = events.get(event_type="File Scanned")
    assert len(long_uri.uri) == 2048 and len(long_uri.raw["uri"]) == 5009


def test_bad_api_key_fails_the_run_with_a_clear_message_on_the_organization(organization, meraki):
    meraki.failures = {1: (401, '{"errors": ["Invalid API key"]}')}

    run = sync(organization_id=organization.pk, now=NOW)

    organization.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "API key rejected" in run.error
    assert organization.last_sync_error == run.error
    assert TEST_API_KEY not in run.error
    assert len(meraki.requests) == 1


def test_organization_without_a_key_fails_with_a_clear_message(db):
    organization = make_organization(api_key=None)

    run = sync_organization(organization_id=organization.pk, now=NOW)

    assert run.status == SyncRun.Status.FAILED
    assert run.error == "no Meraki API key is set for this organization"


def test_sync_while_another_holds_the_lease_is_recorded_as_skipped(organization, meraki):
    assert acquire_lease(organization_id=organization.pk, owner="other", now=NOW, timeout=timedelta(minutes=10))

    run = sync(organization_id=organization.pk, now=NOW + timedelta(minutes=1))

    assert run.status == SyncRun.Status.SKIPPED
    assert meraki.requests == []
    organization.refresh_from_db()
    assert (organization.lease_owner, organization.sync_cursor) == ("other", None)


def test_killed_workers_lease_expires_and_its_run_is_closed(organization, meraki):
    acquire_lease(organization_id=organization.pk, owner="dead", now=NOW, timeout=timedelta(minutes=10))
    abandoned = SyncRun.objects.create(organization=organization, started_at=NOW)

    run = sync(organization_id=organization.pk, now=NOW + timedelta(minutes=11))

    assert run.status == SyncRun.Status.SUCCEEDED
    abandoned.refresh_from_db()
    assert abandoned.status == SyncRun.Status.FAILED
    assert "abandoned" in abandoned.error


def test_lost_lease_mid_run_fails_without_moving_the_cursor(organization, meraki):
    meraki.events = ids_events(NOW - timedelta(minutes=50), 25, step=timedelta(minutes=1))

    def steal_lease(request_number):
        if request_number == 2:
            Organization.objects.filter(pk=organization.pk).update(lease_owner="usurper")

    meraki.on_request = steal_lease

    run = sync(organization_id=organization.pk, now=NOW)

    assert run.status == SyncRun.Status.FAILED
    assert "lease" in run.error
    organization.refresh_from_db()
    assert organization.sync_cursor == run.t0
    assert organization.lease_owner == "usurper"  # the other run's lease is not released by us


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_syncs_of_one_organization_at_once_one_runs_one_is_skipped(mock_http):
    organization = make_organization()
    meraki = FakeMeraki(mock_http, org_id=organization.meraki_org_id)
    meraki.events = ids_events(NOW - timedelta(minutes=30), 5)
    first_is_fetching, second_is_done = threading.Event(), threading.Event()

    def hold_first_request(request_number):
        if request_number == 1:
            first_is_fetching.set()
            second_is_done.wait(timeout=20)

    meraki.on_request = hold_first_request
    results = {}

    def first():
        from django.db import connection

        results["first"] = sync(organization_id=organization.pk, now=NOW)
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_is_fetching.wait(timeout=20)
    results["second"] = sync(organization_id=organization.pk, now=NOW)
    second_is_done.set()
    thread.join(timeout=30)

    assert results["first"].status == SyncRun.Status.SUCCEEDED
    assert results["second"].status == SyncRun.Status.SKIPPED
    assert SecurityEvent.objects.filter(organization=organization).count() == 5
    assert len(meraki.requests) == 1
