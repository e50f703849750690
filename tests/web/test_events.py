"""The events list and event detail pages: permissions, filters, search, keyset paging, re-push, escaping."""

import json
from datetime import UTC, datetime, timedelta
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sync.models import (
    Incident,
    NotificationStatus,
    PromotionAttempt,
    PromotionStatus,
    SecurityEvent,
    SyncRun,
    ThreatResponseAccount,
)
from sync.selectors.events import encode_cursor, event_page
from sync.services.ingest import store_events
from sync.web import views_events
from tests.factories import ids_event, make_organization

pytestmark = pytest.mark.django_db

EVENTS_URL = reverse("web:events")
REPUSH_URL = reverse("web:events_repush")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
_fingerprints = count(1)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
MARKDOWN = "[x](javascript:alert(1))"
HOSTILE = [SCRIPT, IMG, MARKDOWN]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(name: str, *codenames: str, group: str | None = None) -> User:
    user = User.objects.create_user(name, password="pw")
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="sync", codename__in=codenames))
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def analyst(client) -> User:
    """A member of the Analyst group (view + re-push), logged in with the default test client."""
    user = make_user("analyst", group="Analyst")
    client.force_login(user)
    return user


@pytest.fixture
def viewer_client() -> Client:
    """Logged in with view permission only: no re-push."""
    client = Client()
    client.force_login(make_user("viewer", "view_securityevent"))
    return client


@pytest.fixture
def stranger_client() -> Client:
    """Logged in without any permission."""
    client = Client()
    client.force_login(make_user("stranger"))
    return client


def make_event(organization, **fields) -> SecurityEvent:
    fields.setdefault("ts", NOW)
    fields.setdefault("event_type", "IDS Alert")
    fields.setdefault("fingerprint", f"{next(_fingerprints):064x}")
    fields.setdefault("raw", {"eventType": fields["event_type"]})
    return SecurityEvent.objects.create(organization=organization, **fields)


def shown(response) -> list[int]:
    assert response.status_code == 200
    return [event.pk for event in response.context["page"].items]


def no_secret_organization(**fields):
    """Its Threat Response account has no secret: a re-push fails at once, without the network, but is recorded."""
    account = ThreatResponseAccount.objects.create(name=f"TR {next(_fingerprints)}", client_id="client")
    return make_organization(threat_response_account=account, **fields)


def failed_event(organization, **fields) -> SecurityEvent:
    fields.setdefault("promotion_status", PromotionStatus.FAILED)
    fields.setdefault("promotion_error", "HTTP 400 from Threat Response")
    fields.setdefault("promotion_attempts", 1)
    return make_event(organization, **fields)


# Permissions


@pytest.mark.parametrize("url", [EVENTS_URL, "/events/1/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


@pytest.mark.parametrize("url", [REPUSH_URL, "/events/1/repush/"])
def test_anonymous_repush_is_sent_to_the_login_page(client, url):
    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_without_view_permission_gets_403(stranger_client, organization):
    event = make_event(organization)

    assert stranger_client.get(EVENTS_URL).status_code == 403
    assert stranger_client.get(f"/events/{event.pk}/").status_code == 403


def test_an_analyst_sees_the_list_and_the_detail(client, analyst, organization):
    event = make_event(organization)

    assert shown(client.get(EVENTS_URL)) == [event.pk]
    assert client.get(f"/events/{event.pk}/").status_code == 200


def test_a_superuser_sees_the_list(client, organization):
    client.force_login(User.objects.create_superuser("root", password="pw"))

    assert client.get(EVENTS_URL).status_code == 200


def test_an_unknown_event_is_404(client, analyst):
    assert client.get("/events/999999/").status_code == 404


def test_the_repush_controls_show_only_with_the_permission(client, analyst, viewer_client, organization):
    make_event(organization)

    assert b"Re-push selected" in client.get(EVENTS_URL).content
    assert b"Re-push selected" not in viewer_client.get(EVENTS_URL).content
    assert b'name="event"' not in viewer_client.get(EVENTS_URL).content


def test_the_list_is_newest_first_and_links_each_row_to_its_detail(client, analyst, organization):
    old = make_event(organization, ts=NOW - timedelta(hours=1))
    new = make_event(organization, ts=NOW)

    response = client.get(EVENTS_URL)

    assert shown(response) == [new.pk, old.pk]
    assert f'href="/events/{new.pk}/"'.encode() in response.content
    assert f'href="/events/{old.pk}/"'.encode() in response.content


def test_the_list_shows_the_row_fields(client, analyst, organization):
    make_event(
        organization,
        src_ip="192.0.2.10",
        src_port=51000,
        dest_ip="2001:db8::1",
        dest_port=443,
        priority=2,
        client_name="laptop-7",
        client_mac="a1:b2:c3:d4:e5:f6",
        disposition="Malicious",
        blocked=True,
        message="m" * 300,
        promotion_status=PromotionStatus.FAILED,
        notification_status=NotificationStatus.PENDING,
    )

    page = client.get(EVENTS_URL).content.decode()

    assert "192.0.2.10:51000" in page and "[2001:db8::1]:443" in page
    assert "laptop-7" in page and "a1:b2:c3:d4:e5:f6" in page and "Malicious" in page and "blocked" in page
    assert f'title="{"m" * 300}"' in page and "m" * 300 + "<" not in page  # truncated in the cell
    assert '<span class="status failed">Failed</span>' in page
    assert '<span class="status pending">Pending</span>' in page
    assert "1 shown; no more match" in page


def test_times_are_shown_in_the_users_time_zone(client, analyst, organization, settings):
    settings.TIME_ZONE = "Europe/Paris"
    make_event(organization, ts=NOW)

    page = client.get(EVENTS_URL).content.decode()

    assert "2026-03-10 13:00:00" in page and "Times in Europe/Paris" in page


def test_an_empty_list_says_so(client, analyst):
    response = client.get(EVENTS_URL)

    assert b"No events yet" in response.content


def test_an_empty_filtered_list_offers_to_clear_the_filters(client, analyst, organization):
    make_event(organization)

    response = client.get(EVENTS_URL, {"q": "nothing-like-this"})

    assert b"No events match these filters" in response.content


# Filters


@pytest.fixture
def catalog(organization):
    other = make_organization(name="Other org")
    return {
        "ids": make_event(
            organization,
            ts=NOW,
            event_type="IDS Alert",
            priority=1,
            blocked=True,
            src_ip="192.0.2.10",
            src_port=51000,
            dest_ip="198.51.100.20",
            dest_port=80,
            client_mac="a1:b2:c3:d4:e5:f6",
            device_mac="00:18:0a:01:02:03",
            signature="1:21516:9",
            message="SERVER-WEBAPP JBoss JMX console",
            promotion_status=PromotionStatus.FAILED,
            notification_status=NotificationStatus.FAILED,
        ),
        "malware": make_event(
            other,
            ts=NOW - timedelta(days=1),
            event_type="File Scanned",
            disposition="Malicious",
            blocked=False,
            src_ip="192.0.2.99",
            dest_ip="203.0.113.5",
            client_ip="10.0.0.5",
            client_mac="10:dd:b1:eb:88:f8",
            file_hash="3ec1b9a95fe62aa25fc959643a0f227b76d253094681934daaf628d3574b3463",
            canonical_name="PUA.Win.Dropper.Kraddare::1201",
            promotion_status=PromotionStatus.PROMOTED,
            notification_status=NotificationStatus.SENT,
        ),
        "low": make_event(
            organization,
            ts=NOW - timedelta(days=2),
            event_type="IDS Alert",
            priority=3,
            client_ip="10.0.0.9",
            client_name="Reception-Laptop",
            message="POLICY-OTHER scan",
            signature="1:25975:2",
        ),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"event_type": "File Scanned"}, {"malware"}),
        ({"priority": "1"}, {"ids"}),
        ({"priority": "3"}, {"low"}),
        ({"disposition": "Malicious"}, {"malware"}),
        ({"blocked": "yes"}, {"ids"}),
        ({"blocked": "no"}, {"malware"}),
        ({"promotion": "failed"}, {"ids"}),
        ({"promotion": "not_eligible"}, {"low"}),
        ({"notification": "sent"}, {"malware"}),
        ({"since": "2026-03-09T00:00:00Z"}, {"ids", "malware"}),
        ({"since": "2026-03-09T00:00"}, {"ids", "malware"}),  # an HTML datetime-local value
        ({"until": "2026-03-09T12:00:01+00:00"}, {"low", "malware"}),
        ({"until": "2026-03-09T12:00:00+00:00"}, {"low"}),  # until is exclusive
        ({"since": "2026-03-09T12:00:00+00:00"}, {"ids", "malware"}),  # since is inclusive
        ({"since": "2026-03-08T00:00", "until": "2026-03-09T00:00"}, {"low"}),
        ({"event_type": "IDS Alert", "priority": "1", "blocked": "yes"}, {"ids"}),
    ],
)
def test_each_filter_narrows_the_list(client, analyst, catalog, params, expected):
    response = client.get(EVENTS_URL, params)

    assert set(shown(response)) == {catalog[name].pk for name in expected}


def test_the_organization_filter(client, analyst, catalog, organization):
    response = client.get(EVENTS_URL, {"organization": organization.pk})

    assert set(shown(response)) == {catalog["ids"].pk, catalog["low"].pk}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("192.0.2.10", {"ids"}),  # source
        ("203.0.113.5", {"malware"}),  # destination
        ("10.0.0.9", {"low"}),  # client
        ("192.0.2.10:51000", {"ids"}),  # address and port
        ("192.0.2.10:51001", set()),
        ("A1-B2-C3-D4-E5-F6", {"ids"}),  # client MAC, any case and separator
        ("00:18:0A:01:02:03", {"ids"}),  # device MAC
        ("3EC1B9A95FE62AA25FC959643A0F227B76D253094681934DAAF628D3574B3463", {"malware"}),
        ("1:25975:2", {"low"}),  # signature
        ("jboss", {"ids"}),  # words of the message
        ("reception-laptop", {"low"}),  # client name
        ("Kraddare", {"malware"}),  # canonical name
        ("  jboss  ", {"ids"}),
    ],
)
def test_search(client, analyst, catalog, q, expected):
    response = client.get(EVENTS_URL, {"q": q})

    assert set(shown(response)) == {catalog[name].pk for name in expected}


def test_an_invalid_filter_is_reported_and_ignored(client, analyst, catalog):
    response = client.get(EVENTS_URL, {"priority": "9", "event_type": "File Scanned"})

    assert shown(response) == [catalog["malware"].pk]
    assert b"Select a valid choice" in response.content


def test_the_form_keeps_its_values(client, analyst, catalog, organization):
    response = client.get(EVENTS_URL, {"q": "jboss", "organization": organization.pk, "blocked": "yes"})

    page = response.content.decode()
    assert 'name="q" value="jboss"' in page
    assert f'<option value="{organization.pk}" selected>' in page
    assert '<option value="yes" selected>' in page


def test_an_iso_time_from_a_url_is_shown_in_the_pickers_format(client, analyst, settings):
    settings.TIME_ZONE = "Europe/Paris"

    response = client.get(EVENTS_URL, {"since": "2026-03-09T00:00:00Z", "until": "2026-03-09T10:30:15+00:00"})

    assert b'name="since" value="2026-03-09T01:00"' in response.content
    assert b'name="until" value="2026-03-09T11:30:15"' in response.content


def test_every_filter_has_a_label(client, analyst):
    page = client.get(EVENTS_URL).content.decode()

    for name in (
        "organization",
        "event_type",
        "priority",
        "disposition",
        "blocked",
        "promotion",
        "notification",
        "since",
        "until",
        "q",
    ):
        assert f'<label for="id_{name}">' in page


# Paging


def test_paging_walks_120_events_with_equal_timestamps_without_gaps_or_duplicates(client, analyst, organization):
    # Three timestamps, 40 events each: only the id separates events within a timestamp.
    SecurityEvent.objects.bulk_create(
        SecurityEvent(organization=organization, ts=NOW - timedelta(seconds=i % 3), fingerprint=f"{i:064x}")
        for i in range(120)
    )
    expected = list(SecurityEvent.objects.order_by("-ts", "-id").values_list("pk", flat=True))

    pages, url = [], EVENTS_URL
    while url:
        response = client.get(url)
        pages.append(shown(response))
        page = response.context["page"]
        url = f"{EVENTS_URL}?cursor={page.next_cursor}" if page.next_cursor else None

    assert [len(p) for p in pages] == [50, 50, 20]
    assert [pk for p in pages for pk in p] == expected


def test_the_next_page_link_keeps_the_filters_and_the_first_page_link_drops_the_cursor(client, analyst, organization):
    SecurityEvent.objects.bulk_create(
        SecurityEvent(
            organization=organization, ts=NOW - timedelta(minutes=i), event_type="IDS Alert", fingerprint=f"{i:064x}"
        )
        for i in range(60)
    )

    first = client.get(EVENTS_URL, {"event_type": "IDS Alert"})
    cursor = first.context["page"].next_cursor
    second = client.get(EVENTS_URL, {"event_type": "IDS Alert", "cursor": cursor})

    assert b"50 shown; more match" in first.content
    assert f'href="?event_type=IDS+Alert&amp;cursor={cursor}"'.encode() in first.content
    assert b"First page" not in first.content
    assert len(shown(second)) == 10
    assert b'href="/events/?event_type=IDS+Alert">First page</a>' in second.content
    assert b"Next page" not in second.content


@pytest.mark.parametrize("cursor", ["garbage", "!!!", encode_cursor(SecurityEvent(ts=NOW, pk=1))[:-3] + "zzz", "MA"])
def test_an_invalid_cursor_shows_the_first_page_with_a_message(client, analyst, organization, cursor):
    event = make_event(organization)

    response = client.get(EVENTS_URL, {"cursor": cursor})

    assert shown(response) == [event.pk]
    assert b"That page link is not valid" in response.content


def test_the_page_selector_refuses_a_cursor_without_a_time_zone(organization):
    import base64

    cursor = base64.urlsafe_b64encode(b"2026-03-10T12:00:00|5").decode()

    with pytest.raises(ValueError):
        event_page(queryset=SecurityEvent.objects.all(), cursor=cursor)


def make_page_events(organizations: list, n: int) -> None:
    for i in range(n):
        organization = organizations[i % len(organizations)]
        incident = Incident.objects.create(
            organization=organization,
            ctia_id=f"incident-{next(_fingerprints)}",
            external_id="x",
            title="t",
            severity="High",
            status="New",
        )
        make_event(organization, ts=NOW - timedelta(seconds=i), incident=incident)


def test_the_list_makes_the_same_number_of_queries_for_10_and_60_events(client, analyst, django_assert_max_num_queries):
    organizations = [make_organization() for _ in range(3)]
    make_page_events(organizations, 10)
    client.get(EVENTS_URL)  # warm the session and permission caches the same way for both runs
    with CaptureQueriesContext(connection) as small:
        assert len(shown(client.get(EVENTS_URL))) == 10
    make_page_events([*organizations, *(make_organization() for _ in range(3))], 50)

    with django_assert_max_num_queries(len(small)), CaptureQueriesContext(connection) as large:
        assert len(shown(client.get(EVENTS_URL))) == 50

    assert len(large) == len(small) <= 8


def test_the_detail_makes_the_same_number_of_queries_with_more_history(client, analyst, organization):
    event = make_event(organization, signature="1:2:3", client_mac="a1:b2:c3:d4:e5:f6")
    url = f"/events/{event.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for i in range(10):
        make_event(organization, signature="1:2:3", client_mac="a1:b2:c3:d4:e5:f6", ts=NOW - timedelta(seconds=i + 1))
        PromotionAttempt.objects.create(
            event=event, kind="promotion", trigger="analyst", outcome="failed", error="e", started_by=analyst
        )

    with CaptureQueriesContext(connection) as large:
        response = client.get(url)

    assert len(response.context["similar"]) == 10 and len(response.context["attempts"]) == 10
    assert len(large) == len(small)


# Bulk re-push


def test_repushing_selected_events_records_an_attempt_through_the_service(client, analyst):
    organization = no_secret_organization()
    chosen, other = failed_event(organization), failed_event(organization)

    response = client.post(REPUSH_URL, {"event": [chosen.pk]}, follow=True)

    chosen.refresh_from_db()
    other.refresh_from_db()
    assert chosen.promotion_attempts == 2 and "no client secret" in chosen.promotion_error
    assert other.promotion_attempts == 1
    attempt = PromotionAttempt.objects.get(event=chosen)
    assert (attempt.trigger, attempt.outcome, attempt.started_by) == ("analyst", "failed", analyst)
    assert f"Re-push for {organization.name}: promotion succeeded=0 retry=0 failed=1".encode() in response.content


def test_bulk_repush_redirects_to_the_list_with_the_same_filters(client, analyst):
    organization = no_secret_organization()
    event = failed_event(organization)
    filters = {"promotion": "failed", "q": "192.0.2.10", "organization": str(organization.pk)}
    query = "&".join(f"{key}={value}" for key, value in filters.items())

    response = client.post(f"{REPUSH_URL}?{query}", {"event": [event.pk]})

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == EVENTS_URL
    assert {key: values[0] for key, values in parse_qs(location.query).items()} == filters


def test_bulk_repush_without_filters_redirects_to_the_bare_list(client, analyst):
    response = client.post(REPUSH_URL, {"event": []})

    assert response.status_code == 302 and response["Location"] == EVENTS_URL


def test_the_list_form_posts_the_filters_along(client, analyst, organization):
    make_event(organization, promotion_status=PromotionStatus.FAILED, blocked=True)

    response = client.get(EVENTS_URL, {"promotion": "failed", "blocked": "yes"})

    assert b'action="/events/repush/?blocked=yes&amp;promotion=failed"' in response.content


def test_bulk_repush_needs_the_permission_and_changes_nothing_without_it(viewer_client):
    organization = no_secret_organization()
    event = failed_event(organization)

    response = viewer_client.post(REPUSH_URL, {"event": [event.pk], "all_matching": "1"})

    assert response.status_code == 403
    event.refresh_from_db()
    assert event.promotion_attempts == 1 and event.promotion_error == "HTTP 400 from Threat Response"
    assert not PromotionAttempt.objects.exists()


def test_bulk_repush_needs_a_csrf_token(analyst):
    client = Client(enforce_csrf_checks=True)
    client.force_login(analyst)
    event = failed_event(no_secret_organization())

    response = client.post(REPUSH_URL, {"event": [event.pk]})

    assert response.status_code == 403
    assert not PromotionAttempt.objects.exists()


def test_repush_is_post_only(client, analyst):
    assert client.get(REPUSH_URL).status_code == 405


def test_repush_all_matching_takes_only_the_failed_events_matching_the_filters(client, analyst):
    organization, elsewhere = no_secret_organization(), no_secret_organization()
    promotion_failed = failed_event(organization)
    notification_failed = make_event(
        organization, promotion_status=PromotionStatus.PENDING, notification_status=NotificationStatus.FAILED
    )
    pending = make_event(organization, promotion_status=PromotionStatus.PENDING)
    not_matching = failed_event(elsewhere)

    client.post(f"{REPUSH_URL}?organization={organization.pk}", {"all_matching": "1"})

    attempted = set(PromotionAttempt.objects.values_list("event_id", flat=True))
    assert attempted == {promotion_failed.pk, notification_failed.pk}
    assert pending.pk not in attempted and not_matching.pk not in attempted


def test_repush_all_matching_refuses_invalid_filters(client, analyst):
    failed_event(no_secret_organization(), priority=1)

    response = client.post(f"{REPUSH_URL}?priority=9", {"all_matching": "1"}, follow=True)

    assert b"Some filters are not valid" in response.content
    assert not PromotionAttempt.objects.exists()


def test_repush_all_matching_is_capped_and_says_so(client, analyst, monkeypatch):
    monkeypatch.setattr(views_events, "REPUSH_LIMIT", 2)
    organization = no_secret_organization()
    events = [failed_event(organization, ts=NOW - timedelta(minutes=i)) for i in range(3)]

    response = client.post(REPUSH_URL, {"all_matching": "1"}, follow=True)

    attempted = set(PromotionAttempt.objects.values_list("event_id", flat=True))
    assert attempted == {events[0].pk, events[1].pk}  # the newest
    assert b"Only the 2 newest matching events were re-pushed" in response.content


def test_repush_all_matching_with_nothing_failed_says_so(client, analyst, organization):
    make_event(organization, promotion_status=PromotionStatus.PROMOTED)

    response = client.post(REPUSH_URL, {"all_matching": "1"}, follow=True)

    assert b"No failed events match these filters" in response.content


def test_repush_without_a_selection_asks_for_one(client, analyst):
    response = client.post(REPUSH_URL, {"event": ["not-a-number", "²", "-1"]}, follow=True)

    assert b"Select at least one event" in response.content
    assert not PromotionAttempt.objects.exists()


def test_repushing_events_that_are_not_eligible_says_so(client, analyst, organization):
    event = make_event(organization)  # not eligible

    response = client.post(REPUSH_URL, {"event": [event.pk]}, follow=True)

    assert b"Nothing to re-push" in response.content


# Event detail


def test_the_detail_shows_every_field_the_status_and_the_history(client, analyst):
    organization = no_secret_organization(name="Harbor Clinic")
    incident = Incident.objects.create(
        organization=organization,
        ctia_id="https://private.intel.amp.cisco.com/ctia/incident/incident-1",
        external_id="x",
        title="Malware on laptop-7",
        severity="High",
        status="New",
        console_url="https://xdr.example/incidents/incident-1",
    )
    event = failed_event(
        organization,
        event_type="File Scanned",
        src_ip="192.0.2.10",
        src_port=51000,
        dest_ip="203.0.113.5",
        dest_port=80,
        protocol="http",
        client_name="laptop-7",
        client_mac="10:dd:b1:eb:88:f8",
        client_ip="10.0.0.5",
        device_mac="00:18:0a:01:02:03",
        uri="http://example.test/x.exe",
        canonical_name="PUA.Win.Dropper",
        file_hash="ab" * 32,
        file_type="MS_EXE",
        disposition="Malicious",
        action="Blocked",
        blocked=True,
        classification="4",
        rule_id="meraki:rule",
        signature="",
        parse_error="invalid priority 'x'",
        raw={"eventType": "File Scanned", "nested": {"b": [1, 2]}},
        incident=incident,
        notification_status=NotificationStatus.SENT,
        webex_message_id="webex-msg-42",
        notification_attempts=1,
        promotion_attempted_at=NOW,
    )
    PromotionAttempt.objects.create(
        event=event, kind="promotion", trigger="sync", outcome="failed", error="HTTP 400 from Threat Response"
    )
    PromotionAttempt.objects.create(
        event=event, kind="notification", trigger="analyst", outcome="succeeded", started_by=analyst
    )

    page = client.get(f"/events/{event.pk}/").content.decode()

    for value in (
        "Harbor Clinic",
        "File Scanned",
        "192.0.2.10",
        "51000",
        "203.0.113.5",
        "laptop-7",
        "10:dd:b1:eb:88:f8",
        "10.0.0.5",
        "00:18:0a:01:02:03",
        "http://example.test/x.exe",
        "PUA.Win.Dropper",
        "ab" * 32,
        "MS_EXE",
        "Malicious",
        "Blocked",
        "meraki:rule",
        event.fingerprint,
        "invalid priority &#x27;x&#x27;",
        "webex-msg-42",
        "Malware on laptop-7",
    ):
        assert value in page, value
    assert '<span class="status failed">Failed</span>' in page and '<span class="status sent">Sent</span>' in page
    assert "HTTP 400 from Threat Response" in page  # the last error and the history
    assert "2026-03-10 12:00:00" in page  # last attempt, in the user's time zone (UTC here)
    assert '<a href="https://xdr.example/incidents/incident-1" rel="noopener noreferrer">' in page
    assert f'<a href="/incidents/{incident.pk}/">' in page
    assert "After a sync" in page and "Analyst re-push" in page and "analyst</td>" in page and "system</td>" in page
    event.refresh_from_db()  # jsonb may reorder keys
    assert json.dumps(event.raw, indent=2).replace('"', "&quot;") in page
    assert "Re-push to Threat Response and Webex" in page


def test_the_detail_hides_the_repush_button_without_the_permission(viewer_client, organization):
    event = failed_event(organization)

    response = viewer_client.get(f"/events/{event.pk}/")

    assert response.status_code == 200 and b"Re-push to Threat Response" not in response.content


def test_similar_events_share_the_client_and_the_signature_or_hash(client, analyst, organization):
    mac, other_mac = "a1:b2:c3:d4:e5:f6", "0a:0b:0c:0d:0e:0f"
    event = make_event(organization, signature="1:2:3", file_hash="", client_mac=mac)
    same_signature = make_event(organization, signature="1:2:3", client_mac=mac, ts=NOW - timedelta(minutes=1))
    make_event(organization, signature="1:2:3", client_mac=other_mac)  # another client
    make_event(organization, signature="9:9:9", client_mac=mac)  # another threat
    make_event(make_organization(), signature="1:2:3", client_mac=mac)  # another organization
    many = [
        make_event(organization, signature="1:2:3", client_mac=mac, ts=NOW - timedelta(hours=1, minutes=i))
        for i in range(12)
    ]

    response = client.get(f"/events/{event.pk}/")

    assert [e.pk for e in response.context["similar"]] == [same_signature.pk] + [e.pk for e in many[:9]]


def test_similar_events_by_file_hash(client, analyst, organization):
    event = make_event(organization, event_type="File Scanned", file_hash="cd" * 32, client_mac="10:dd:b1:eb:88:f8")
    same_file = make_event(organization, file_hash="cd" * 32, client_mac="10:dd:b1:eb:88:f8")

    response = client.get(f"/events/{event.pk}/")

    assert [e.pk for e in response.context["similar"]] == [same_file.pk]


def test_an_event_without_signature_or_hash_has_no_similar_events(client, analyst, organization):
    event = make_event(organization, client_mac="a1:b2:c3:d4:e5:f6")
    make_event(organization, client_mac="a1:b2:c3:d4:e5:f6")

    response = client.get(f"/events/{event.pk}/")

    assert response.context["similar"] == [] and b"No similar events" in response.content


def test_an_event_with_a_null_raw_shows_null(client, analyst, organization):
    event = make_event(organization, raw=None, parse_error="the event is not an object")

    response = client.get(f"/events/{event.pk}/")

    assert b"<code>null</code>" in response.content and b"the event is not an object" in response.content


# Single re-push


def test_repushing_one_event_records_the_attempt_and_returns_to_it(client, analyst):
    event = failed_event(no_secret_organization())

    response = client.post(f"/events/{event.pk}/repush/")

    assert response.status_code == 302 and response["Location"] == f"/events/{event.pk}/"
    page = client.get(response["Location"]).content.decode()
    event.refresh_from_db()
    assert event.promotion_attempts == 2 and "no client secret" in event.promotion_error
    assert "promotion succeeded=0 retry=0 failed=1" in page
    assert "Analyst re-push" in page and "analyst</td>" in page


def test_repushing_one_event_needs_the_permission(viewer_client):
    event = failed_event(no_secret_organization())

    response = viewer_client.post(f"/events/{event.pk}/repush/")

    assert response.status_code == 403
    assert not PromotionAttempt.objects.exists()


def test_repushing_an_unknown_event_is_404(client, analyst):
    assert client.post("/events/999999/repush/").status_code == 404


# Hostile strings


@pytest.fixture
def hostile_events(organization) -> list[SecurityEvent]:
    """Events stored through the real ingest path whose text fields hold markup, a javascript: link and 5,000
    characters."""
    long = "A" * 5000
    raws = []
    for i, text in enumerate([*HOSTILE, long]):
        raws.append(
            ids_event(
                NOW - timedelta(seconds=i),
                message=text,
                uri=f"javascript:alert(1)//{text}",
                clientName=text,
                canonicalName=text,
                fileName=text,
                signature=f"1:1:{i}",
                disposition=text,
                eventType=f"Alert {text}",
            )
        )
        raws.append(ids_event(NOW - timedelta(minutes=1, seconds=i), message=text, signature=f"1:1:{i}"))
    run = SyncRun.objects.create(organization=organization, started_at=NOW)
    store_events(organization=organization, run=run, raw_events=raws)
    Incident.objects.create(
        organization=organization,
        ctia_id="incident-hostile",
        external_id="x",
        title=SCRIPT,
        severity="High",
        status="New",
        console_url="javascript:alert(1)",
    )
    SecurityEvent.objects.update(incident=Incident.objects.get(), promotion_error=IMG, notification_error=SCRIPT)
    PromotionAttempt.objects.bulk_create(
        PromotionAttempt(event=event, kind="promotion", trigger="sync", outcome="failed", error=IMG)
        for event in SecurityEvent.objects.all()
    )
    return list(SecurityEvent.objects.order_by("-ts", "-id"))


def assert_inert(content: bytes) -> None:
    page = content.decode()
    assert "<script>alert" not in page
    assert "<img" not in page
    assert 'href="javascript:' not in page and "href='javascript:" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_hostile_strings_are_inert_on_the_list(client, analyst, hostile_events):
    response = client.get(EVENTS_URL)

    assert response.status_code == 200
    assert_inert(response.content)


def test_hostile_strings_are_inert_when_searched(client, analyst, hostile_events):
    response = client.get(EVENTS_URL, {"q": SCRIPT, "event_type": IMG})

    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode() and "<img" not in response.content.decode()


def test_hostile_strings_are_inert_on_every_detail_page(client, analyst, hostile_events):
    for event in hostile_events:
        response = client.get(f"/events/{event.pk}/")

        assert response.status_code == 200
        assert_inert(response.content)
        assert len(response.context["similar"]) == 1  # the hostile similar event is rendered too


def test_a_5000_character_string_is_shown_whole_on_the_detail_and_truncated_on_the_list(
    client, analyst, hostile_events
):
    long_event = next(event for event in hostile_events if event.message.startswith("AAAA") and event.uri)

    detail = client.get(f"/events/{long_event.pk}/").content.decode()
    listing = client.get(EVENTS_URL).content.decode()

    assert "A" * 5000 in detail  # the raw JSON keeps it
    assert f">{'A' * 99}…<" in listing


# Through the simulator: a failed event becomes promoted


@pytest.mark.django_db(transaction=True)
def test_a_failed_event_repushed_from_its_page_becomes_promoted(client, simulated_organization):
    from sync.simulator.models import SimulatedFault

    organization = simulated_organization
    run = SyncRun.objects.create(organization=organization, started_at=NOW)
    store_events(organization=organization, run=run, raw_events=[ids_event(NOW, priority=1)])
    event = SecurityEvent.objects.get()
    SimulatedFault.objects.create(api="threatresponse", kind="bad_request", skip=1)  # the token passes
    client.force_login(User.objects.create_superuser("root", password="pw"))
    client.post(f"/events/{event.pk}/repush/")
    event.refresh_from_db()
    assert event.promotion_status == PromotionStatus.FAILED

    response = client.post(f"/events/{event.pk}/repush/", follow=True)

    event.refresh_from_db()
    assert event.promotion_status == PromotionStatus.PROMOTED and event.incident is not None
    assert event.notification_status == NotificationStatus.SENT and event.webex_message_id
    page = response.content.decode()
    assert '<span class="status promoted">Promoted</span>' in page
    assert "promotion succeeded=1" in page
    assert event.webex_message_id in page
    outcomes = list(
        PromotionAttempt.objects.filter(kind="promotion").order_by("created_at", "id").values_list("outcome", flat=True)
    )
    assert outcomes == ["failed", "succeeded"]
