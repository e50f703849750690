"""Meraki Dashboard API v1 client for organization security events, on plain `requests`.

Why not the SDK or urllib3's `Retry`: a sync run must report how many 429s it saw and how long it
waited, Retry-After must be capped, the rate limit is shared by every worker (Redis), and the API key
must never follow a redirect or `Link` to a foreign host. `_fetch_page` sends through the shared retry
loop (`sync.clients.retry`), and `_send` checks every host and reserves a rate-limit slot first.
"""

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import requests

from sync.clients import USER_AGENT, host_of, json_or_none
from sync.clients.errors import AccessError, ApiError, AuthError, ForbiddenHostError, PaginationError
from sync.clients.hosts import check_url_allowed
from sync.clients.retry import MalformedResponse, RetryCounters, RetryPolicy, RetryStats, one_line, send_with_retry
from sync.ratelimit import RateLimiter

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_DETAIL_LIMIT = 300


class MerakiClient(RetryCounters):
    """Reads one organization's appliance security events, page by page.

    Every HTTP request first reserves a slot from the shared `rate_limiter` (key `meraki:<org_id>`)
    and sleeps what it says. Counters accumulate over the client's life and stay readable after an
    exception, so a failed sync run can still record them: `requests_sent` (HTTP requests, redirect
    hops included), `pages`, `rate_limited` (429 responses), `retries` (re-sends after a 429 or a
    transient failure) and `slept_for_rate_limit` (seconds waited for the limiter and for Retry-After).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        rate_limiter: RateLimiter,
        extra_allowed_hosts: Iterable[str] = (),
        session: requests.Session | None = None,
        timeout: float = 30,
        max_attempts: int = 5,
        max_rate_limit_retries: int = 10,
        max_retry_after: float = 60,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_pages: int = 1000,
        per_page: int = 1000,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not api_key:
            raise AuthError("no Meraki API key configured: set the organization's API key")
        if not 3 <= per_page <= 1000:
            raise ValueError(f"per_page must be between 3 and 1000 (Meraki's range), got {per_page}")
        if max_attempts < 1 or max_pages < 1 or max_rate_limit_retries < 0:
            raise ValueError("max_attempts and max_pages must be >= 1, max_rate_limit_retries >= 0")
        self.extra_allowed_hosts = tuple(extra_allowed_hosts)
        check_url_allowed(base_url, extra_hosts=self.extra_allowed_hosts)
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._rate_limiter = rate_limiter
        self._session = session or requests.Session()
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            max_attempts=max_attempts,
            max_rate_limit_retries=max_rate_limit_retries,
            max_retry_after=max_retry_after,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            jitter=random.uniform,  # read when the client is built, so a test can pin the jitter
        )
        self.retry_stats = RetryStats()
        self.max_pages = max_pages
        self.per_page = per_page
        self._sleep = sleep

        self.requests_sent = 0
        self.pages = 0
        self._slept_for_limiter = 0.0

    def __repr__(self) -> str:
        return f"<MerakiClient {self.base_url}>"

    @property
    def slept_for_rate_limit(self) -> float:
        return self._slept_for_limiter + self.retry_stats.slept_for_rate_limit

    # Public API

    def iter_security_event_pages(self, *, org_id: str, t0: datetime, t1: datetime) -> Iterator[list[Any]]:
        """Yield each page (a JSON array of events) for [t0, t1], oldest first, following `Link: next`.

        One page is held at a time, so memory does not grow with the number of events. Stops when a
        page has no `next` link; raises PaginationError if a `next` link repeats a page already read
        (a server loop) or more than `max_pages` pages would be needed.
        """
        url = self._events_url(org_id)
        params: dict[str, str | int] | None = {
            "t0": format_time(t0),
            "t1": format_time(t1),
            "perPage": self.per_page,
            "sortOrder": "ascending",
        }
        visited: set[tuple[Any, ...]] = set()
        source = "base URL"
        pages_here = 0
        while True:
            visited.add(_url_identity(url, params))
            events, response = self._fetch_page(url, params, org_id=org_id, source=source)
            visited.add(_url_identity(response.url))
            pages_here += 1
            self.pages += 1
            yield events

            next_link = response.links.get("next", {}).get("url")
            if not next_link:
                return
            next_url = urljoin(response.url, next_link)
            if _url_identity(next_url) in visited:
                raise PaginationError(
                    f"Meraki API pagination for organization {org_id} stopped: the next link does not"
                    f" advance (it repeats a page already read after {pages_here} pages)"
                )
            if pages_here >= self.max_pages:
                raise PaginationError(
                    f"Meraki API pagination for organization {org_id} stopped at the cap of"
                    f" {self.max_pages} pages: narrow the sync window or raise the page cap"
                )
            url, params = next_url, None
            source = f"Link next from {host_of(response.url)}"

    def check_access(self, *, org_id: str, now: datetime | None = None) -> int:
        """Read one small page of the last hour, for an admin "Test connection" action.

        Returns the number of events on that page (0-3); raises the same typed errors as a sync, so
        the admin sees the same message a failed sync would record.
        """
        now = now or datetime.now(UTC)
        params = {
            "t0": format_time(now - timedelta(hours=1)),
            "t1": format_time(now),
            "perPage": 3,
            "sortOrder": "ascending",
        }
        events, _ = self._fetch_page(self._events_url(org_id), params, org_id=org_id, source="base URL")
        self.pages += 1
        return len(events)

    # The one place that sends requests and retries

    def _fetch_page(
        self, url: str, params: dict[str, Any] | None, *, org_id: str, source: str
    ) -> tuple[list[Any], requests.Response]:
        """GET one page: rate limit, redirects, 429 waits, backoff on transient failures, typed errors."""
        return send_with_retry(
            lambda: self._get_following_redirects(url, params, org_id=org_id, source=source),
            parse=_events_page,
            reject=lambda response: self._client_error(response, org_id=org_id),
            policy=self.retry_policy,
            stats=self.retry_stats,
            service="Meraki API",
            host=host_of(url),
            sleep=self._sleep,
            subject=f" for organization {org_id}",
            rate_limit_hint="another tool may be using the organization's budget; lower the sync rate",
            log_context=f"org={org_id}",
        )

    def _get_following_redirects(
        self, url: str, params: dict[str, Any] | None, *, org_id: str, source: str
    ) -> requests.Response:
        """Send the GET, following up to MAX_REDIRECTS redirects by hand.

        `requests` would drop the Authorization header on a cross-host redirect (Meraki then answers
        401), and would follow redirects anywhere; here each target is checked against the allow-list
        first and the key is re-sent only to allowed hosts.
        """
        for _ in range(MAX_REDIRECTS + 1):
            response = self._send(url, params, org_id=org_id, source=source)
            if not response.is_redirect:
                return response
            target = urljoin(response.url, response.headers["Location"])
            source = f"redirect (HTTP {response.status_code}) from {host_of(response.url)}"
            logger.info("meraki redirect org=%s from=%s to=%s", org_id, host_of(response.url), host_of(target))
            url, params = target, None
        raise ApiError(
            f"Meraki API redirected more than {MAX_REDIRECTS} times for organization {org_id}"
            f" (last from {host_of(response.url)})",
            status=response.status_code,
        )

    def _send(self, url: str, params: dict[str, Any] | None, *, org_id: str, source: str) -> requests.Response:
        """Check the host, wait for a rate-limit slot, send one GET with the key."""
        try:
            check_url_allowed(url, extra_hosts=self.extra_allowed_hosts)
        except ForbiddenHostError as exc:
            logger.error("meraki refused url org=%s source=%s: %s", org_id, source, exc.message)
            raise ForbiddenHostError(f"did not follow the {source}: {exc.message}; the API key was not sent") from None
        wait = self._rate_limiter.reserve("meraki:" + org_id)
        if wait > 0:
            self._slept_for_limiter += wait
            self._sleep(wait)
        self.requests_sent += 1
        response = self._session.get(
            url,
            params=params,
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=self.timeout,
            allow_redirects=False,
        )
        logger.debug("meraki response org=%s host=%s status=%d", org_id, host_of(url), response.status_code)
        return response

    def _client_error(self, response: requests.Response, *, org_id: str) -> ApiError:
        """Map a non-retryable answer (4xx, or a 3xx without Location) to a typed error."""
        status = response.status_code
        detail = self._redact(_error_detail(response))
        suffix = f": Meraki says: {detail}" if detail else ""
        logger.warning("meraki error org=%s host=%s status=%d", org_id, host_of(response.url), status)
        if status == 401:
            return AuthError("Meraki API key rejected (HTTP 401): check the organization's API key", status=401)
        if status in (403, 404):
            return AccessError(
                f"no access to organization {org_id} or API access disabled (HTTP {status}){suffix}",
                status=status,
            )
        return ApiError(f"Meraki API rejected the request (HTTP {status}){suffix}", status=status)

    def _redact(self, text: str) -> str:
        # An API echoing the key back in an error body must not put it into our messages.
        return text.replace(self._api_key, "[redacted]")

    def _events_url(self, org_id: str) -> str:
        return f"{self.base_url}/organizations/{quote(org_id, safe='')}/appliance/security/events"


def format_time(value: datetime) -> str:
    """ISO 8601 UTC with `Z`, whole seconds (`2026-12-04T10:00:00Z`), the form Meraki documents.

    Sub-second precision is dropped; the ingest window's overlap re-reads that sliver anyway.
    A naive datetime is refused: guessing its zone could shift the window by hours.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _events_page(response: requests.Response) -> tuple[list[Any], requests.Response]:
    body = json_or_none(response)
    if not isinstance(body, list):
        raise MalformedResponse("body is not a JSON array")
    return body, response


def _error_detail(response: requests.Response) -> str:
    """Meraki's `{"errors": [...]}` text, else the start of the body, on one line and truncated."""
    body = json_or_none(response)
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        text = "; ".join(str(error) for error in body["errors"])
    else:
        text = response.text[: _DETAIL_LIMIT * 2]
    return one_line(text, _DETAIL_LIMIT)


def _url_identity(url: str, params: dict[str, Any] | None = None) -> tuple[Any, ...]:
    """A URL compared by meaning, so `%3A` vs `:` or a reordered query cannot hide a repeated page."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, str(value)) for key, value in (params or {}).items()]
    return (
        parts.scheme.lower(),
        (parts.hostname or "").lower(),
        parts.port,
        parts.path,
        tuple(sorted(query)),
    )
