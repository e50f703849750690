"""An analyst's day in the real browser: log in, filter the events, open one, re-push a failed one.

Chromium (headless, the system one) drives pytest-django's live server; re-push reaches the built-in simulator's
Threat Response and Webex over real HTTP, so the page shows the status the product really recorded.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group, User

from sync.models import PromotionStatus, SecurityEvent, SyncRun
from sync.services.ingest import store_events
from tests.factories import ids_event, make_organization
from tests.simulated import link_to_simulator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery-staple"
NOW = datetime.now(UTC).replace(microsecond=0)
FILTER_LABELS = ["Organization", "Event type", "Priority", "Disposition", "Blocked", "Promotion", "Notification",
                 "From", "Until", "Search"]  # fmt: skip


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def analyst(role_groups):
    user = User.objects.create_user("analyst", password=PASSWORD)
    user.groups.add(Group.objects.get(name="Analyst"))
    return user


@pytest.fixture
def acme(simulator):
    """An organization promoting to the simulator's Threat Response and notifying its Webex room."""
    return link_to_simulator(simulator, name="Acme HQ")


@pytest.fixture
def globex(db):
    return make_organization(name="Globex Branch")


def file_scanned(ts: datetime, number: int) -> dict:
    return {
        "ts": ts.isoformat().replace("+00:00", "Z"),
        "eventType": "File Scanned",
        "clientName": f"LAPTOP-{number}",
        "clientMac": "10:dd:b1:eb:88:f8",
        "clientIp": "192.168.128.2",
        "srcIp": "192.168.128.2",
        "destIp": "119.192.233.48",
        "protocol": "http",
        "uri": f"http://downloads.example.com/{number}/setup.exe",
        "fileHash": f"{number:064x}",
        "fileType": "MS_EXE",
        "disposition": "Clean",
        "action": "Allowed",
    }


def ingest(organization, raw_events) -> None:
    run = SyncRun.objects.create(organization=organization, started_at=NOW)
    store_events(organization=organization, run=run, raw_events=raw_events)


@pytest.fixture
def failed_event(acme, globex) -> SecurityEvent:
    """Events of two organizations; Acme's newest IDS Alert of priority 1 failed to reach Threat Response."""
    ingest(acme, [ids_event(NOW - timedelta(minutes=1), priority=1, src="203.0.113.9:4444")])
    ingest(acme, [ids_event(NOW - timedelta(minutes=5 + i), priority=3, src=f"192.0.2.{i}:5000") for i in range(3)])
    ingest(acme, [file_scanned(NOW - timedelta(minutes=10 + i), i) for i in range(2)])
    ingest(globex, [ids_event(NOW - timedelta(minutes=20 + i), priority=2, src=f"198.51.100.{i}:80") for i in range(2)])
    ingest(globex, [file_scanned(NOW - timedelta(minutes=30 + i), 100 + i) for i in range(3)])
    event = SecurityEvent.objects.get(organization=acme, priority=1)
    event.promotion_status = PromotionStatus.FAILED
    event.promotion_error = "Threat Response answered 401: invalid client credentials"
    event.promotion_attempts = 3
    event.save()
    return event


def log_in(page, *, next_path: str) -> None:
    page.goto(next_path)
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("User name").fill("analyst")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def column(page, index: int) -> list[str]:
    """The text of one column of the events table (1-based, after the selection box)."""
    return [text.strip() for text in page.locator(f"table tbody tr td:nth-child({index + 1})").all_inner_texts()]


def test_analyst_filters_opens_and_repushes_a_failed_event(page, analyst, failed_event, globex, tmp_path):
    from playwright.sync_api import expect

    log_in(page, next_path="/events/")
    expect(page.get_by_role("heading", name="Security events")).to_be_visible()
    expect(page.locator("table tbody tr")).to_have_count(SecurityEvent.objects.count())

    # Filter by organization and event type: only Globex's File Scanned rows, and the filters are in the URL.
    page.get_by_label("Organization", exact=True).select_option(str(globex.pk))
    page.get_by_label("Event type", exact=True).fill("File Scanned")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url(re.compile(rf"organization={globex.pk}&event_type=File\+Scanned"))
    expect(page.locator("table tbody tr")).to_have_count(3)
    assert set(column(page, 2)) == {"Globex Branch"}
    assert set(column(page, 3)) == {"File Scanned"}
    page.reload()  # the filtered list is a URL: reloading it keeps the filters, in the form too
    expect(page.get_by_label("Event type", exact=True)).to_have_value("File Scanned")
    expect(page.locator("table tbody tr")).to_have_count(3)

    # Open one of them.
    page.locator("table tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/events/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("File Scanned")

    # Find the failed one through the filters and re-push it.
    page.get_by_role("link", name="All events").click()
    page.get_by_label("Promotion", exact=True).select_option("failed")
    page.get_by_role("button", name="Filter", exact=True).click()
    page.wait_for_url(re.compile(r"promotion=failed"))
    expect(page.locator("table tbody tr")).to_have_count(1)
    assert column(page, 10) == ["Failed"]
    page.locator("table tbody tr").first.get_by_role("link").click()
    page.wait_for_url(f"**/events/{failed_event.pk}/")
    threat_response = page.locator("section", has=page.get_by_role("heading", name="Threat Response"))
    expect(threat_response.locator(".status")).to_have_text("Failed")
    expect(threat_response).to_contain_text("invalid client credentials")

    page.get_by_role("button", name=re.compile("Re-push")).click()

    page.wait_for_url(f"**/events/{failed_event.pk}/")
    expect(page.locator(".messages .success")).to_contain_text("Re-push for Acme HQ")
    expect(threat_response.locator(".status")).to_have_text("Promoted")
    expect(threat_response.get_by_role("link", name="open in Threat Response")).to_be_visible()
    failed_event.refresh_from_db()
    assert failed_event.promotion_status == PromotionStatus.PROMOTED
    screenshot = tmp_path / "re-pushed.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 0


def test_keyboard_reaches_the_skip_link_first_and_every_filter_has_a_label(page, analyst, globex):
    from playwright.sync_api import expect

    log_in(page, next_path="/events/")

    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("main")
    for label in FILTER_LABELS:
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    page.get_by_label("Search", exact=True).focus()
    page.keyboard.type("192.0.2.10")
    page.keyboard.press("Enter")  # the search submits from the keyboard alone
    page.wait_for_url(re.compile(r"[?&]q=192\.0\.2\.10"))
    expect(page.get_by_label("Search", exact=True)).to_have_value("192.0.2.10")
