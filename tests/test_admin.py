"""The Django admin as a superuser uses it: the write-only API key, the two actions, the read-only records."""

import re
from datetime import timedelta

import pytest
import responses
from django.contrib import messages
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.utils import timezone

from sync.models import Incident, Organization, PromotionAttempt, SecurityEvent, SyncRun
from tests.factories import TEST_API_KEY, ids_events, make_organization
from tests.fakes import FakeMeraki

NEW_KEY = "fedcba9876543210fedcba9876543210fedcba98"
CHANGELIST = "/admin/sync/organization/"


def change_url(organization: Organization) -> str:
    return f"/admin/sync/organization/{organization.pk}/change/"


def stored_api_key(organization: Organization) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM sync_organization WHERE id = %s", [organization.pk])
        return cursor.fetchone()[0]


def change_form_data(organization: Organization, **changes) -> dict:
    data = {
        "name": organization.name,
        "meraki_org_id": organization.meraki_org_id,
        "meraki_base_url": organization.meraki_base_url,
        "enabled": "on",
        "api_key": "",
        "initial_lookback": "01:00:00",
        "overlap": "00:10:00",
        "_save": "Save",
    }
    data.update(changes)
    return data


def shown_messages(response) -> list[tuple[int, str]]:
    return [(message.level, str(message)) for message in response.context["messages"]]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """admin_client's superuser is created per test; the default hasher would spend a quarter second on each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def mock_http(settings):
    settings.MERAKI_RATE_LIMIT_PER_SECOND = 1000
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# --- the write-only API key ------------------------------------------------------------------------------------


def test_change_page_shows_neither_the_key_nor_its_ciphertext(admin_client, organization):
    response = admin_client.get(change_url(organization))

    page = response.content.decode()
    assert response.status_code == 200
    assert TEST_API_KEY not in page
    assert stored_api_key(organization) not in page


def test_change_page_tells_the_key_apart_by_its_last_four_characters(admin_client, organization):
    page = admin_client.get(change_url(organization)).content.decode()

    assert f"set, ending in …{TEST_API_KEY[-4:]}" in page


def test_changelist_shows_the_key_status_but_not_the_key(admin_client, organization):
    page = admin_client.get(CHANGELIST).content.decode()

    assert f"set, ending in …{TEST_API_KEY[-4:]}" in page
    assert TEST_API_KEY not in page


def test_change_page_says_when_no_key_is_set(admin_client, db):
    organization = make_organization(api_key="")

    page = admin_client.get(change_url(organization)).content.decode()

    assert "not set" in page


def test_api_key_input_is_an_empty_password_input(admin_client, organization):
    page = admin_client.get(change_url(organization)).content.decode()

    (api_key_input,) = re.findall(r'<input[^>]*name="api_key"[^>]*>', page)
    assert 'type="password"' in api_key_input
    assert "value=" not in api_key_input
    assert 'autocomplete="new-password"' in api_key_input


def test_saving_with_a_blank_api_key_keeps_the_stored_key(admin_client, organization):
    before = stored_api_key(organization)

    response = admin_client.post(change_url(organization), change_form_data(organization, name="Renamed"))

    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.name == "Renamed"
    assert organization.api_key.reveal() == TEST_API_KEY
    assert stored_api_key(organization) == before


def test_saving_with_a_new_api_key_replaces_the_stored_key(admin_client, organization):
    response = admin_client.post(change_url(organization), change_form_data(organization, api_key=NEW_KEY))

    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.api_key.reveal() == NEW_KEY
    assert NEW_KEY not in stored_api_key(organization)


def test_saving_with_a_blank_api_key_records_no_key_change_in_the_history(admin_client, organization):
    admin_client.post(change_url(organization), change_form_data(organization, name="Renamed"))

    assert LogEntry.objects.get().get_change_message() == "Changed Name."


def test_saving_with_a_new_api_key_records_the_key_change_in_the_history(admin_client, organization):
    admin_client.post(change_url(organization), change_form_data(organization, api_key=NEW_KEY))

    message = LogEntry.objects.get().get_change_message()
    assert message == "Changed Meraki API key."
    assert NEW_KEY not in message


def test_adding_an_organization_encrypts_its_key(admin_client, db):
    data = change_form_data(
        Organization(name="Added", meraki_org_id="777", meraki_base_url="https://api.meraki.com/api/v1")
    )

    response = admin_client.post("/admin/sync/organization/add/", {**data, "api_key": NEW_KEY})

    assert response.status_code == 302
    added = Organization.objects.get(meraki_org_id="777")
    assert added.api_key.reveal() == NEW_KEY
    assert NEW_KEY not in stored_api_key(added)


def test_rejected_form_with_a_new_key_does_not_echo_it(admin_client, organization):
    data = change_form_data(organization, api_key=NEW_KEY, meraki_base_url="https://evil.example.com/api/v1")

    response = admin_client.post(change_url(organization), data)

    page = response.content.decode()
    assert response.status_code == 200  # the form again, with the error
    assert "refused host evil.example.com" in page
    assert NEW_KEY not in page
    organization.refresh_from_db()
    assert organization.api_key.reveal() == TEST_API_KEY


# --- "Test connection" -----------------------------------------------------------------------------------------


def press_test_connection(admin_client, organization):
    return admin_client.post(
        CHANGELIST, {"action": "test_connection", "_selected_action": [organization.pk]}, follow=True
    )


def test_test_connection_reports_success_when_meraki_answers(admin_client, organization, mock_http):
    meraki = FakeMeraki(mock_http, org_id=organization.meraki_org_id)

    response = press_test_connection(admin_client, organization)

    assert response.status_code == 200
    assert shown_messages(response) == [
        (messages.SUCCESS, f"{organization.name}: connected; 0 security event(s) in the last hour on the first page")
    ]
    assert meraki.requests[0].headers["Authorization"] == f"Bearer {TEST_API_KEY}"


def test_test_connection_reports_a_rejected_key_without_a_stack_trace(admin_client, organization, mock_http):
    mock_http.add(
        responses.GET,
        f"{organization.meraki_base_url}/organizations/{organization.meraki_org_id}/appliance/security/events",
        status=401,
        json={"errors": ["Invalid API key"]},
    )

    response = press_test_connection(admin_client, organization)

    page = response.content.decode()
    assert response.status_code == 200
    ((level, text),) = shown_messages(response)
    assert level == messages.ERROR
    assert "API key rejected" in text
    assert "Traceback" not in page
    assert TEST_API_KEY not in page


def test_test_connection_reports_a_missing_key(admin_client, db, mock_http):
    organization = make_organization(api_key="")

    response = press_test_connection(admin_client, organization)

    assert shown_messages(response) == [
        (messages.ERROR, f"{organization.name}: no Meraki API key is set for this organization")
    ]


# --- "Sync now" ------------------------------------------------------------------------------------------------


@pytest.fixture
def eager_celery():
    from meraki_incidents.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield app
    app.conf.task_always_eager = previous


def sync_now(admin_client, *organizations):
    return admin_client.post(
        CHANGELIST, {"action": "sync_now", "_selected_action": [o.pk for o in organizations]}, follow=True
    )


def test_sync_now_runs_a_manual_sync_after_commit(
    admin_client, organization, mock_http, eager_celery, django_capture_on_commit_callbacks
):
    events = ids_events(timezone.now() - timedelta(minutes=30), 4, step=timedelta(minutes=1))
    FakeMeraki(mock_http, org_id=organization.meraki_org_id, events=events)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = sync_now(admin_client, organization)

    assert len(callbacks) == 1  # the sync (no promotion: this organization has no account or room)
    assert shown_messages(response) == [(messages.SUCCESS, "Sync queued for 1 organization(s).")]
    run = SyncRun.objects.get(organization=organization)
    assert (run.trigger, run.status, run.created) == (SyncRun.Trigger.MANUAL, SyncRun.Status.SUCCEEDED, 4)


def test_sync_now_queues_nothing_before_the_commit(
    admin_client, organization, mock_http, eager_celery, django_capture_on_commit_callbacks
):
    meraki = FakeMeraki(mock_http, org_id=organization.meraki_org_id)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sync_now(admin_client, organization)

    assert len(callbacks) == 1
    assert meraki.requests == []
    assert not SyncRun.objects.exists()


def test_sync_now_queues_one_sync_per_selected_organization(
    admin_client, mock_http, eager_celery, django_capture_on_commit_callbacks, db
):
    organizations = [make_organization() for _ in range(2)]
    for organization in organizations:
        FakeMeraki(mock_http, org_id=organization.meraki_org_id)

    with django_capture_on_commit_callbacks(execute=True):
        response = sync_now(admin_client, *organizations)

    assert shown_messages(response) == [(messages.SUCCESS, "Sync queued for 2 organization(s).")]
    synced = sorted(SyncRun.objects.filter(trigger=SyncRun.Trigger.MANUAL).values_list("organization", flat=True))
    assert synced == sorted(o.pk for o in organizations)


# --- read-only records -----------------------------------------------------------------------------------------


@pytest.fixture
def sync_run(organization) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        organization=organization,
        started_at=now - timedelta(seconds=5),
        finished_at=now,
        status=SyncRun.Status.SUCCEEDED,
        t0=now - timedelta(hours=1),
        t1=now,
        pages=1,
        fetched=2,
        created=2,
    )


def make_event(organization: Organization, run: SyncRun, *, src_ip: str, fingerprint: str) -> SecurityEvent:
    return SecurityEvent.objects.create(
        organization=organization,
        first_seen_run=run,
        ts=timezone.now() - timedelta(minutes=10),
        event_type="IDS Alert",
        fingerprint=fingerprint,
        raw={"srcIp": src_ip},
        priority=1,
        src_ip=src_ip,
        dest_ip="198.51.100.20",
        signature="1:21516:9",
    )


@pytest.fixture
def events(organization, sync_run) -> tuple[SecurityEvent, SecurityEvent]:
    return (
        make_event(organization, sync_run, src_ip="192.0.2.10", fingerprint="a" * 64),
        make_event(organization, sync_run, src_ip="203.0.113.99", fingerprint="b" * 64),
    )


def event_link(event: SecurityEvent) -> str:
    return f"/admin/sync/securityevent/{event.pk}/change/"


def test_sync_run_changelist_renders(admin_client, sync_run):
    response = admin_client.get("/admin/sync/syncrun/")

    assert response.status_code == 200
    assert f"/admin/sync/syncrun/{sync_run.pk}/change/" in response.content.decode()


def test_security_event_changelist_renders(admin_client, events):
    response = admin_client.get("/admin/sync/securityevent/")

    page = response.content.decode()
    assert response.status_code == 200
    assert all(event_link(event) in page for event in events)


def test_security_event_search_finds_the_matching_event_only(admin_client, events):
    matching, other = events

    response = admin_client.get("/admin/sync/securityevent/", {"q": "192.0.2.10"})

    page = response.content.decode()
    assert response.status_code == 200
    assert event_link(matching) in page
    assert event_link(other) not in page


@pytest.mark.parametrize("model", ["syncrun", "securityevent"])
def test_read_only_records_have_no_add_page(admin_client, db, model):
    assert admin_client.get(f"/admin/sync/{model}/add/").status_code == 403


def test_sync_run_change_post_is_refused(admin_client, sync_run):
    response = admin_client.post(f"/admin/sync/syncrun/{sync_run.pk}/change/", {"status": SyncRun.Status.FAILED})

    assert response.status_code == 403
    sync_run.refresh_from_db()
    assert sync_run.status == SyncRun.Status.SUCCEEDED


def test_security_event_change_post_is_refused(admin_client, events):
    event = events[0]

    response = admin_client.post(event_link(event), {"src_ip": "10.0.0.1"})

    assert response.status_code == 403
    event.refresh_from_db()
    assert event.src_ip == "192.0.2.10"


def test_read_only_record_change_page_is_viewable(admin_client, sync_run):
    response = admin_client.get(f"/admin/sync/syncrun/{sync_run.pk}/change/")

    assert response.status_code == 200
    assert 'name="_save"' not in response.content.decode()


def test_sync_run_cannot_be_deleted(admin_client, sync_run):
    response = admin_client.post(f"/admin/sync/syncrun/{sync_run.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert SyncRun.objects.filter(pk=sync_run.pk).exists()


def test_incident_changelist_links_to_the_console_with_the_url_escaped(admin_client, organization):
    Incident.objects.create(
        organization=organization,
        ctia_id="https://private.intel.amp.cisco.com/ctia/incident/incident-1",
        external_id="meraki-incidents-incident-x",
        title="<script>alert(1)</script>",
        severity="High",
        status="New",
        console_url='https://xdr.us.security.cisco.com/incidents/incident-1?a="><img src=x onerror=alert(1)>',
    )

    response = admin_client.get("/admin/sync/incident/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert admin_client.get("/admin/sync/incident/add/").status_code == 403


def test_event_page_shows_the_history_of_promotion_attempts(admin_client, organization):
    event = SecurityEvent.objects.create(
        organization=organization, fingerprint="f" * 64, raw={}, event_type="IDS Alert", ts=timezone.now()
    )
    PromotionAttempt.objects.create(
        event=event, kind="promotion", trigger="sync", outcome="failed", error="Threat Response said no (HTTP 400)"
    )

    response = admin_client.get(f"/admin/sync/securityevent/{event.pk}/change/")

    assert response.status_code == 200
    assert "Threat Response said no (HTTP 400)" in response.content.decode()


def test_api_tokens_are_listed_in_admin_without_their_keys(admin_client, admin_user):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=admin_user)

    page = admin_client.get("/admin/authtoken/tokenproxy/").content.decode()

    assert f"{token.key[:4]}…" in page
    assert token.key not in page


def test_incident_changelist_never_links_a_non_http_console_url(admin_client, organization):
    Incident.objects.create(
        organization=organization,
        ctia_id="https://private.intel.amp.cisco.com/ctia/incident/incident-2",
        external_id="meraki-incidents-incident-y",
        title="t",
        severity="High",
        status="New",
        console_url="javascript:alert(1)",
    )

    page = admin_client.get("/admin/sync/incident/").content.decode()

    assert "javascript:alert(1)" not in page
