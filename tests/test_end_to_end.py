"""End to end over real HTTP: the product's sync reads the simulated Meraki API and stores every event once.

No `responses` here: pytest-django's live server serves the simulator, and `sync_organization` runs with the
client it builds from settings, as a worker would.
"""

from collections import Counter

import pytest

from sync.models import SecurityEvent, SyncRun
from sync.services.ingest import sync_organization
from sync.simulator import ratelimit
from sync.simulator.meraki.events import generate_events
from sync.simulator.models import SimulatedFault, SimulatedMerakiOrganization, digest
from tests.factories import make_organization

# Two organizations with a few thousand events in the first sync's hour: several pages of perPage=1000.
SIMULATED = [
    {"org_id": "549236", "key": "e2e0123456789abcdef0123456789abcdef01234", "events_per_hour": 2500, "seed": 11},
    {"org_id": "731240", "key": "e2e9876543210fedcba9876543210fedcba98765", "events_per_hour": 1500, "seed": 12},
]
COUNTERS = ("requests_served", "pages_served", "events_served", "rate_limited_served", "errors_served")


@pytest.fixture
def simulator(settings, live_server):
    """The simulator mounted on the live server, reachable by the product's Meraki client."""
    settings.SIMULATOR_ENABLED = True
    settings.ROOT_URLCONF = "tests.simulator.urlconf"
    settings.EXTRA_ALLOWED_API_HOSTS = ["localhost"]
    settings.SIMULATOR_MERAKI_ERROR_RATE = 0.0
    settings.SIMULATOR_LATENCY = 0.0
    # The simulator allows 10 requests/s per organization; the product takes all of it, one at a time.
    settings.MERAKI_RATE_LIMIT_PER_SECOND = 10.0
    settings.MERAKI_RATE_LIMIT_BURST = 1
    # Honour Retry-After only briefly: the 429s here are injected, not a budget to wait for.
    settings.MERAKI_MAX_RETRY_AFTER = 0.1
    ratelimit.meraki_buckets.reset()
    yield live_server
    ratelimit.meraki_buckets.reset()


def served(simulated: SimulatedMerakiOrganization) -> Counter:
    simulated.refresh_from_db()
    return Counter({name: getattr(simulated, name) for name in COUNTERS})


def expected(simulated: SimulatedMerakiOrganization, t0, t1) -> list[dict]:
    return generate_events(
        org_id=simulated.org_id, seed=simulated.seed, events_per_hour=simulated.events_per_hour, t0=t0, t1=t1
    )


def stored(organization) -> list[dict]:
    return sorted(SecurityEvent.objects.filter(organization=organization).values_list("raw", flat=True), key=ts)


def ts(event: dict) -> str:
    return event["ts"]


def assert_run_matches_simulator(run: SyncRun, delta: Counter) -> None:
    assert run.pages == delta["pages_served"]
    assert run.fetched == delta["events_served"]
    assert run.rate_limited == delta["rate_limited_served"]


@pytest.mark.django_db(transaction=True)
def test_sync_over_http_stores_every_simulated_event_once_through_faults(simulator):
    base_url = f"{simulator.url}/simulator/meraki/api/v1"
    pairs = []
    for spec in SIMULATED:
        simulated = SimulatedMerakiOrganization.objects.create(
            org_id=spec["org_id"],
            name=f"Simulated {spec['org_id']}",
            api_key_sha256=digest(spec["key"]),
            events_per_hour=spec["events_per_hour"],
            seed=spec["seed"],
        )
        organization = make_organization(meraki_org_id=spec["org_id"], meraki_base_url=base_url, api_key=spec["key"])
        pairs.append((simulated, organization))
    # In the middle of the paging (after page 1, on the request for page 2): org 1 gets a 429 then a 500, org 2 a
    # 500 then a 429.
    for (simulated, _), kinds in zip(
        pairs, [("rate_limit", "server_error"), ("server_error", "rate_limit")], strict=True
    ):
        for skip, kind in zip((1, 0), kinds, strict=True):
            SimulatedFault.objects.create(api="meraki", kind=kind, org_id=simulated.org_id, skip=skip, retry_after=1)

    first_runs = []
    for simulated, organization in pairs:
        before = served(simulated)
        run = sync_organization(organization_id=organization.pk)
        delta = served(simulated) - before

        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        events = expected(simulated, run.t0, run.t1)
        assert len(events) > 1000  # several pages
        assert stored(organization) == events
        assert (run.created, run.duplicates, run.malformed) == (len(events), 0, 0)
        assert_run_matches_simulator(run, delta)
        assert delta["rate_limited_served"] >= 1 and delta["errors_served"] == 1
        first_runs.append(run)
    assert not SimulatedFault.objects.filter(remaining__gt=0).exists()

    for (simulated, organization), first in zip(pairs, first_runs, strict=True):
        before = served(simulated)
        second = sync_organization(organization_id=organization.pk)
        delta = served(simulated) - before

        assert second.status == SyncRun.Status.SUCCEEDED, second.error
        assert second.t0 == first.t1 - organization.overlap
        assert second.duplicates == len(expected(simulated, second.t0, first.t1))  # the overlap, read again
        assert second.created == len(expected(simulated, first.t1, second.t1))  # only what happened since
        assert stored(organization) == expected(simulated, first.t0, second.t1)
        assert_run_matches_simulator(second, delta)
