"""A fake Meraki security-events endpoint on `responses`: filters by t0/t1 and pages with Link headers.

It behaves like the real API as the reference notes describe it (absolute next URLs, unquoted rel, no next on
the last page), so sync tests exercise the real client and ingest code end to end without a network.
"""

import json
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import responses

from sync.clients.meraki import MerakiClient
from sync.models import Organization
from sync.ratelimit import LocalRateLimiter
from tests.factories import TEST_BASE_URL


class FakeMeraki:
    def __init__(
        self,
        mock: responses.RequestsMock,
        *,
        org_id: str,
        events: list | None = None,
        page_size: int = 10,
        base_url: str = TEST_BASE_URL,
    ):
        self.org_id = org_id
        self.events = list(events or [])
        self.page_size = page_size
        self.url = f"{base_url}/organizations/{org_id}/appliance/security/events"
        self.requests: list = []
        # request number (1-based) -> a (status, body) answer instead of the page; lets a test fail "page 3".
        self.failures: dict[int, tuple[int, str]] = {}
        self.on_request: Callable[[int], None] | None = None
        mock.add_callback(responses.GET, self.url, callback=self._answer)

    def _answer(self, request):
        self.requests.append(request)
        number = len(self.requests)
        if self.on_request:
            self.on_request(number)
        if number in self.failures:
            status, body = self.failures[number]
            return status, {"Content-Type": "application/json"}, body
        query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
        t0, t1 = _parse(query["t0"]), _parse(query["t1"])
        matching = [event for event in self.events if t0 <= _parse(event["ts"]) <= t1]
        start = int(query.get("startingAfter", 0))
        page = matching[start : start + self.page_size]
        links = [f"<{self._link(query, startingAfter=0)}>; rel=first"]
        if start + self.page_size < len(matching):
            links.append(f"<{self._link(query, startingAfter=start + self.page_size)}>; rel=next")
        return 200, {"Content-Type": "application/json", "Link": ", ".join(links)}, json.dumps(page)

    def _link(self, query: dict, **changes) -> str:
        return f"{self.url}?{urlencode({**query, **changes})}"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def fast_client(*, organization: Organization) -> MerakiClient:
    """The real client, minus the waiting: no sleeps, an unlimited local rate limiter, two attempts."""
    return MerakiClient(
        base_url=organization.meraki_base_url,
        api_key=organization.api_key.reveal(),
        rate_limiter=LocalRateLimiter(rate_per_second=1e9),
        max_attempts=2,
        sleep=lambda seconds: None,
    )
