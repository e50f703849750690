"""The simulated `GET /organizations/{organizationId}/appliance/security/events` of Meraki Dashboard API v1.

It answers as the real API does as far as it is documented (shared/reference/meraki-api-notes.md): the same
parameters, limits and 400s, `{"errors": [...]}` bodies, a `Link` header of absolute URLs on the caller's own
host, 401 for a bad key, 404 for an organization the key cannot see, 429 with `Retry-After` beyond 10
requests/s per organization (+10 burst). Then the simulator's own additions: injected faults
(`SimulatedFault`, checked after auth), the SIMULATOR_LATENCY and SIMULATOR_MERAKI_ERROR_RATE settings, and
counters of what it served on the organization's row.
"""

import json
import logging
import random
import re
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from sync.simulator import ratelimit
from sync.simulator.faults import take_fault
from sync.simulator.meraki.events import EPOCH, EventStream, Page, format_ts, paginate, to_us
from sync.simulator.models import SimulatedFault, SimulatedMerakiOrganization, digest

logger = logging.getLogger(__name__)

MAX_LOOKBACK = timedelta(days=365)
MAX_SPAN = timedelta(days=365)
DEFAULT_TIMESPAN = timedelta(days=31)
MAX_TIMESPAN_SECONDS = 31_536_000
PER_PAGE_RANGE = (3, 1000)
DEFAULT_PER_PAGE = 100
RATE_LIMIT_MESSAGE = "API rate limit exceeded for organization"
_EPOCH_SECONDS = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,6})?$")
_TOKENS = ("startingAfter", "endingBefore")

_sleep = time.sleep  # tests replace it to observe latency and slow faults without waiting


class BadRequest(Exception):
    """A parameter the real API would refuse with 400; the message goes into `errors`."""


def errors(status: int, *messages: str) -> JsonResponse:
    return JsonResponse({"errors": list(messages)}, status=status)


@require_GET
def security_events(request: HttpRequest, org_id: str) -> HttpResponse:
    key = _api_key(request)
    if not key:
        return errors(401, "Missing API key")
    key_digest = digest(key)
    if not SimulatedMerakiOrganization.objects.filter(api_key_sha256=key_digest).exists():
        return errors(401, "Invalid API key")
    organization = SimulatedMerakiOrganization.objects.filter(org_id=org_id, api_key_sha256=key_digest).first()
    if organization is None:
        return errors(404, "Not found")

    response, served = _serve(request, organization)
    SimulatedMerakiOrganization.objects.filter(pk=organization.pk).update(
        requests_served=F("requests_served") + 1, **{name: F(name) + value for name, value in served.items()}
    )
    logger.debug("meraki simulator org=%s status=%d served=%s", org_id, response.status_code, served)
    return response


def _serve(request: HttpRequest, organization: SimulatedMerakiOrganization) -> tuple[HttpResponse, dict[str, int]]:
    """The answer for an authenticated request, and the counters it adds to."""
    if settings.SIMULATOR_LATENCY > 0:
        _sleep(settings.SIMULATOR_LATENCY)
    if not ratelimit.meraki_buckets.take(organization.org_id):
        return _rate_limited(retry_after=1), {"rate_limited_served": 1}

    fault = take_fault(api=SimulatedFault.Api.MERAKI, org_id=organization.org_id)
    kind = fault.kind if fault else None
    if kind == SimulatedFault.Kind.SERVER_ERROR:
        return errors(500, "Internal server error"), {"errors_served": 1}
    if kind == SimulatedFault.Kind.RATE_LIMIT:
        return _rate_limited(retry_after=fault.retry_after), {"rate_limited_served": 1}
    if kind == SimulatedFault.Kind.REDIRECT:
        # Like a shard redirect (n123.meraki.com): same path and query, another host.
        host = fault.shard_host or request.get_host()
        response = HttpResponse(status=302)
        response["Location"] = f"{request.scheme}://{host}{request.get_full_path()}"
        return response, {}
    if kind == SimulatedFault.Kind.SLOW:
        _sleep(fault.delay_seconds)
    if random.random() < settings.SIMULATOR_MERAKI_ERROR_RATE:  # noqa: S311 -- simulated failures
        return errors(500, "Internal server error"), {"errors_served": 1}

    try:
        stream, page = _page(request, organization)
    except BadRequest as exc:
        return errors(400, str(exc)), {}
    events = [stream.event(ts) for ts in page.timestamps]
    if kind == SimulatedFault.Kind.MALFORMED:
        # A page cut off in transfer: valid JSON up to the cut, so not an array a client can read.
        body = json.dumps(events)
        return HttpResponse(body[: max(1, len(body) // 2)], content_type="application/json"), {"errors_served": 1}
    response = JsonResponse(events, safe=False)
    response["Link"] = _link_header(request, page)
    return response, {"pages_served": 1, "events_served": len(events)}


def _rate_limited(*, retry_after: int) -> JsonResponse:
    response = errors(429, RATE_LIMIT_MESSAGE)
    response["Retry-After"] = str(retry_after)
    return response


def _api_key(request: HttpRequest) -> str:
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return request.headers.get("X-Cisco-Meraki-API-Key", "").strip()


def _page(request: HttpRequest, organization: SimulatedMerakiOrganization) -> tuple[EventStream, Page]:
    """Validate the query as the real API does and select the page; raises BadRequest."""
    query = request.GET
    now = timezone.now()
    if "timespan" in query and ("t0" in query or "t1" in query):
        raise BadRequest("'timespan' cannot be combined with 't0' or 't1'")
    if "timespan" in query:
        t1 = now
        t0 = now - timedelta(seconds=_timespan(query["timespan"]))
    else:
        t1 = _time(query["t1"], name="t1") if "t1" in query else now
        t0 = _time(query["t0"], name="t0") if "t0" in query else t1 - DEFAULT_TIMESPAN
        if t0 < now - MAX_LOOKBACK:
            raise BadRequest("'t0' must be within 365 days of today")
        if t1 < t0:
            raise BadRequest("'t1' must be after 't0'")
        if t1 - t0 > MAX_SPAN:
            raise BadRequest("'t1' can be a maximum of 365 days after 't0'")
    per_page = _per_page(query.get("perPage"))
    sort_order = query.get("sortOrder", "ascending")
    if sort_order not in ("ascending", "descending"):
        raise BadRequest("'sortOrder' must be one of: 'ascending', 'descending'")
    if all(name in query for name in _TOKENS):
        raise BadRequest("'startingAfter' and 'endingBefore' cannot be combined")
    starting_after, ending_before = (
        to_us(_time(query[name], name=name)) if name in query else None for name in _TOKENS
    )
    stream = EventStream.for_organization(organization)
    page = paginate(
        stream,
        start_us=to_us(t0),
        end_us=to_us(min(t1, now)),  # never an event from the future
        per_page=per_page,
        descending=sort_order == "descending",
        starting_after=starting_after,
        ending_before=ending_before,
    )
    return stream, page


def _time(value: str, *, name: str) -> datetime:
    """ISO 8601 (`2026-12-04T10:00:00Z`, offsets and fractions allowed; no zone means UTC) or epoch seconds."""
    value = value.strip()
    try:
        if _EPOCH_SECONDS.match(value):
            seconds, _, fraction = value.partition(".")
            parsed = EPOCH + timedelta(seconds=int(seconds), microseconds=int(fraction.ljust(6, "0")))
        else:
            parsed = datetime.fromisoformat(value)
            parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        parsed = None
    # Far from now any arithmetic on the window could overflow; no real request asks for such times anyway.
    if parsed is None or not 1900 <= parsed.year <= 9000:
        raise BadRequest(f"'{name}' must be an ISO 8601 time or epoch seconds")
    return parsed


def _timespan(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise BadRequest("'timespan' must be a number of seconds") from None
    if not 0 < seconds <= MAX_TIMESPAN_SECONDS:
        raise BadRequest(f"'timespan' must be greater than 0 and at most {MAX_TIMESPAN_SECONDS} seconds (365 days)")
    return seconds


def _per_page(value: str | None) -> int:
    if value is None:
        return DEFAULT_PER_PAGE
    low, high = PER_PAGE_RANGE
    try:
        per_page = int(value)
    except ValueError:
        per_page = 0
    if not low <= per_page <= high:
        raise BadRequest(f"'perPage' must be an integer between {low} and {high}")
    return per_page


def _link_header(request: HttpRequest, page: Page) -> str:
    """`<url>; rel=first, <url>; rel=prev, <url>; rel=next, <url>; rel=last`: absolute URLs, unquoted rels."""
    links = [("first", "startingAfter", page.first_starting_after)]
    if page.prev_ending_before is not None:
        links.append(("prev", "endingBefore", page.prev_ending_before))
    if page.next_starting_after is not None:
        links.append(("next", "startingAfter", page.next_starting_after))
    links.append(("last", "endingBefore", page.last_ending_before))
    return ", ".join(f"<{_page_url(request, name, token)}>; rel={rel}" for rel, name, token in links)


def _page_url(request: HttpRequest, token_name: str, token: int) -> str:
    # The caller's own parameters, with only the page token replaced.
    query = request.GET.copy()
    for name in _TOKENS:
        query.pop(name, None)
    query[token_name] = format_ts(token)
    return request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
