"""Scale-out: two Celery worker processes on one Redis keep one sync per organization and one shared rate limit.

Real processes, a real broker and a real database: the workers run `celery worker` as a deployment would, and sync
from the built-in Meraki simulator served by pytest-django's live_server.
"""

import itertools
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from meraki_incidents.celery import app
from sync.models import SyncRun
from sync.simulator.models import SimulatedMerakiOrganization
from sync.simulator.setup import create_meraki_organization
from sync.tasks import sync_organization
from tests.factories import make_organization

ROOT = Path(__file__).resolve().parent.parent
RATE = 5  # requests/s per Meraki organization: the product's default budget
SYNCS_PER_ORGANIZATION = 3


def start_worker(queue: str, redis_url: str, name: str) -> subprocess.Popen:
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "REDIS_URL": redis_url,
        "EXTRA_ALLOWED_API_HOSTS": "localhost,127.0.0.1",
        "MERAKI_RATE_LIMIT_PER_SECOND": str(RATE),
        "MERAKI_RATE_LIMIT_BURST": "1",
    }
    return subprocess.Popen(  # noqa: S603 -- our own command line, no outside input
        [sys.executable, "-m", "celery", "-A", "meraki_incidents", "worker", "--pool=solo", f"--queues={queue}",
         f"--hostname={name}@%h", "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_two_workers_keep_one_sync_per_organization_and_the_shared_rate_limit(live_server, settings, redis_url):
    settings.SIMULATOR_ENABLED = True
    settings.ROOT_URLCONF = "tests.simulator.urlconf"
    settings.EXTRA_ALLOWED_API_HOSTS = ["localhost", "127.0.0.1"]
    api_key = "scale-out-test-key-0123456789"
    create_meraki_organization(org_id="777001", name="Scale", api_key=api_key, events_per_hour=8000, seed=7)
    port = live_server.url.rsplit(":", 1)[1]
    # One Meraki organization reached under two host names: two product organizations (two leases) that share
    # one Meraki rate limit, so both workers request from the same budget at the same time.
    organizations = [
        make_organization(
            meraki_org_id="777001",
            api_key=api_key,
            initial_lookback=timedelta(hours=1),
            meraki_base_url=f"http://{host}:{port}/simulator/meraki/api/v1",
        )
        for host in ("localhost", "127.0.0.1")
    ]
    queue = f"scale-out-{uuid.uuid4().hex}"
    workers = [start_worker(queue, redis_url, f"w{i}-{queue}") for i in (1, 2)]
    try:
        for _ in range(SYNCS_PER_ORGANIZATION):
            for organization in organizations:
                sync_organization.apply_async((organization.pk, "manual"), queue=queue)
        deadline = time.monotonic() + 120
        expected = SYNCS_PER_ORGANIZATION * len(organizations)
        while SyncRun.objects.exclude(status=SyncRun.Status.RUNNING).count() < expected:
            assert time.monotonic() < deadline, "the workers did not finish the syncs in time"
            assert all(worker.poll() is None for worker in workers), workers[0].stderr.read().decode()[-2000:]
            time.sleep(0.25)
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
        app.control.purge()

    runs = list(SyncRun.objects.order_by("started_at"))
    assert {run.status for run in runs} <= {SyncRun.Status.SUCCEEDED, SyncRun.Status.SKIPPED}
    for organization in organizations:
        succeeded = [run for run in runs if run.organization_id == organization.pk and run.status == "succeeded"]
        assert succeeded, "every organization synced at least once"
        for earlier, later in itertools.pairwise(succeeded):
            assert later.started_at >= earlier.finished_at, "two syncs of one organization overlapped"
    # Both organizations' first syncs ran at once (one per worker), drawing on one budget of RATE requests/s.
    simulated = SimulatedMerakiOrganization.objects.get(org_id="777001")
    requests = simulated.requests_served
    first = min(run.started_at for run in runs)
    last = max(run.finished_at for run in runs)
    assert requests >= 2 * 8  # at least eight pages for each organization's first sync
    assert (last - first).total_seconds() >= (requests - 1) / RATE * 0.9
    assert simulated.rate_limited_served == 0  # the simulator's own 10 requests/s limit was never reached
