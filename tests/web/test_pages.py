"""The dashboard, incidents and sync runs pages: access, numbers, chart, Sync now, query counts, escaping."""

import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sync import tasks
from sync.models import (
    EventHourlyCount,
    Incident,
    NotificationStatus,
    PromotionStatus,
    SecurityEvent,
    SyncRun,
)
from sync.selectors.dashboard import ChartRange, chart_buckets, dashboard
from sync.selectors.incidents import incident_page
from sync.selectors.runs import sync_run_page
from sync.web.charts import events_chart_svg, nice_ceiling
from tests.factories import make_organization

pytestmark = pytest.mark.django_db
_numbers = count(1)
HOSTILE = '"><img src=x onerror=alert(1)><script>alert(1)</script>'
PAGES = ["/", "/incidents/", "/sync-runs/"]


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(name: str, *, group: str | None = None, staff: bool = False) -> User:
    user = User.objects.create_user(name, password="x", is_staff=staff)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def analyst_client(client):
    client.force_login(_user("analyst", group="Analyst"))
    return client


@pytest.fixture
def staff_client(client):
    client.force_login(_user("staff", group="Analyst", staff=True))
    return client


def _hour(hours_ago: int = 0) -> datetime:
    return timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours_ago)


def _event(organization, **fields) -> SecurityEvent:
    fields.setdefault("ts", timezone.now())
    fields.setdefault("event_type", "IDS Alert")
    return SecurityEvent.objects.create(organization=organization, fingerprint=f"fp{next(_numbers):062d}", **fields)


def _run(organization, **fields) -> SyncRun:
    fields.setdefault("started_at", timezone.now())
    fields.setdefault("status", SyncRun.Status.SUCCEEDED)
    return SyncRun.objects.create(organization=organization, **fields)


def _incident(organization, **fields) -> Incident:
    number = next(_numbers)
    fields.setdefault("title", f"Incident {number}")
    return Incident.objects.create(
        organization=organization,
        ctia_id=f"https://private.intel.amp.cisco.com/ctia/incident/incident-{number}",
        external_id=f"meraki-incidents-{number}",
        severity="High",
        status="New",
        **fields,
    )


def _count(organization, event_type: str, n: int, hours_ago: int = 0) -> EventHourlyCount:
    return EventHourlyCount.objects.create(
        organization=organization, hour=_hour(hours_ago), event_type=event_type, count=n
    )


def _card(html: str, organization) -> str:
    """The HTML of one organization's card on the dashboard."""
    match = re.search(rf'<section class="card" aria-labelledby="org-{organization.pk}">(.*?)</section>', html, re.S)
    assert match, f"no card for organization {organization.pk}"
    return match.group(1)


# --- access ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/incidents/1/"])
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", PAGES)
def test_user_without_view_permissions_is_refused(client, path):
    client.force_login(_user("nobody"))

    assert client.get(path).status_code == 403


def test_incident_detail_without_view_permission_is_refused(client, organization):
    incident = _incident(organization)
    client.force_login(_user("nobody"))

    assert client.get(f"/incidents/{incident.pk}/").status_code == 403


@pytest.mark.parametrize("path", PAGES)
def test_analyst_sees_the_page(analyst_client, organization, path):
    assert analyst_client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("/", "Dashboard"),
        ("/events/", "Events"),
        ("/incidents/", "Incidents"),
        ("/sync-runs/", "Sync runs"),
        ("/account/token/", "API token"),
    ],
)
def test_navigation_marks_the_current_page(analyst_client, path, label):
    html = analyst_client.get(path).content.decode()

    assert re.search(rf'aria-current="page">{label}</a>', html)
    assert len(re.findall(r'aria-current="page"', html)) == 1
    for link in ("/events/", "/incidents/", "/sync-runs/", "/account/token/"):
        assert f'href="{link}"' in html


# --- dashboard -----------------------------------------------------------------------------------------------------


def test_dashboard_without_organizations_says_so(analyst_client):
    response = analyst_client.get("/")

    assert response.status_code == 200
    assert "No organizations yet" in response.content.decode()


def test_dashboard_shows_the_last_sync(analyst_client, organization):
    _run(organization, started_at=timezone.now() - timedelta(hours=2), created=99)
    _run(organization, status=SyncRun.Status.FAILED, created=7, error="Meraki answered 401: check the API key")

    card = _card(analyst_client.get("/").content.decode(), organization)

    assert '<span class="status failed">Failed</span>' in card
    assert "<dt>New events</dt><dd>7</dd>" in card
    assert "Meraki answered 401: check the API key" in card


def test_dashboard_ignores_skipped_runs_for_the_last_sync(analyst_client, organization):
    _run(organization, started_at=timezone.now() - timedelta(minutes=5), created=3)
    _run(organization, status=SyncRun.Status.SKIPPED, error="skipped: another sync of this organization is running")

    card = _card(analyst_client.get("/").content.decode(), organization)

    assert "Succeeded" in card
    assert "<dt>New events</dt><dd>3</dd>" in card


def test_dashboard_says_never_synced(analyst_client, organization):
    assert "Never synced" in _card(analyst_client.get("/").content.decode(), organization)


def test_dashboard_counts_the_last_24_hours_by_type_from_the_hourly_rollups(analyst_client, organization):
    _count(organization, "IDS Alert", 5, hours_ago=0)
    _count(organization, "IDS Alert", 4, hours_ago=20)
    _count(organization, "File Scanned", 2, hours_ago=3)
    _count(organization, "File Scanned", 50, hours_ago=30)  # older than 24 h
    _event(organization, event_type="Malware Downloaded")  # the events table is not what is counted

    summary = dashboard().organizations[0]

    assert summary.types_24h == [("IDS Alert", 9), ("File Scanned", 2)]


def test_dashboard_renders_the_24_hour_counts(analyst_client, organization):
    _count(organization, "IDS Alert", 5)

    card = _card(analyst_client.get("/").content.decode(), organization)

    assert '<th scope="row" class="wrap">IDS Alert</th><td>5</td>' in card


def test_dashboard_counts_pending_promoted_and_failed(analyst_client, organization):
    other = make_organization()
    for status, n in ((PromotionStatus.PENDING, 2), (PromotionStatus.PROMOTED, 1), (PromotionStatus.FAILED, 3)):
        for _ in range(n):
            _event(organization, promotion_status=status)
    _event(organization, notification_status=NotificationStatus.FAILED)
    _event(organization, promotion_status=PromotionStatus.NOT_ELIGIBLE)
    _event(other, promotion_status=PromotionStatus.FAILED)

    summary = next(s for s in dashboard().organizations if s.organization == organization)

    assert (summary.pending, summary.promoted, summary.failed, summary.failed_notifications) == (2, 1, 3, 1)


def test_dashboard_links_failed_promotions_to_the_filtered_events(analyst_client, organization):
    _event(organization, promotion_status=PromotionStatus.FAILED)
    _event(organization, notification_status=NotificationStatus.FAILED)

    card = _card(analyst_client.get("/").content.decode(), organization)

    assert f'class="status failed" href="/events/?organization={organization.pk}&amp;promotion=failed">1 failed' in card
    assert f'href="/events/?organization={organization.pk}&amp;notification=failed">1 failed' in card


def test_dashboard_without_failures_has_no_failed_link(analyst_client, organization):
    card = _card(analyst_client.get("/").content.decode(), organization)

    assert "promotion=failed" not in card


def test_dashboard_chart_is_an_accessible_svg_with_one_line_per_type(analyst_client, organization):
    _count(organization, "IDS Alert", 5)
    _count(organization, "File Scanned", 2, hours_ago=1)

    card = _card(analyst_client.get("/").content.decode(), organization)

    svg = re.search(r"<svg .*?</svg>", card, re.S).group(0)
    assert 'role="img"' in svg
    assert f'aria-labelledby="chart-{organization.pk}-title chart-{organization.pk}-desc"' in svg
    assert "<title id=" in svg and "<desc id=" in svg
    assert svg.count("<polyline") == 2
    assert "IDS Alert (5)" in svg and "File Scanned (2)" in svg  # the legend
    assert "<details>" in card and "per hour" in card


def test_dashboard_chart_table_has_one_row_per_hour_by_default(analyst_client, organization):
    _count(organization, "IDS Alert", 5)

    card = _card(analyst_client.get("/").content.decode(), organization)
    table = card[card.index("<details>") :]

    assert table.count('<tr><th scope="row"><time') == 24
    assert "<td>5</td>" in table


@pytest.mark.parametrize(("value", "rows"), [("24h", 24), ("7d", 28), ("30d", 30), ("bogus", 24)])
def test_dashboard_range_switch_changes_the_buckets(analyst_client, organization, value, rows):
    html = analyst_client.get("/", {"range": value}).content.decode()
    table = _card(html, organization).split("<details>")[1]

    assert table.count('<tr><th scope="row"><time') == rows
    current = ChartRange.parse(value)
    assert f'href="?range={current.value}" aria-current="true"' in html


def test_week_chart_sums_hours_into_six_hour_buckets(organization):
    now = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
    for hour in (12, 13, 17):
        EventHourlyCount.objects.create(
            organization=organization, hour=now.replace(hour=hour, minute=0), event_type="IDS Alert", count=1
        )
    EventHourlyCount.objects.create(
        organization=organization, hour=now.replace(hour=11, minute=0), event_type="IDS Alert", count=10
    )

    chart = dashboard(chart_range=ChartRange.WEEK, now=now).organizations[0].chart

    assert chart.buckets[-1] == datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert chart.series[0].counts[-2:] == [10, 3]


def test_month_chart_sums_days(organization, settings):
    now = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
    for day, hour, n in ((10, 1, 2), (10, 14, 3), (9, 23, 4), (1, 0, 7)):
        EventHourlyCount.objects.create(
            organization=organization, hour=datetime(2025, 3, day, hour, tzinfo=UTC), event_type="File Scanned", count=n
        )
    EventHourlyCount.objects.create(
        organization=organization, hour=datetime(2025, 1, 1, tzinfo=UTC), event_type="File Scanned", count=100
    )

    chart = dashboard(chart_range=ChartRange.MONTH, now=now).organizations[0].chart

    assert len(chart.buckets) == 30
    assert chart.series[0].counts[-1] == 5
    assert chart.series[0].counts[-2] == 4
    assert chart.series[0].total == 16  # the January row is outside the 30 days


def test_month_chart_days_are_the_users_days(organization, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+5:30
    now = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)
    EventHourlyCount.objects.create(
        organization=organization, hour=datetime(2025, 3, 9, 20, tzinfo=UTC), event_type="IDS Alert", count=2
    )

    chart = dashboard(chart_range=ChartRange.MONTH, now=now).organizations[0].chart

    assert chart.series[0].counts[-1] == 2  # 01:30 on March 10 in Kolkata


def test_day_buckets_are_the_last_24_utc_hours():
    now = datetime(2025, 3, 10, 14, 30, tzinfo=UTC)

    buckets = chart_buckets(chart_range=ChartRange.DAY, now=now)

    assert buckets[0] == datetime(2025, 3, 9, 15, tzinfo=UTC)
    assert buckets[-1] == datetime(2025, 3, 10, 14, tzinfo=UTC)


def test_chart_merges_rare_types_into_other(organization):
    for n in range(9):
        _count(organization, f"Type {n}", n + 1)

    chart = dashboard().organizations[0].chart

    assert len(chart.series) == 7
    assert chart.series[-1].event_type == "Other"
    assert chart.series[-1].total == 1 + 2 + 3
    assert chart.total == sum(range(1, 10))


def _populate(organizations: int) -> None:
    for _ in range(organizations):
        organization = make_organization()
        _run(organization, created=4, error="boom")
        _count(organization, "IDS Alert", 3)
        _count(organization, "File Scanned", 1, hours_ago=2)
        _event(organization, promotion_status=PromotionStatus.FAILED)
        _event(organization, promotion_status=PromotionStatus.PENDING, notification_status=NotificationStatus.FAILED)
        _incident(organization)


def _queries(client, path: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, params or {}).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("path", "params"),
    [("/", {}), ("/", {"range": "7d"}), ("/", {"range": "30d"}), ("/incidents/", {}), ("/sync-runs/", {})],
)
def test_query_count_does_not_grow_with_organizations(staff_client, django_assert_max_num_queries, path, params):
    _populate(2)
    few = _queries(staff_client, path, params)
    _populate(8)

    with django_assert_max_num_queries(few):
        staff_client.get(path, params)
    assert _queries(staff_client, path, params) == few


# --- incidents -----------------------------------------------------------------------------------------------------


def test_incidents_are_listed_newest_first_with_their_event_counts(analyst_client, organization):
    older = _incident(organization, title="Older incident")
    newer = _incident(organization, title="Newer incident")
    Incident.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(days=1))
    _event(organization, incident=newer)
    _event(organization, incident=newer)

    html = analyst_client.get("/incidents/").content.decode()

    assert html.index("Newer incident") < html.index("Older incident")
    assert f'href="/incidents/{newer.pk}/"' in html
    assert "<td>2</td>" in html


def test_incidents_can_be_filtered_by_organization(analyst_client, organization):
    other = make_organization(name="Other org")
    _incident(organization, title="Mine")
    _incident(other, title="Theirs")

    html = analyst_client.get("/incidents/", {"organization": other.pk}).content.decode()

    assert "Theirs" in html and "Mine" not in html


def test_incident_pages_do_not_count_and_know_whether_more_follow(organization):
    for _ in range(5):
        _incident(organization)

    first, last = incident_page(page=1, limit=2), incident_page(page=3, limit=2)

    assert (len(first.items), first.has_next, first.has_previous) == (2, True, False)
    assert (len(last.items), last.has_next, last.has_previous) == (1, False, True)


def test_incident_list_pages_link_to_each_other(analyst_client, organization, monkeypatch):
    monkeypatch.setattr("sync.selectors.incidents.PAGE_SIZE", 1)
    for _ in range(3):
        _incident(organization)

    html = analyst_client.get("/incidents/", {"page": 2}).content.decode()

    assert 'href="?page=1" rel="prev"' in html
    assert 'href="?page=3" rel="next"' in html


def test_incidents_empty_state(analyst_client):
    assert "No incidents yet" in analyst_client.get("/incidents/").content.decode()


def test_incident_detail_lists_its_events_and_the_console_link(analyst_client, organization):
    incident = _incident(organization, console_url="https://xdr.example.com/incidents/incident-1")
    event = _event(organization, incident=incident, message="JBoss JMX console access attempt")
    _event(organization, message="unrelated event")

    html = analyst_client.get(f"/incidents/{incident.pk}/").content.decode()

    assert f'href="/events/{event.pk}/"' in html
    assert "JBoss JMX console access attempt" in html
    assert "unrelated event" not in html
    assert 'href="https://xdr.example.com/incidents/incident-1"' in html


def test_incident_console_link_must_be_http(analyst_client, organization):
    incident = _incident(organization, console_url="javascript:alert(1)")

    html = analyst_client.get(f"/incidents/{incident.pk}/").content.decode()

    assert "javascript:" not in html
    assert "No console link" in html


def test_unknown_incident_is_404(analyst_client):
    assert analyst_client.get("/incidents/999999/").status_code == 404


# --- sync runs -----------------------------------------------------------------------------------------------------


def test_sync_runs_show_every_number(analyst_client, organization):
    start = timezone.now() - timedelta(minutes=3)
    _run(
        organization,
        started_at=start,
        finished_at=start + timedelta(seconds=12.5),
        t0=start - timedelta(hours=1),
        t1=start,
        pages=3,
        fetched=2500,
        created=2400,
        duplicates=100,
        malformed=7,
        rate_limited=4,
        status=SyncRun.Status.FAILED,
        error="Meraki answered 500 three times",
    )

    html = analyst_client.get("/sync-runs/").content.decode()
    row = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)

    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert cells[5:11] == ["3", "2500", "2400", "100", "7", "4"]
    assert cells[11] == "12.5 s"
    assert '<span class="status failed">Failed</span>' in row
    assert "Meraki answered 500 three times" in row
    assert "<time datetime=" in cells[4]


def test_sync_runs_can_be_filtered_by_organization(analyst_client, organization):
    other = make_organization(name="Other org")
    _run(organization, error="mine")
    _run(other, error="theirs")

    html = analyst_client.get("/sync-runs/", {"organization": organization.pk}).content.decode()

    assert "mine" in html and "theirs" not in html


def test_sync_run_pages_follow_the_cursor(organization):
    start = timezone.now()
    runs = [_run(organization, started_at=start + timedelta(minutes=n)) for n in range(5)][::-1]

    first = sync_run_page(limit=2)
    second = sync_run_page(cursor=first.next_cursor, limit=2)
    third = sync_run_page(cursor=second.next_cursor, limit=2)

    assert [r.pk for r in first.items + second.items + third.items] == [r.pk for r in runs]
    assert third.next_cursor is None


@pytest.mark.parametrize("cursor", ["not a cursor", "0", "-5", "99999999999999999999999"])
def test_sync_runs_invalid_cursor_is_404(analyst_client, cursor):
    assert analyst_client.get("/sync-runs/", {"cursor": cursor}).status_code == 404


def test_sync_runs_link_to_the_next_page_keeping_the_filter(analyst_client, organization, monkeypatch):
    monkeypatch.setattr("sync.selectors.runs.PAGE_SIZE", 1)
    _run(organization)
    newest = _run(organization)

    html = analyst_client.get("/sync-runs/", {"organization": organization.pk}).content.decode()

    assert f'href="?organization={organization.pk}&amp;cursor={newest.pk}" rel="next"' in html


def test_sync_runs_empty_state(analyst_client, organization):
    assert "No sync runs" in analyst_client.get("/sync-runs/").content.decode()


def test_staff_sees_the_sync_now_button(staff_client, organization):
    html = staff_client.get("/sync-runs/").content.decode()

    assert 'action="/sync-runs/sync-now/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<label for="sync-now-organization">' in html


def test_analyst_does_not_see_the_sync_now_button(analyst_client, organization):
    assert "sync-now" not in analyst_client.get("/sync-runs/").content.decode()


def test_sync_now_queues_a_manual_sync_after_commit(
    staff_client, organization, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.sync_organization, "delay", lambda *args: queued.append(args))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post("/sync-runs/sync-now/", {"organization": organization.pk})
        assert queued == []  # nothing is sent before the transaction commits
    for callback in callbacks:
        callback()

    assert queued == [(organization.pk, SyncRun.Trigger.MANUAL)]
    assert response.status_code == 302
    assert response["Location"] == f"/sync-runs/?organization={organization.pk}"


def test_sync_now_says_what_was_queued_and_returns_to_the_list(
    staff_client, organization, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.sync_organization, "delay", lambda *args: None)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            "/sync-runs/sync-now/", {"organization": organization.pk, "next": "/sync-runs/"}, follow=True
        )

    assert response.redirect_chain == [("/sync-runs/", 302)]
    assert f"A sync of {organization.name} was queued" in response.content.decode()


def test_sync_now_does_not_redirect_off_site(staff_client, organization, monkeypatch):
    monkeypatch.setattr(tasks.sync_organization, "delay", lambda *args: None)

    response = staff_client.post(
        "/sync-runs/sync-now/", {"organization": organization.pk, "next": "https://evil.example/"}
    )

    assert response["Location"] == f"/sync-runs/?organization={organization.pk}"


def test_sync_now_of_an_unknown_organization_queues_nothing(
    staff_client, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = staff_client.post("/sync-runs/sync-now/", {"organization": 999999})

    assert callbacks == []
    assert response.status_code == 302


def test_sync_now_is_refused_to_non_staff(analyst_client, organization, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = analyst_client.post("/sync-runs/sync-now/", {"organization": organization.pk})

    assert response.status_code == 403
    assert callbacks == []


def test_sync_now_needs_post(staff_client, organization):
    assert staff_client.get("/sync-runs/sync-now/", {"organization": organization.pk}).status_code == 405


def test_sync_now_needs_a_csrf_token(organization):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(_user("staff", staff=True))

    assert client.post("/sync-runs/sync-now/", {"organization": organization.pk}).status_code == 403


# --- hostile strings -------------------------------------------------------------------------------------------------


def _assert_inert(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x onerror" not in html


@pytest.mark.parametrize("path", [*PAGES, "incident"])
def test_hostile_strings_are_rendered_inert(staff_client, path):
    organization = make_organization(name=HOSTILE)
    _run(organization, error=HOSTILE)
    _count(organization, HOSTILE, 3)
    incident = _incident(organization, title=HOSTILE, console_url='https://x.example/"><script>alert(1)</script>')
    _event(organization, incident=incident, event_type=HOSTILE, message=HOSTILE)

    response = staff_client.get(f"/incidents/{incident.pk}/" if path == "incident" else path)

    assert response.status_code == 200
    _assert_inert(response.content.decode())


def test_chart_escapes_every_label():
    svg = events_chart_svg(
        chart_id="c",
        title=HOSTILE,
        description=HOSTILE,
        buckets=[datetime(2025, 1, 1, h, tzinfo=UTC) for h in range(3)],
        series=[(HOSTILE, [1, 2, 3])],
        date_format="H:i",
    )

    _assert_inert(svg)
    assert "&lt;script&gt;" in svg


def test_chart_without_events_says_so():
    svg = events_chart_svg(
        chart_id="c", title="t", description="d", buckets=[datetime(2025, 1, 1, tzinfo=UTC)], series=[], date_format="H"
    )

    assert "No events in this range" in svg


@pytest.mark.parametrize(
    ("value", "expected"), [(0, (4, 1)), (1, (1, 1)), (3, (3, 1)), (7, (8, 2)), (100, (100, 50)), (1234, (1500, 500))]
)
def test_chart_axis_top_is_a_round_number(value, expected):
    assert nice_ceiling(value) == expected
