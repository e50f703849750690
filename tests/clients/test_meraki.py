import logging
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from responses import matchers

from sync.clients.errors import (
    AccessError,
    ApiError,
    AuthError,
    ForbiddenHostError,
    PaginationError,
    RateLimitedError,
    TransientError,
)
from sync.clients.meraki import MerakiClient

BASE = "https://api.meraki.com/api/v1"
ORG = "549236"
KEY = "fake0123456789abcdef0123456789abcdef0123"
EVENTS = f"{BASE}/organizations/{ORG}/appliance/security/events"
SHARD_EVENTS = f"https://n123.meraki.com/api/v1/organizations/{ORG}/appliance/security/events"
T0 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)


class RecordingLimiter:
    """Stands in for the shared limiter: records each reservation and answers a fixed wait."""

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.keys: list[str] = []

    def reserve(self, key: str) -> float:
        self.keys.append(key)
        return self.wait


@pytest.fixture
def make_client(sleeps):
    def make(**overrides) -> MerakiClient:
        options = {
            "base_url": BASE,
            "api_key": KEY,
            "rate_limiter": RecordingLimiter(),
            "sleep": sleeps.append,
        }
        return MerakiClient(**(options | overrides))

    return make


def read_all(client: MerakiClient) -> list[list[dict]]:
    return list(client.iter_security_event_pages(org_id=ORG, t0=T0, t1=T1))


def link(**rels: str) -> dict[str, str]:
    return {"Link": ", ".join(f"<{url}>; rel={rel}" for rel, url in rels.items())}


def query(call) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


def add_three_linked_pages(api) -> None:
    first, last = (
        f"{SHARD_EVENTS}?perPage=1000&startingAfter=0",
        f"{SHARD_EVENTS}?perPage=1000&endingBefore=z",
    )
    page2, page3 = (
        f"{SHARD_EVENTS}?perPage=1000&startingAfter=a2",
        f"{SHARD_EVENTS}?perPage=1000&startingAfter=a4",
    )
    api.get(EVENTS, json=[{"n": 1}, {"n": 2}], headers=link(first=first, next=page2, last=last))
    api.get(
        page2,
        json=[{"n": 3}, {"n": 4}],
        headers=link(first=first, prev=f"{SHARD_EVENTS}?endingBefore=a3", next=page3, last=last),
        match=[matchers.query_param_matcher({"perPage": "1000", "startingAfter": "a2"})],
    )
    api.get(
        page3,
        json=[{"n": 5}],
        headers=link(first=first, prev=f"{SHARD_EVENTS}?endingBefore=a5", last=last),
        match=[matchers.query_param_matcher({"perPage": "1000", "startingAfter": "a4"})],
    )


# Pagination


def test_three_linked_pages_yield_all_events_in_order(api, make_client):
    add_three_linked_pages(api)
    client = make_client()

    pages = read_all(client)

    assert pages == [[{"n": 1}, {"n": 2}], [{"n": 3}, {"n": 4}], [{"n": 5}]]
    assert [urlsplit(call.request.url).hostname for call in api.calls] == [
        "api.meraki.com",
        "n123.meraki.com",
        "n123.meraki.com",
    ]
    assert client.pages == 3
    assert client.requests_sent == 3


def test_first_request_sends_window_page_size_and_ascending_order(api, make_client):
    add_three_linked_pages(api)

    read_all(make_client(per_page=500))

    assert query(api.calls[0]) == {
        "t0": ["2026-12-04T10:00:00Z"],
        "t1": ["2026-12-04T11:00:00Z"],
        "perPage": ["500"],
        "sortOrder": ["ascending"],
    }


def test_window_is_sent_in_utc_whole_seconds(api, make_client):
    api.get(EVENTS, json=[])
    plus_two = timezone(timedelta(hours=2))
    t0 = datetime(2026, 12, 4, 12, 0, 30, 999, tzinfo=plus_two)

    list(make_client().iter_security_event_pages(org_id=ORG, t0=t0, t1=t0 + timedelta(hours=1)))

    assert query(api.calls[0])["t0"] == ["2026-12-04T10:00:30Z"]
    assert query(api.calls[0])["t1"] == ["2026-12-04T11:00:30Z"]


def test_naive_datetime_is_refused(make_client):
    with pytest.raises(ValueError, match="naive"):
        list(make_client().iter_security_event_pages(org_id=ORG, t0=datetime(2026, 12, 4), t1=T1))


def test_pages_are_fetched_only_as_they_are_consumed(api, make_client):
    add_three_linked_pages(api)

    first_page = next(make_client().iter_security_event_pages(org_id=ORG, t0=T0, t1=T1))

    assert first_page == [{"n": 1}, {"n": 2}]
    assert len(api.calls) == 1


def test_relative_next_link_is_resolved_against_the_current_page(api, make_client):
    api.get(EVENTS, json=[{"n": 1}], headers={"Link": "</api/v1/next-page?startingAfter=1>; rel=next"})
    api.get("https://api.meraki.com/api/v1/next-page", json=[{"n": 2}])

    assert read_all(make_client()) == [[{"n": 1}], [{"n": 2}]]


def test_next_link_repeating_the_current_page_raises_pagination_error(api, make_client):
    page2 = f"{EVENTS}?startingAfter=a1"
    api.get(EVENTS, json=[{"n": 1}], headers=link(next=page2))
    api.get(page2, json=[{"n": 2}], headers=link(next=page2))

    with pytest.raises(PaginationError, match="next link does not advance"):
        read_all(make_client())
    assert len(api.calls) == 2


def test_next_link_back_to_the_first_page_with_other_encoding_raises_pagination_error(api, make_client):
    # Same query as the first request, reordered and with ":" percent-encoded differently.
    first_again = f"{EVENTS}?sortOrder=ascending&perPage=1000&t1=2026-12-04T11:00:00Z&t0=2026-12-04T10%3A00%3A00Z"
    api.get(EVENTS, json=[{"n": 1}], headers=link(next=first_again))

    with pytest.raises(PaginationError, match="does not advance"):
        read_all(make_client())
    assert len(api.calls) == 1


def test_page_cap_stops_with_pagination_error_before_sending_more(api, make_client):
    def endless(request):
        after = int(parse_qs(urlsplit(request.url).query).get("startingAfter", ["0"])[0])
        return 200, link(next=f"{EVENTS}?startingAfter={after + 1}"), "[]"

    api.add_callback(responses.GET, EVENTS, callback=endless)

    with pytest.raises(PaginationError, match="cap of 3 pages"):
        read_all(make_client(max_pages=3))
    assert len(api.calls) == 3


def test_next_link_to_foreign_host_is_refused_and_key_never_sent(api, make_client):
    api.get(EVENTS, json=[{"n": 1}], headers=link(next="https://evil.example/api/v1/steal?x=1"))
    api.get("https://evil.example/api/v1/steal", json=[])
    pages = make_client().iter_security_event_pages(org_id=ORG, t0=T0, t1=T1)

    assert next(pages) == [{"n": 1}]
    with pytest.raises(ForbiddenHostError, match=r"evil\.example"):
        next(pages)
    assert [urlsplit(call.request.url).hostname for call in api.calls] == ["api.meraki.com"]


def test_next_link_to_lookalike_meraki_host_is_refused(api, make_client):
    api.get(EVENTS, json=[], headers=link(next="https://api.meraki.com.evil.net/api/v1/x"))

    with pytest.raises(ForbiddenHostError):
        read_all(make_client())
    assert len(api.calls) == 1


# Rate limiting


def test_every_request_reserves_the_org_slot_and_sleeps_its_wait(api, make_client, sleeps):
    add_three_linked_pages(api)
    limiter = RecordingLimiter(wait=0.25)
    client = make_client(rate_limiter=limiter)

    read_all(client)

    assert limiter.keys == [f"meraki:{ORG}"] * 3
    assert sleeps == [0.25] * 3
    assert client.slept_for_rate_limit == pytest.approx(0.75)


def test_429_sleeps_retry_after_then_succeeds(api, make_client, sleeps):
    api.get(EVENTS, status=429, headers={"Retry-After": "7"}, json={"errors": ["API rate limit exceeded"]})
    api.get(EVENTS, json=[{"n": 1}])
    client = make_client()

    assert read_all(client) == [[{"n": 1}]]
    assert client.rate_limited == 1
    assert sleeps == [7.0]
    assert client.slept_for_rate_limit == 7.0
    assert len(api.calls) == 2


def test_fractional_retry_after_is_honoured(api, make_client, sleeps):
    api.get(EVENTS, status=429, headers={"Retry-After": "0.5"})
    api.get(EVENTS, json=[])

    read_all(make_client())

    assert sleeps == [0.5]


def test_retry_after_above_the_cap_is_capped(api, make_client, sleeps):
    api.get(EVENTS, status=429, headers={"Retry-After": "3600"})
    api.get(EVENTS, json=[])

    read_all(make_client(max_retry_after=60))

    assert sleeps == [60]


def test_429_without_usable_retry_after_backs_off(api, make_client, sleeps):
    api.get(EVENTS, status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    api.get(EVENTS, status=429)
    api.get(EVENTS, json=[])
    client = make_client(backoff_base=1.0, backoff_cap=30.0)

    read_all(client)

    assert client.rate_limited == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 0.5 <= sleeps[1] <= 2.0


def test_endless_429_gives_up_with_rate_limited_error(api, make_client, sleeps):
    api.get(EVENTS, status=429, headers={"Retry-After": "1"})
    client = make_client(max_rate_limit_retries=3)

    with pytest.raises(RateLimitedError) as raised:
        read_all(client)

    assert len(api.calls) == 4
    assert client.rate_limited == 4
    assert sleeps == [1.0, 1.0, 1.0]
    assert raised.value.status == 429
    assert "rate limit" in raised.value.message


# Transient failures


def test_500_then_success_is_retried(api, make_client, sleeps):
    api.get(EVENTS, status=500)
    api.get(EVENTS, json=[{"n": 1}])
    client = make_client()

    assert read_all(client) == [[{"n": 1}]]
    assert client.retries == 1
    assert len(sleeps) == 1
    assert 0.5 <= sleeps[0] <= 1.0


def test_endless_503_gives_up_after_max_attempts_with_clear_message(api, make_client, sleeps):
    api.get(EVENTS, status=503)
    client = make_client(max_attempts=3)

    with pytest.raises(TransientError) as raised:
        read_all(client)

    assert len(api.calls) == 3
    assert raised.value.message == "Meraki API unavailable after 3 attempts: HTTP 503"
    assert raised.value.status == 503
    assert len(sleeps) == 2
    assert (client.requests_sent, client.retries, client.pages) == (3, 2, 0)


def test_backoff_doubles_up_to_the_cap(api, make_client, sleeps, monkeypatch):
    monkeypatch.setattr("sync.clients.meraki.random.uniform", lambda low, high: high)
    api.get(EVENTS, status=502)

    with pytest.raises(TransientError):
        read_all(make_client(max_attempts=6, backoff_base=1.0, backoff_cap=5.0))

    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_backoff_never_drops_below_half_the_base(api, make_client, sleeps, monkeypatch):
    monkeypatch.setattr("sync.clients.meraki.random.uniform", lambda low, high: low)
    api.get(EVENTS, status=500)

    with pytest.raises(TransientError):
        read_all(make_client(max_attempts=3, backoff_base=2.0))

    assert sleeps == [1.0, 1.0]


def test_connection_error_then_success_is_retried(api, make_client, sleeps):
    api.get(EVENTS, body=requests.ConnectionError("connection refused"))
    api.get(EVENTS, json=[{"n": 1}])

    assert read_all(make_client()) == [[{"n": 1}]]
    assert len(sleeps) == 1


def test_endless_timeouts_raise_transient_error_naming_the_host(api, make_client):
    api.get(EVENTS, body=requests.Timeout("read timed out"))

    with pytest.raises(TransientError) as raised:
        read_all(make_client(max_attempts=2))

    assert raised.value.message == "Meraki API unavailable after 2 attempts: Timeout reaching api.meraki.com"
    assert len(api.calls) == 2


def test_non_array_json_body_is_retried_then_transient_error(api, make_client):
    api.get(EVENTS, json={"events": []})

    with pytest.raises(TransientError, match="not a JSON array"):
        read_all(make_client(max_attempts=3))
    assert len(api.calls) == 3


def test_non_json_body_then_valid_page_succeeds(api, make_client):
    api.get(EVENTS, body="<html>gateway hiccup</html>", content_type="text/html")
    api.get(EVENTS, json=[{"n": 1}])

    assert read_all(make_client()) == [[{"n": 1}]]


# Errors that are not retried


def test_401_raises_auth_error_without_retry(api, make_client):
    api.get(EVENTS, status=401, json={"errors": ["No valid authentication method found"]})

    with pytest.raises(AuthError) as raised:
        read_all(make_client())

    assert raised.value.message == "Meraki API key rejected (HTTP 401): check the organization's API key"
    assert raised.value.status == 401
    assert len(api.calls) == 1


def test_404_raises_access_error_without_retry(api, make_client):
    api.get(EVENTS, status=404, json={"errors": ["To make requests you must first enable API access"]})

    with pytest.raises(AccessError) as raised:
        read_all(make_client())

    assert raised.value.message.startswith(f"no access to organization {ORG} or API access disabled (HTTP 404)")
    assert "enable API access" in raised.value.message
    assert len(api.calls) == 1


def test_404_with_html_body_raises_access_error(api, make_client):
    api.get(EVENTS, status=404, body="<html>\n<body>Not Found</body>\n</html>", content_type="text/html")

    with pytest.raises(AccessError, match="HTTP 404"):
        read_all(make_client())


def test_403_raises_access_error_without_retry(api, make_client):
    api.get(EVENTS, status=403, json={"errors": ["You lack permission"]})

    with pytest.raises(AccessError, match=r"organization 549236 or API access disabled \(HTTP 403\)"):
        read_all(make_client())
    assert len(api.calls) == 1


def test_400_raises_api_error_with_meraki_errors_text(api, make_client):
    api.get(EVENTS, status=400, json={"errors": ["'t0' must be within 365 days", "perPage out of range"]})

    with pytest.raises(ApiError) as raised:
        read_all(make_client())

    assert type(raised.value) is ApiError
    assert raised.value.status == 400
    assert "HTTP 400" in raised.value.message
    assert "'t0' must be within 365 days; perPage out of range" in raised.value.message
    assert len(api.calls) == 1


def test_long_error_text_is_truncated(api, make_client):
    api.get(EVENTS, status=400, json={"errors": ["x" * 5000]})

    with pytest.raises(ApiError) as raised:
        read_all(make_client())

    assert len(raised.value.message) < 400


# Redirects and hosts


def test_redirect_to_shard_host_keeps_authorization_header(api, make_client):
    api.get(EVENTS, status=302, headers={"Location": f"{SHARD_EVENTS}?perPage=1000"})
    api.get(SHARD_EVENTS, json=[{"n": 1}])

    assert read_all(make_client()) == [[{"n": 1}]]
    shard_call = api.calls[1]
    assert urlsplit(shard_call.request.url).hostname == "n123.meraki.com"
    assert shard_call.request.headers["Authorization"] == f"Bearer {KEY}"


def test_redirect_to_foreign_host_is_refused_and_key_never_sent(api, make_client):
    api.get(EVENTS, status=307, headers={"Location": "https://evil.example/collect"})
    api.get("https://evil.example/collect", json=[])

    with pytest.raises(ForbiddenHostError) as raised:
        read_all(make_client())

    assert "evil.example" in raised.value.message
    assert "API key was not sent" in raised.value.message
    assert [urlsplit(call.request.url).hostname for call in api.calls] == ["api.meraki.com"]


def test_redirect_to_plain_http_meraki_host_is_refused(api, make_client):
    api.get(EVENTS, status=301, headers={"Location": "http://n123.meraki.com/api/v1/x"})

    with pytest.raises(ForbiddenHostError, match="https"):
        read_all(make_client())
    assert len(api.calls) == 1


def test_redirect_loop_stops_after_five_redirects(api, make_client):
    api.get(EVENTS, status=302, headers={"Location": EVENTS})

    with pytest.raises(ApiError, match="redirected more than 5 times"):
        read_all(make_client())
    assert len(api.calls) == 6


def test_each_request_sends_bearer_key_json_accept_and_user_agent(api, make_client):
    api.get(EVENTS, json=[])

    read_all(make_client())

    headers = api.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == "meraki-incidents/0.1"


def test_extra_allowed_host_allows_http_simulator(api, make_client):
    simulator = "http://localhost:8765/api/v1"
    api.get(f"{simulator}/organizations/{ORG}/appliance/security/events", json=[{"n": 1}])

    client = make_client(base_url=simulator, extra_allowed_hosts=["localhost"])

    assert read_all(client) == [[{"n": 1}]]


def test_http_simulator_without_extra_host_is_refused(make_client):
    with pytest.raises(ForbiddenHostError, match="localhost"):
        make_client(base_url="http://localhost:8765/api/v1")


def test_foreign_base_url_is_refused(make_client):
    with pytest.raises(ForbiddenHostError):
        make_client(base_url="https://api.example.com/api/v1")


def test_missing_api_key_is_refused(make_client):
    with pytest.raises(AuthError, match="no Meraki API key"):
        make_client(api_key="")


# Secrets


@pytest.mark.parametrize(
    "reply",
    [
        {"status": 401, "json": {"errors": ["Invalid key"]}},
        {"status": 404, "body": ""},
        {"status": 400, "json": {"errors": [f"bad key {KEY}"]}},
        {"status": 503},
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"status": 302, "headers": {"Location": f"https://evil.example/?k={KEY[:8]}"}},
        {"body": requests.ConnectionError("boom")},
    ],
    ids=["401", "404", "400-echoing-key", "503", "429", "foreign-redirect", "connection-error"],
)
def test_api_key_never_appears_in_errors_or_logs(api, make_client, caplog, reply):
    caplog.set_level(logging.DEBUG)
    api.get(EVENTS, **reply)
    client = make_client(max_attempts=2, max_rate_limit_retries=1)

    with pytest.raises(ApiError) as raised:
        read_all(client)

    assert KEY not in str(raised.value)
    assert KEY not in repr(client)
    assert caplog.records
    for record in caplog.records:
        assert KEY not in record.getMessage()


# Test connection


def test_check_access_reads_one_small_page_of_the_last_hour(api, make_client):
    api.get(EVENTS, json=[{"n": 1}, {"n": 2}], headers=link(next=f"{EVENTS}?startingAfter=x"))
    now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

    count = make_client().check_access(org_id=ORG, now=now)

    assert count == 2
    assert len(api.calls) == 1
    assert query(api.calls[0]) == {
        "t0": [(now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")],
        "t1": ["2026-12-04T12:00:00Z"],
        "perPage": ["3"],
        "sortOrder": ["ascending"],
    }


def test_check_access_raises_the_same_typed_errors(api, make_client):
    api.get(EVENTS, status=401)

    with pytest.raises(AuthError):
        make_client().check_access(org_id=ORG)
