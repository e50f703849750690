"""The simulated Meraki security-events API answers as the real one is documented to (the contract)."""

import ipaddress
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings
from django.utils import timezone
from requests.utils import parse_header_links

from sync.clients.meraki import MerakiClient
from sync.ratelimit import LocalRateLimiter
from sync.simulator import ratelimit
from sync.simulator.meraki import views
from sync.simulator.meraki.events import EventStream, generate_events, to_us
from sync.simulator.models import SimulatedFault, SimulatedMerakiOrganization, digest

KEY = "sim0123456789abcdef0123456789abcdef0123"
OTHER_KEY = "sim9876543210fedcba9876543210fedcba9876"
ORG = "549236"
OTHER_ORG = "731240"
EXAMPLE_FILE = Path(settings.BASE_DIR) / "sync/simulator/data/meraki-security-events.openapi.json"
DOCUMENTATION_NETWORKS = [
    ipaddress.ip_network(net) for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
_IP_PORT = re.compile(r"^(?:\[(?P<v6>[0-9a-f:]+)\]|(?P<v4>[0-9.]+)):(?P<port>[0-9]+)$")


def events_url(org_id: str = ORG) -> str:
    return f"/simulator/meraki/api/v1/organizations/{org_id}/appliance/security/events"


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def get(client, org_id: str = ORG, *, key: str | None = KEY, headers: dict | None = None, **params):
    headers = {"Authorization": f"Bearer {key}"} if headers is None and key else (headers or {})
    return client.get(events_url(org_id), params, headers=headers)


def follow(client, url: str, *, key: str = KEY):
    """GET a Link URL (absolute, as the API gives it) through the test client."""
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}", headers={"Authorization": f"Bearer {key}"})


def links(response) -> dict[str, str]:
    """The Link header as `requests` parses it (`response.links`): rel -> url."""
    return {link["rel"]: link["url"] for link in parse_header_links(response["Link"])}


def make_sim_org(org_id: str = ORG, *, key: str = KEY, events_per_hour: int = 20, seed: int = 1):
    return SimulatedMerakiOrganization.objects.create(
        org_id=org_id, name=f"Sim {org_id}", api_key_sha256=digest(key), events_per_hour=events_per_hour, seed=seed
    )


def past_hours(hours: int) -> tuple[datetime, datetime]:
    """A window of whole hours ending at the start of the previous hour: entirely in the past."""
    end = timezone.now().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    return end - timedelta(hours=hours), end


def ip_port(value: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    match = _IP_PORT.match(value)
    assert match, value
    return ipaddress.ip_address(match["v6"] or match["v4"]), int(match["port"])


def in_documentation_range(address) -> bool:
    return any(address in network for network in DOCUMENTATION_NETWORKS if network.version == address.version)


def value_types(event: dict) -> list[tuple[str, str]]:
    return [(key, type(value).__name__) for key, value in event.items()]


@pytest.fixture(autouse=True)
def unlimited_rate(monkeypatch):
    """Walks make many requests at once; only the rate-limit tests put the real bucket back."""
    monkeypatch.setattr(ratelimit, "meraki_buckets", ratelimit.TokenBucket(capacity=1_000_000))


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(views, "_sleep", recorded.append)
    return recorded


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the events ----------------------------------------------------------------------------------------------
def test_generated_events_have_the_official_examples_keys_and_value_types():
    spec = json.loads(EXAMPLE_FILE.read_text())
    operation = spec["paths"]["/organizations/{organizationId}/appliance/security/events"]["get"]
    examples = operation["responses"]["200"]["content"]["application/json"]["example"]
    expected = {example["eventType"]: value_types(example) for example in examples}
    t0, t1 = past_hours(2)

    events = EventStream(org_id=ORG, seed=1, events_per_hour=200).events(t0, t1)

    assert {event["eventType"] for event in events} == set(expected) == {"IDS Alert", "File Scanned"}
    for event in events:
        assert value_types(event) == expected[event["eventType"]], event


def test_ids_alerts_look_like_meraki_snort_alerts():
    t0, t1 = past_hours(3)
    alerts = [e for e in EventStream(org_id=ORG, seed=2, events_per_hour=1000).events(t0, t1) if "priority" in e]

    for alert in alerts:
        assert alert["priority"] in {"1", "2", "3", "4"} and alert["classification"].isdigit()
        gid, sid, rev = alert["signature"].split(":")
        assert gid == "1" and rev.isdigit()
        assert alert["ruleId"] == f"meraki:intrusion/snort/GID/1/SID/{sid}"
        assert alert["sigSource"] == "" and isinstance(alert["blocked"], bool)
        assert alert["clientMac"] == alert["clientMac"].upper() and re.fullmatch(r"[0-9A-F:]{17}", alert["clientMac"])
        assert re.fullmatch(r"[0-9a-f:]{17}", alert["deviceMac"])
        assert alert["protocol"] in {"tcp/ip", "udp/ip"}
        for field in ("srcIp", "destIp"):
            address, port = ip_port(alert[field])
            assert in_documentation_range(address) and 0 < port < 65536
    priorities = Counter(alert["priority"] for alert in alerts)
    assert 0.06 < priorities["1"] / len(alerts) < 0.14
    assert len({alert["message"] for alert in alerts}) >= 15
    ipv6 = sum(alert["srcIp"].startswith("[") for alert in alerts)
    assert 0.05 < ipv6 / len(alerts) < 0.15


def test_file_scanned_events_look_like_amp_verdicts():
    t0, t1 = past_hours(3)
    events = EventStream(org_id=ORG, seed=3, events_per_hour=1000).events(t0, t1)
    scans = [event for event in events if event["eventType"] == "File Scanned"]

    assert 0.15 < len(scans) / len(events) < 0.25
    for scan in scans:
        assert re.fullmatch(r"[0-9a-f]{64}", scan["fileHash"])
        assert scan["clientMac"] == scan["clientMac"].lower()
        assert scan["srcIp"] == scan["clientIp"] and in_documentation_range(ipaddress.ip_address(scan["destIp"]))
        assert scan["protocol"] == "http" and scan["uri"].startswith("http://")
        assert (scan["disposition"], scan["action"]) in {("Malicious", "Blocked"), ("Clean", "Allowed")}
        assert scan["fileSizeBytes"] > 0 and scan["destinationPort"] in (80, 8080)
    malicious = sum(scan["disposition"] == "Malicious" for scan in scans)
    assert 0.5 < malicious / len(scans) < 0.7


def test_same_org_and_seed_give_the_same_events_whatever_the_window():
    t0, t1 = past_hours(3)
    hour = (t0 + timedelta(hours=1), t0 + timedelta(hours=2))

    wide = EventStream(org_id=ORG, seed=5, events_per_hour=50).events(t0, t1)
    narrow = EventStream(org_id=ORG, seed=5, events_per_hour=50).events(*hour)

    assert narrow == [event for event in wide if iso(hour[0]) <= event["ts"] < iso(hour[1])]
    assert len(narrow) == 50


@pytest.mark.django_db
def test_the_api_serves_the_same_events_to_different_windows(client):
    make_sim_org(events_per_hour=30)
    t0, t1 = past_hours(3)

    wide = get(client, t0=iso(t0), t1=iso(t1), perPage=1000).json()
    narrow = get(client, t0=iso(t0 + timedelta(hours=1)), t1=iso(t0 + timedelta(hours=2)), perPage=1000).json()

    assert len(wide) == 90 and narrow == wide[30:60]


def test_different_seeds_give_different_events():
    t0, t1 = past_hours(1)

    first = EventStream(org_id=ORG, seed=1, events_per_hour=20).events(t0, t1)
    second = EventStream(org_id=ORG, seed=2, events_per_hour=20).events(t0, t1)

    assert {event["ts"] for event in first}.isdisjoint(event["ts"] for event in second)


def test_timestamps_are_unique_microseconds_at_the_given_rate():
    t0, t1 = past_hours(24)

    events = EventStream(org_id=ORG, seed=1, events_per_hour=300).events(t0, t1)

    assert len(events) == 24 * 300
    assert len({event["ts"] for event in events}) == len(events)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["ts"]) for event in events)


@pytest.mark.django_db
def test_no_events_from_the_future(client):
    make_sim_org(events_per_hour=3600)
    asked_at = timezone.now()

    response = get(client, t0=iso(asked_at - timedelta(minutes=5)), t1=iso(asked_at + timedelta(days=1)), perPage=1000)

    stamps = [datetime.fromisoformat(event["ts"]) for event in response.json()]
    assert stamps and max(stamps) < timezone.now()
    assert max(stamps) > asked_at - timedelta(minutes=1)  # but everything up to now


# --- paging --------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_walking_next_visits_every_event_once_in_order(client):
    make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(2)
    pages = [get(client, t0=iso(t0), t1=iso(t1), perPage=3)]
    while "next" in links(pages[-1]):
        pages.append(follow(client, links(pages[-1])["next"]))

    walked = [event for page in pages for event in page.json()]

    assert walked == generate_events(org_id=ORG, seed=1, events_per_hour=20, t0=t0, t1=t1)
    assert len(pages) == 14 and [len(page.json()) for page in pages[-2:]] == [3, 1]
    assert "prev" not in links(pages[0]) and all("prev" in links(page) for page in pages[1:])


@pytest.mark.django_db
def test_walking_prev_from_the_last_page_goes_back(client):
    make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(2)
    last = follow(client, links(get(client, t0=iso(t0), t1=iso(t1), perPage=7))["last"])
    pages = [last]
    while "prev" in links(pages[-1]):
        pages.append(follow(client, links(pages[-1])["prev"]))

    walked = [event for page in reversed(pages) for event in page.json()]

    assert walked == generate_events(org_id=ORG, seed=1, events_per_hour=20, t0=t0, t1=t1)
    assert [len(page.json()) for page in pages] == [7, 7, 7, 7, 7, 5]
    assert "next" not in links(last) and "next" in links(pages[1])


@pytest.mark.django_db
def test_descending_order_walks_from_the_newest_event(client):
    make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(2)
    pages = [get(client, t0=iso(t0), t1=iso(t1), perPage=10, sortOrder="descending")]
    while "next" in links(pages[-1]):
        pages.append(follow(client, links(pages[-1])["next"]))
    back = follow(client, links(pages[-1])["prev"])

    walked = [event for page in pages for event in page.json()]

    assert walked == generate_events(org_id=ORG, seed=1, events_per_hour=20, t0=t0, t1=t1)[::-1]
    assert back.json() == pages[-2].json()


@pytest.mark.django_db
def test_first_and_last_links_stay_the_same_on_every_page(client):
    make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(1)
    first = get(client, t0=iso(t0), t1=iso(t1), perPage=5)
    second = follow(client, links(first)["next"])

    assert links(first)["first"] == links(second)["first"]
    assert links(first)["last"] == links(second)["last"]
    assert follow(client, links(second)["first"]).json() == first.json()


@pytest.mark.django_db
def test_an_empty_window_has_only_first_and_last_links(client):
    make_sim_org(events_per_hour=0)

    response = get(client, t0=iso(timezone.now() - timedelta(hours=1)))

    assert response.status_code == 200 and response.json() == []
    assert set(links(response)) == {"first", "last"}


@pytest.mark.django_db(transaction=True)
def test_link_header_has_absolute_urls_on_the_callers_host_and_unquoted_rels(live_server):
    make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(1)
    url = f"{live_server.url}{events_url()}"

    response = requests.get(
        url, params={"t0": iso(t0), "t1": iso(t1), "perPage": 5}, headers={"Authorization": f"Bearer {KEY}"}, timeout=5
    )

    assert response.status_code == 200
    assert set(response.links) == {"first", "next", "last"}
    assert all(link["url"].startswith(f"{url}?") for link in response.links.values())
    assert re.fullmatch(r"(<[^<>]+>; rel=(first|prev|next|last)(, )?)+", response.headers["Link"])
    following = requests.get(response.links["next"]["url"], headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
    assert set(following.links) == {"first", "prev", "next", "last"}
    query = parse_qs(urlsplit(response.links["next"]["url"]).query)
    assert query["t0"] == [iso(t0)] and query["perPage"] == ["5"]
    assert query["startingAfter"] == [response.json()[-1]["ts"]]


@pytest.mark.django_db
def test_default_is_100_events_of_the_last_31_days_oldest_first(client):
    make_sim_org(events_per_hour=1)

    events = get(client).json()

    assert len(events) == 100
    oldest = datetime.fromisoformat(events[0]["ts"])
    assert timezone.now() - timedelta(days=31) <= oldest < timezone.now() - timedelta(days=31) + timedelta(hours=2)
    assert [event["ts"] for event in events] == sorted(event["ts"] for event in events)


@pytest.mark.django_db
def test_t0_and_t1_accept_epoch_seconds(client):
    make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(1)

    by_epoch = get(client, t0=str(int(t0.timestamp())), t1=str(int(t1.timestamp())), perPage=100).json()

    assert by_epoch == get(client, t0=iso(t0), t1=iso(t1), perPage=100).json() and len(by_epoch) == 20


@pytest.mark.django_db
def test_timespan_reads_the_last_seconds(client):
    make_sim_org(events_per_hour=3600)

    events = get(client, timespan="600", perPage=1000).json()

    assert 450 < len(events) < 750
    assert datetime.fromisoformat(events[0]["ts"]) >= timezone.now() - timedelta(seconds=601)


def _days_ago(days: float) -> str:
    return iso(timezone.now() - timedelta(days=days))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"perPage": "2"}, "'perPage' must be an integer between 3 and 1000"),
        ({"perPage": "1001"}, "'perPage' must be an integer between 3 and 1000"),
        ({"perPage": "ten"}, "'perPage' must be an integer between 3 and 1000"),
        ({"sortOrder": "newest"}, "'sortOrder' must be one of: 'ascending', 'descending'"),
        ({"timespan": "3600", "t0": "2026-01-01T00:00:00Z"}, "'timespan' cannot be combined with 't0' or 't1'"),
        ({"timespan": "3600", "t1": "2026-01-01T00:00:00Z"}, "'timespan' cannot be combined with 't0' or 't1'"),
        ({"timespan": "31536001"}, "'timespan' must be greater than 0 and at most 31536000 seconds (365 days)"),
        ({"timespan": "soon"}, "'timespan' must be a number of seconds"),
        ({"t0": "yesterday"}, "'t0' must be an ISO 8601 time or epoch seconds"),
        ({"t0": "__366_days_ago__"}, "'t0' must be within 365 days of today"),
        ({"t0": "__300_days_ago__", "t1": "__-70_days_ago__"}, "'t1' can be a maximum of 365 days after 't0'"),
        ({"t0": "__1_days_ago__", "t1": "__2_days_ago__"}, "'t1' must be after 't0'"),
        ({"startingAfter": "x"}, "'startingAfter' must be an ISO 8601 time or epoch seconds"),
        ({"startingAfter": "0", "endingBefore": "0"}, "'startingAfter' and 'endingBefore' cannot be combined"),
    ],
)
def test_invalid_parameters_get_400_with_the_reason(client, params, message):
    make_sim_org()
    days = re.compile(r"^__(-?\d+)_days_ago__$")
    params = {
        name: _days_ago(int(match[1])) if (match := days.match(value)) else value for name, value in params.items()
    }

    response = get(client, **params)

    assert response.status_code == 400
    assert response.json() == {"errors": [message]}


# --- authentication ------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_unknown_api_key_gets_401(client):
    make_sim_org()

    response = get(client, key="not-a-known-key")

    assert response.status_code == 401 and response.json() == {"errors": ["Invalid API key"]}


@pytest.mark.django_db
def test_missing_api_key_gets_401(client):
    make_sim_org()

    response = get(client, key=None)

    assert response.status_code == 401 and response.json() == {"errors": ["Missing API key"]}


@pytest.mark.django_db
def test_the_x_cisco_meraki_api_key_header_is_accepted(client):
    make_sim_org()

    response = get(client, headers={"X-Cisco-Meraki-API-Key": KEY})

    assert response.status_code == 200


@pytest.mark.django_db
def test_a_key_asking_for_another_organization_gets_404(client):
    make_sim_org()
    make_sim_org(OTHER_ORG, key=OTHER_KEY)

    response = get(client, OTHER_ORG, key=KEY)

    assert response.status_code == 404 and response.json() == {"errors": ["Not found"]}


@pytest.mark.django_db
def test_a_known_key_asking_for_an_unknown_organization_gets_404(client):
    make_sim_org()

    response = get(client, "999999")

    assert response.status_code == 404 and response.json() == {"errors": ["Not found"]}


# --- rate limit ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_requests_beyond_the_burst_get_429_with_retry_after(client, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(ratelimit, "meraki_buckets", ratelimit.TokenBucket(clock=clock))
    organization = make_sim_org()

    statuses = [get(client, perPage=3).status_code for _ in range(10)]
    throttled = get(client, perPage=3)
    clock.now += 0.5
    after_half_a_second = [get(client, perPage=3).status_code for _ in range(6)]

    assert statuses == [200] * 10
    assert throttled.status_code == 429 and throttled["Retry-After"] == "1"
    assert throttled.json() == {"errors": ["API rate limit exceeded for organization"]}
    assert after_half_a_second == [200] * 5 + [429]
    organization.refresh_from_db()
    assert (organization.requests_served, organization.rate_limited_served) == (17, 2)


@pytest.mark.django_db
def test_the_rate_limit_is_per_organization(client, monkeypatch):
    monkeypatch.setattr(ratelimit, "meraki_buckets", ratelimit.TokenBucket(clock=FakeClock()))
    make_sim_org()
    make_sim_org(OTHER_ORG, key=OTHER_KEY)
    for _ in range(10):
        get(client, perPage=3)

    assert get(client, perPage=3).status_code == 429
    assert get(client, OTHER_ORG, key=OTHER_KEY, perPage=3).status_code == 200


def test_the_bucket_allows_10_per_second_plus_a_burst_of_10_at_most_30_in_2_seconds():
    clock = FakeClock()
    bucket = ratelimit.TokenBucket(clock=clock)
    allowed_at: list[int] = []
    for millisecond in range(2001):  # a request every millisecond for 2 s
        clock.now = 1000.0 + millisecond / 1000
        if bucket.take("org"):
            allowed_at.append(millisecond)

    assert sum(ms <= 1000 for ms in allowed_at) == 20
    assert len(allowed_at) == 30
    assert max(sum(start <= ms <= start + 1000 for ms in allowed_at) for start in allowed_at) == 20


def test_resetting_the_bucket_fills_it_again():
    bucket = ratelimit.TokenBucket(clock=FakeClock())
    for _ in range(10):
        bucket.take("org")
    assert not bucket.take("org")

    bucket.reset()

    assert bucket.take("org")


# --- faults --------------------------------------------------------------------------------------------------
def add_fault(kind: str, **fields) -> SimulatedFault:
    return SimulatedFault.objects.create(
        api=SimulatedFault.Api.MERAKI, kind=kind, org_id=fields.pop("org_id", ORG), **fields
    )


@pytest.mark.django_db
def test_server_error_fault_answers_500(client):
    make_sim_org()
    add_fault(SimulatedFault.Kind.SERVER_ERROR)

    response = get(client)

    assert response.status_code == 500 and response.json() == {"errors": ["Internal server error"]}
    assert get(client).status_code == 200


@pytest.mark.django_db
def test_rate_limit_fault_answers_429_with_its_retry_after(client):
    make_sim_org()
    add_fault(SimulatedFault.Kind.RATE_LIMIT, retry_after=7)

    response = get(client)

    assert response.status_code == 429 and response["Retry-After"] == "7"
    assert response.json() == {"errors": ["API rate limit exceeded for organization"]}


@pytest.mark.django_db
def test_slow_fault_waits_then_answers(client, sleeps):
    make_sim_org()
    add_fault(SimulatedFault.Kind.SLOW, delay_seconds=2.5)

    response = get(client)

    assert response.status_code == 200 and sleeps == [2.5]


@pytest.mark.django_db
def test_redirect_fault_sends_the_same_path_and_query_to_the_shard_host(client):
    make_sim_org()
    add_fault(SimulatedFault.Kind.REDIRECT, shard_host="n123.localhost:8001")

    response = get(client, perPage=5, sortOrder="descending")

    assert response.status_code == 302
    assert response["Location"] == f"http://n123.localhost:8001{events_url()}?perPage=5&sortOrder=descending"


@pytest.mark.django_db
def test_malformed_fault_answers_200_with_a_body_that_is_not_a_json_array(client):
    make_sim_org(events_per_hour=60)
    add_fault(SimulatedFault.Kind.MALFORMED)

    response = get(client, timespan="7200")

    assert response.status_code == 200 and response.content.startswith(b'[{"ts": ')
    with pytest.raises(ValueError):
        json.loads(response.content)


@pytest.mark.django_db
def test_faults_wait_for_their_skip_and_only_hit_their_organization(client):
    make_sim_org()
    make_sim_org(OTHER_ORG, key=OTHER_KEY)
    add_fault(SimulatedFault.Kind.SERVER_ERROR, skip=1, remaining=2)

    other = get(client, OTHER_ORG, key=OTHER_KEY)
    statuses = [get(client).status_code for _ in range(4)]

    assert other.status_code == 200
    assert statuses == [200, 500, 500, 200]


@pytest.mark.django_db
def test_faults_are_checked_after_authentication(client):
    make_sim_org()
    fault = add_fault(SimulatedFault.Kind.SERVER_ERROR)

    assert get(client, key="wrong-key").status_code == 401
    assert get(client, "999999").status_code == 404
    fault.refresh_from_db()
    assert (fault.remaining, fault.fired) == (1, 0)
    assert get(client).status_code == 500


@pytest.mark.django_db
def test_error_rate_setting_answers_random_500s(client, settings):
    make_sim_org()
    settings.SIMULATOR_MERAKI_ERROR_RATE = 1.0

    assert get(client).status_code == 500
    settings.SIMULATOR_MERAKI_ERROR_RATE = 0.0
    assert get(client).status_code == 200


@pytest.mark.django_db
def test_latency_setting_delays_every_answer(client, settings, sleeps):
    make_sim_org()
    settings.SIMULATOR_LATENCY = 0.25

    get(client)
    get(client, key="wrong-key")
    get(client)

    assert sleeps == [0.25, 0.25]  # authenticated requests only: a bad key is refused at once


# --- counters ------------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_counters_record_what_was_served(client):
    organization = make_sim_org(events_per_hour=20)
    t0, t1 = past_hours(1)
    add_fault(SimulatedFault.Kind.SERVER_ERROR, skip=1)
    add_fault(SimulatedFault.Kind.MALFORMED)
    add_fault(SimulatedFault.Kind.RATE_LIMIT)

    for _ in range(5):
        get(client, t0=iso(t0), t1=iso(t1), perPage=15)
    get(client, perPage=1)  # 400

    organization.refresh_from_db()
    served = (
        organization.requests_served,
        organization.pages_served,
        organization.events_served,
        organization.rate_limited_served,
        organization.errors_served,
    )
    assert served == (6, 2, 30, 1, 2)


# --- with the product's client -------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_product_client_follows_a_shard_redirect_and_reads_every_page(live_server, settings):
    # The shard is this same server under another spelling of its host (127.0.0.1 for localhost): a name such
    # as n123.localhost would not resolve here, and the client sends the key only to allowed hosts.
    port = urlsplit(live_server.url).port
    make_sim_org(events_per_hour=20)
    add_fault(SimulatedFault.Kind.REDIRECT, shard_host=f"127.0.0.1:{port}", skip=1)
    t0, t1 = past_hours(2)
    client = MerakiClient(
        base_url=f"{live_server.url}/simulator/meraki/api/v1",
        api_key=KEY,
        rate_limiter=LocalRateLimiter(rate_per_second=1000, burst=100),
        extra_allowed_hosts=["localhost", "127.0.0.1"],
        per_page=15,
    )

    pages = list(client.iter_security_event_pages(org_id=ORG, t0=t0, t1=t1))

    assert [event for page in pages for event in page] == generate_events(
        org_id=ORG, seed=1, events_per_hour=20, t0=t0, t1=t1
    )
    assert (client.pages, client.requests_sent) == (3, 4)
    assert SimulatedFault.objects.get().fired == 1


def test_windows_are_half_open_in_microseconds():
    stream = EventStream(org_id=ORG, seed=1, events_per_hour=20)
    t0, t1 = past_hours(1)
    stamps = list(stream.timestamps(to_us(t0), to_us(t1)))

    inner = list(stream.timestamps(stamps[3], stamps[7]))

    assert inner == stamps[3:7]
    assert list(stream.timestamps(to_us(t0), to_us(t1), descending=True)) == stamps[::-1]
