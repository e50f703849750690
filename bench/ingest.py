"""Ingest throughput and memory: sync N synthetic events through the real ingest service.

The HTTP client is replaced by a generator of pages (this measures normalizing, deduplicating and storing,
not the network); the second pass re-reads the same window to measure the duplicate path.

    .venv/bin/python bench/ingest.py [--events 100000] [--page-size 1000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/meraki_bench .venv/bin/python bench/ingest.py

Without DATABASE_URL it uses a throw-away SQLite file (never the project's database).
"""

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if not os.environ.get("DATABASE_URL"):
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="meraki-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meraki_incidents.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from sync.models import Organization, SecurityEvent  # noqa: E402
from sync.services.ingest import sync_organization  # noqa: E402

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


class GeneratedPages:
    """Stands in for MerakiClient: yields pages of IDS-like events without building them all at once."""

    rate_limited = 0

    def __init__(self, total: int, page_size: int):
        self.total, self.page_size = total, page_size

    def iter_security_event_pages(self, *, org_id, t0, t1):
        for start in range(0, self.total, self.page_size):
            yield [_event(i) for i in range(start, min(start + self.page_size, self.total))]


def _event(i: int) -> dict:
    ts = NOW - timedelta(minutes=50) + timedelta(milliseconds=i)
    return {
        "ts": ts.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "eventType": "IDS Alert",
        "deviceMac": "00:18:0a:01:02:03",
        "clientMac": "A1:B2:C3:D4:E5:F6",
        "srcIp": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:{1024 + i % 60000}",
        "destIp": "198.51.100.20:443",
        "protocol": "tcp/ip",
        "priority": str(1 + i % 4),
        "classification": "4",
        "blocked": True,
        "message": "SERVER-WEBAPP JBoss JMX console access attempt",
        "signature": f"1:{20000 + i % 500}:9",
        "sigSource": "",
        "ruleId": "meraki:intrusion/snort/GID/1/SID/21516",
    }


def measure(organization: Organization, total: int, page_size: int, trace_memory: bool) -> tuple[float, float, object]:
    if trace_memory:  # tracemalloc slows Python down several times: time and memory are measured in separate runs
        tracemalloc.start()
    started = time.perf_counter()
    run = sync_organization(
        organization_id=organization.pk,
        now=NOW,
        since=timedelta(hours=1),
        client_factory=lambda organization: GeneratedPages(total, page_size),
    )
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace_memory else 0.0
    tracemalloc.stop()
    return elapsed, peak, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--trace-memory", action="store_true", help="report peak Python memory (slower)")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from django.db import connection

    organization = Organization.objects.create(name="bench", meraki_org_id=f"bench-{time.time_ns()}", api_key="x")
    try:
        print(f"database: {connection.vendor}; {args.events} events in pages of {args.page_size}")
        for label in ("new events", "re-read (all duplicates)"):
            elapsed, peak, run = measure(organization, args.events, args.page_size, args.trace_memory)
            memory = f"  peak Python memory {peak:6.1f} MiB" if args.trace_memory else ""
            print(
                f"{label:26s} {run.status}: created={run.created} duplicates={run.duplicates} "
                f"{elapsed:7.2f} s  {args.events / elapsed:8.0f} events/s{memory}"
            )
        assert SecurityEvent.objects.filter(organization=organization).count() == args.events
    finally:
        organization.delete()


if __name__ == "__main__":
    main()
