"""Server time of the analyst pages with N events in PostgreSQL: the issue's speed budget.

Budget: the events page (first page, a filtered page, a search by IP) and the dashboard answer in under 200 ms of
server time each with 1,000,000 events, and no slower than 2x the same page with 10,000 events.

    .venv/bin/python bench/ui.py                          # 10,000 then 1,000,000 events, compared
    .venv/bin/python bench/ui.py --events 10000
    .venv/bin/python bench/ui.py --events 1000000 --reuse # keep the events already generated (after new indexes)

It uses a scratch PostgreSQL database, created when missing: DATABASE_URL, by default
postgres://postgres@127.0.0.1:5432/meraki_bench_ui. It empties that database's organizations and events, so it
refuses a database whose name lacks "bench". Events are generated in PostgreSQL (INSERT ... SELECT FROM
generate_series): several organizations, 30 days, a realistic mix of types, priorities, addresses and statuses,
plus the hourly counts, incidents, attempts and sync runs that go with them. Each page is requested with Django's
test client as a logged-in superuser (DEBUG off), timed with perf_counter around the request: two warm-ups, then
the median of --runs; the SQL queries (count, total and slowest time) come from three more requests. A page over
budget, or more than 2x slower than with the first size, gets the EXPLAIN (ANALYZE, BUFFERS) of its slowest query.
The pages outside the issue's budget (other searches, detail, incidents, sync runs) are shown for information.
"""

import argparse
import html
import logging
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/meraki_bench_ui"
BUDGET_MS = 200.0
MAX_RATIO = 2.0


def _prepare_database(url: str) -> None:
    """Refuse anything but a scratch PostgreSQL database, and create it when missing."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "bench" not in name:
        sys.exit(f"bench/ui.py empties its database: DATABASE_URL must be PostgreSQL named *bench*, not {url!r}")
    import psycopg

    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


os.environ["DATABASE_URL"] = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "meraki_incidents.settings")
if __name__ == "__main__":
    _prepare_database(os.environ["DATABASE_URL"])

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from sync.models import Organization, PromotionStatus, SecurityEvent, SyncStatus  # noqa: E402

ORGANIZATIONS = ["Bench HQ", "Bench Retail", "Bench Warehouse", "Bench Lab", "Bench Branch"]  # 40/25/15/12/8 %
# Internal clients 10.20.x.y, some busier than others: the busiest, searched for, is in 0.6% of the events (a full
# page with 10,000 events, as with 1,000,000, so the two sizes compare the same work).
CLIENTS = 2000
SEARCHED_IP = "10.20.0.1"
MESSAGES = [
    "SERVER-WEBAPP JBoss JMX console access attempt",
    "POLICY-OTHER Adobe ColdFusion admin interface access attempt",
    "MALWARE-CNC Win.Trojan.Agent outbound connection",
    "SERVER-OTHER OpenSSL Heartbleed masscan access exploitation attempt",
    "BROWSER-IE Microsoft Internet Explorer use after free attempt",
    "OS-WINDOWS Microsoft Windows SMB remote code execution attempt",
    "SERVER-APACHE Apache Struts remote code execution attempt",
    "PROTOCOL-DNS TMG Firewall Client long host entry exploit attempt",
    "INDICATOR-SCAN UPnP service discover attempt",
    "FILE-OFFICE Microsoft Office Word malformed document attempt",
    "SQL generic sql with comments injection attempt",
    "POLICY-SOCIAL Tor proxy connection attempt",
]

# One row per event, computed once (random() differs between statements): events, incidents and attempts read it.
GENERATE = """
CREATE TEMP TABLE bench_events ON COMMIT DROP AS
WITH g AS (
    SELECT i, random() AS r_kind, random() AS r_org, random() AS r_pri, random() AS r_status,
           random() AS r_notify, random() AS r_client, random() AS r_remote, random() AS r_sig, random() AS r_dir,
           random() AS r_jitter
    FROM generate_series(1, %(n)s) AS i
), e AS (
    SELECT g.*,
           %(now)s::timestamptz - interval '30 days' * (1 - i::float8 / %(n)s) - interval '1 second' * r_jitter AS ts,
           r_kind >= 0.85 AS file_scanned,
           CASE WHEN r_org < 0.40 THEN 1 WHEN r_org < 0.65 THEN 2 WHEN r_org < 0.80 THEN 3
                WHEN r_org < 0.92 THEN 4 ELSE 5 END AS org_n,
           CASE WHEN r_pri < 0.10 THEN 1 WHEN r_pri < 0.35 THEN 2 WHEN r_pri < 0.75 THEN 3 ELSE 4 END AS pri,
           floor(power(r_client, 1.5) * %(clients)s)::int AS client_n,
           floor(r_remote * 5000)::int AS remote_n,
           floor(power(r_sig, 3) * 300)::int AS sig_n,
           floor(power(r_sig, 2) * 20000)::int AS hash_n
    FROM g
), f AS (
    SELECT e.*,
           format('10.20.%%s.%%s', client_n / 250, client_n %% 250 + 1) AS client_ip,
           format('02:00:5e:%%s:%%s:%%s', lpad(to_hex(client_n / 65536 %% 256), 2, '0'),
                  lpad(to_hex(client_n / 256 %% 256), 2, '0'), lpad(to_hex(client_n %% 256), 2, '0')) AS client_mac,
           format('198.51.%%s.%%s', remote_n / 250, remote_n %% 250 + 1) AS remote_ip,
           CASE WHEN NOT file_scanned THEN ''
                WHEN r_pri < 0.05 THEN 'Malicious' WHEN r_pri < 0.20 THEN 'Unknown' ELSE 'Clean' END AS disposition
    FROM e
), h AS (
    SELECT f.*,
           (%(orgs)s::bigint[])[org_n] AS organization_id,
           CASE WHEN file_scanned THEN 'File Scanned' ELSE 'IDS Alert' END AS event_type,
           (%(messages)s::text[])[sig_n %% 12 + 1] AS message,
           CASE WHEN file_scanned THEN encode(sha256(hash_n::text::bytea), 'hex') ELSE '' END AS file_hash,
           (disposition = 'Malicious' OR (NOT file_scanned AND pri = 1)) AS eligible
    FROM f
)
-- Promotion fails now and then, and for every event during two days of Threat Response outage (about 7 per cent
-- of the eligible events: a full page of failed ones with 10,000 events too).
SELECT h.*, eligible AND (r_status < 0.005 OR ts BETWEEN %(now)s::timestamptz - interval '14 days'
                                                      AND %(now)s::timestamptz - interval '12 days') AS failed
FROM h
"""

INSERT_EVENTS = """
INSERT INTO sync_securityevent (
    id, organization_id, ts, event_type, fingerprint, raw, priority, classification, src_ip, src_port, dest_ip,
    dest_port, protocol, client_mac, client_name, client_ip, device_mac, uri, canonical_name, file_hash, file_type,
    disposition, action, blocked, message, signature, rule_id, parse_error, promotion_status, promotion_error,
    promotion_attempts, promotion_attempted_at, ctia_sighting_id, ctia_relationship_id, incident_id,
    notification_status, notification_error, notification_attempts, notification_attempted_at, webex_message_id,
    first_seen_run_id, created_at)
SELECT
    i, organization_id, ts, event_type, encode(sha256(('bench-' || i)::bytea), 'hex'),
    CASE WHEN file_scanned THEN jsonb_build_object(
        'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'eventType', event_type,
        'clientName', 'LAPTOP-' || client_n, 'clientMac', client_mac, 'clientIp', client_ip, 'srcIp', client_ip,
        'destIp', remote_ip, 'protocol', 'http', 'uri', 'http://downloads.example.com/' || hash_n || '/setup.exe',
        'canonicalName', CASE WHEN disposition = 'Malicious' THEN 'W32.Generic:Gen.' || hash_n ELSE '' END,
        'destinationPort', 80, 'fileHash', file_hash, 'fileType', 'MS_EXE', 'fileSizeBytes', 100000 + hash_n,
        'disposition', disposition, 'action', CASE WHEN disposition = 'Malicious' THEN 'Blocked' ELSE 'Allowed' END)
    ELSE jsonb_build_object(
        'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'eventType', event_type,
        'deviceMac', '00:18:0a:01:02:0' || org_n, 'clientMac', client_mac,
        'srcIp', CASE WHEN r_dir < 0.5 THEN remote_ip || ':443' ELSE client_ip || ':' || (40000 + i %% 20000) END,
        'destIp', CASE WHEN r_dir < 0.5 THEN client_ip || ':' || (40000 + i %% 20000) ELSE remote_ip || ':443' END,
        'protocol', 'tcp/ip', 'priority', pri::text, 'classification', (sig_n %% 40)::text, 'blocked', r_dir < 0.7,
        'message', message, 'signature', format('1:%%s:%%s', 20000 + sig_n, 1 + sig_n %% 9), 'sigSource', '',
        'ruleId', format('meraki:intrusion/snort/GID/1/SID/%%s', 20000 + sig_n))
    END,
    CASE WHEN file_scanned THEN NULL ELSE pri END,
    CASE WHEN file_scanned THEN '' ELSE (sig_n %% 40)::text END,
    CASE WHEN file_scanned OR r_dir >= 0.5 THEN client_ip ELSE remote_ip END,
    CASE WHEN file_scanned THEN NULL WHEN r_dir < 0.5 THEN 443 ELSE 40000 + i %% 20000 END,
    CASE WHEN file_scanned OR r_dir >= 0.5 THEN remote_ip ELSE client_ip END,
    CASE WHEN file_scanned THEN 80 WHEN r_dir < 0.5 THEN 40000 + i %% 20000 ELSE 443 END,
    CASE WHEN file_scanned THEN 'http' ELSE 'tcp/ip' END,
    client_mac,
    CASE WHEN file_scanned THEN 'LAPTOP-' || client_n ELSE '' END,
    CASE WHEN file_scanned THEN client_ip ELSE '' END,
    CASE WHEN file_scanned THEN '' ELSE '00:18:0a:01:02:0' || org_n END,
    CASE WHEN file_scanned THEN 'http://downloads.example.com/' || hash_n || '/setup.exe' ELSE '' END,
    CASE WHEN disposition = 'Malicious' THEN 'W32.Generic:Gen.' || hash_n ELSE '' END,
    file_hash,
    CASE WHEN file_scanned THEN 'MS_EXE' ELSE '' END,
    disposition,
    CASE WHEN disposition = 'Malicious' THEN 'Blocked' WHEN file_scanned THEN 'Allowed' ELSE '' END,
    CASE WHEN file_scanned THEN NULL ELSE r_dir < 0.7 END,
    CASE WHEN file_scanned THEN '' ELSE message END,
    CASE WHEN file_scanned THEN '' ELSE format('1:%%s:%%s', 20000 + sig_n, 1 + sig_n %% 9) END,
    CASE WHEN file_scanned THEN '' ELSE format('meraki:intrusion/snort/GID/1/SID/%%s', 20000 + sig_n) END,
    '',
    CASE WHEN NOT eligible THEN 'not_eligible' WHEN failed THEN 'failed'
         WHEN r_status < 0.03 AND ts > %(now)s::timestamptz - interval '1 hour' THEN 'pending' ELSE 'promoted' END,
    CASE WHEN eligible AND failed
         THEN 'Threat Response answered 400: {"errors": ["sighting: observables: invalid value"]}' ELSE '' END,
    CASE WHEN NOT eligible THEN 0 WHEN failed THEN 3 ELSE 1 END,
    CASE WHEN eligible THEN ts + interval '2 minutes' END,
    CASE WHEN eligible AND NOT failed
         THEN 'https://private.intel.amp.cisco.com/ctia/sighting/sighting-bench-' || i ELSE '' END,
    CASE WHEN eligible AND NOT failed
         THEN 'https://private.intel.amp.cisco.com/ctia/relationship/relationship-bench-' || i ELSE '' END,
    CASE WHEN eligible AND NOT failed THEN i END,
    CASE WHEN NOT eligible THEN 'not_eligible' WHEN r_notify < 0.01 THEN 'failed' ELSE 'sent' END,
    CASE WHEN eligible AND r_notify < 0.01 THEN 'Webex answered 404: room not found' ELSE '' END,
    CASE WHEN NOT eligible THEN 0 WHEN r_notify < 0.01 THEN 3 ELSE 1 END,
    CASE WHEN eligible THEN ts + interval '2 minutes' END,
    CASE WHEN eligible AND r_notify >= 0.01 THEN 'webex-message-bench-' || i ELSE '' END,
    NULL,
    ts + interval '1 minute'
FROM bench_events
"""

INSERT_INCIDENTS = """
INSERT INTO sync_incident (id, organization_id, ctia_id, external_id, title, severity, status, console_url, created_at)
SELECT i, organization_id, 'https://private.intel.amp.cisco.com/ctia/incident/incident-bench-' || i,
       'bench-incident-' || i, left(event_type || ': ' || CASE WHEN file_scanned THEN file_hash ELSE message END, 1024),
       CASE WHEN file_scanned THEN 'High' ELSE 'Critical' END, 'New',
       'https://visibility.amp.cisco.com/incidents/incident-bench-' || i, ts + interval '2 minutes'
FROM bench_events WHERE eligible AND NOT failed
"""

INSERT_ATTEMPTS = """
INSERT INTO sync_promotionattempt (event_id, kind, trigger, outcome, error, started_by_id, created_at)
SELECT i, 'promotion', CASE WHEN attempt = 1 THEN 'sync' ELSE 'schedule' END,
       CASE WHEN NOT failed THEN 'succeeded' WHEN attempt < 3 THEN 'retry' ELSE 'failed' END,
       CASE WHEN NOT failed THEN '' ELSE 'Threat Response answered 400: invalid observable' END,
       NULL, ts + interval '2 minutes' * attempt
FROM bench_events CROSS JOIN generate_series(1, 3) AS attempt
WHERE eligible AND (attempt = 1 OR failed)
"""

INSERT_HOURLY_COUNTS = """
INSERT INTO sync_eventhourlycount (organization_id, hour, event_type, count)
SELECT organization_id, date_trunc('hour', ts), event_type, count(*)
FROM sync_securityevent GROUP BY 1, 2, 3
"""

INSERT_SYNC_RUNS = """
INSERT INTO sync_syncrun (organization_id, trigger, started_at, finished_at, status, t0, t1, pages, fetched, created,
                          duplicates, malformed, rate_limited, error)
SELECT organization_id, 'schedule', started, started + interval '3 seconds',
       CASE WHEN random() < 0.01 THEN 'failed' ELSE 'succeeded' END,
       started - interval '15 minutes', started, 1 + (random() * 3)::int, per_run + 20, per_run, 20, 0,
       CASE WHEN random() < 0.02 THEN 1 ELSE 0 END, ''
FROM (SELECT unnest(%(orgs)s::bigint[]) AS organization_id) AS o
CROSS JOIN generate_series(%(now)s::timestamptz - interval '30 days', %(now)s::timestamptz, interval '5 minutes')
    AS started
CROSS JOIN (SELECT (%(n)s / (8640 * 5))::int AS per_run) AS c
"""


def generate(n: int) -> None:
    """Replace the scratch database's organizations and everything under them by n generated events."""
    started = time.perf_counter()
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE sync_promotionattempt, sync_securityevent, sync_incident, sync_eventhourlycount, sync_syncrun,"
            " sync_organization RESTART IDENTITY CASCADE"
        )
    organizations = [
        Organization.objects.create(
            name=name,
            meraki_org_id=f"bench-{number}",
            api_key="bench-api-key",
            last_sync_status=SyncStatus.SUCCEEDED,
            last_sync_at=now,
            sync_cursor=now,
        )
        for number, name in enumerate(ORGANIZATIONS, 1)
    ]
    params = {"n": n, "now": now, "clients": CLIENTS, "orgs": [o.pk for o in organizations], "messages": MESSAGES}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred foreign key checks would block CREATE INDEX
        cursor.execute("SELECT setseed(0.42)")
        cursor.execute(GENERATE, params)
        # Loading into an indexed table is slow; the table's own indexes are dropped and rebuilt afterwards, in
        # this transaction (a failure restores them). The primary key and unique constraints stay.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'sync_securityevent' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'sync_securityevent'::regclass)"
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(INSERT_INCIDENTS)
        cursor.execute(INSERT_EVENTS, params)
        for _name, definition in indexes:
            cursor.execute(definition)
        cursor.execute(INSERT_ATTEMPTS)
        cursor.execute(INSERT_HOURLY_COUNTS)
        cursor.execute(INSERT_SYNC_RUNS, params)
        for table in ("sync_securityevent", "sync_incident", "sync_promotionattempt", "sync_syncrun"):
            # the table names are the constants above
            sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            cursor.execute(sql)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum leaves a table at rest: statistics and visibility map
    print(f"generated {n:,} events in {time.perf_counter() - started:.1f} s")


@dataclass
class Page:
    label: str
    url: str
    budget: bool  # one of the pages the budget names; the others are shown for information
    status: int = 0
    error: str = ""
    times_ms: list[float] = field(default_factory=list)
    queries: int = 0
    slowest_sql: str = ""
    slowest_ms: float = 0.0
    sql_ms: float = 0.0
    rows: int = 0  # table rows on the page: the rendering work

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms) if self.times_ms else float("nan")


def pages(client: Client) -> list[Page]:
    first_org = Organization.objects.order_by("pk").first()
    day = timezone.now() - timedelta(days=10)
    hashed = SecurityEvent.objects.exclude(file_hash="").order_by("-ts", "-id").first()
    failed = SecurityEvent.objects.filter(promotion_status=PromotionStatus.FAILED).order_by("-ts", "-id").first()
    listed = [
        Page("dashboard", "/", True),
        Page("events: first page", "/events/", True),
        Page(
            "events: organization+type+priority",
            f"/events/?organization={first_org.pk}&event_type=IDS+Alert&priority=1",
            True,
        ),
        Page("events: promotion failed", "/events/?promotion=failed", True),
        Page(f"events: search IP {SEARCHED_IP}", f"/events/?q={SEARCHED_IP}", True),
        Page(
            "events: one day, 10 days ago",
            f"/events/?since={day:%Y-%m-%dT00:00}&until={day:%Y-%m-%dT23:59}",
            False,
        ),
        Page("events: search MAC (busiest client)", "/events/?q=02:00:5e:00:00:00", False),
        Page("events: search text", "/events/?q=ColdFusion", False),
        Page("events: search text matching nothing", "/events/?q=no-such-words", False),
    ]
    if hashed:
        listed.append(Page("events: search hash", f"/events/?q={hashed.file_hash}", False))
    response = client.get("/events/")
    next_link = (
        re.search(r'href="([^"]*cursor=[^"]*)"', response.content.decode()) if response.status_code == 200 else None
    )
    if next_link:
        url = html.unescape(next_link.group(1))
        listed.append(Page("events: second page", url if url.startswith("/") else f"/events/{url}", False))
    if failed:
        listed.append(Page("event detail (failed)", f"/events/{failed.pk}/", False))
    listed += [Page("incidents", "/incidents/", False), Page("sync runs", "/sync-runs/", False)]
    return listed


def measure(client: Client, page: Page, runs: int) -> None:
    for _ in range(2):  # warm-up: connection, templates, PostgreSQL's cache
        response = client.get(page.url)
        page.status = response.status_code
    text = response.content.decode()
    page.rows = sum(body.count("<tr") for body in re.findall(r"<tbody>(.*?)</tbody>", text, re.DOTALL))
    if page.status != 200:
        if exc_info := getattr(response, "exc_info", None):
            page.error = f"{exc_info[0].__name__}: {exc_info[1]}"
        return
    for _ in range(runs):
        started = time.perf_counter()
        client.get(page.url)
        page.times_ms.append((time.perf_counter() - started) * 1000)
    captures = []
    for _ in range(3):  # the queries and their times, from the quickest of three runs (one run can be unlucky)
        with CaptureQueriesContext(connection) as captured:
            client.get(page.url)
        captures.append([(query["sql"], float(query["time"]) * 1000) for query in captured.captured_queries])
    page.queries = len(captures[-1])
    if len({len(capture) for capture in captures}) == 1:
        same_query_each_run = zip(*captures, strict=True)
        queries = [(same[-1][0], min(ms for _, ms in same)) for same in same_query_each_run]
    else:
        queries = captures[-1]
    page.sql_ms = sum(ms for _, ms in queries)
    if queries:
        page.slowest_sql, page.slowest_ms = max(queries, key=lambda query: query[1])


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def run(n: int, *, runs: int, reuse: bool) -> list[Page]:
    if not (reuse and SecurityEvent.objects.count() == n):
        generate(n)
    else:
        print(f"reusing the {n:,} events already generated")
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(raise_request_exception=False)  # a page that fails is reported, the others still measured
    client.force_login(user)
    measured = pages(client)
    for page in measured:
        measure(client, page, runs)
    return measured


def report(n: int, measured: list[Page]) -> None:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"\n{n:,} events: server time per page (median of the runs), budget {BUDGET_MS:.0f} ms")
    print(f"  ({os.cpu_count()} CPUs, load average {load}: other work on the machine slows every page)")
    columns = f"{'median':>9s} {'min':>9s} {'max':>9s} {'rows':>5s} {'queries':>7s} {'SQL':>9s} {'slowest':>9s}"
    print(f"  {'page':44s} {columns}  verdict")
    for page in measured:
        if page.status != 200:
            print(f"  {page.label:44s} HTTP {page.status}: not measured {page.error}")
            continue
        verdict = "ok" if page.median_ms < BUDGET_MS else ("OVER BUDGET" if page.budget else "over 200 ms (info)")
        print(
            f"  {page.label:44s} {page.median_ms:7.1f}ms {min(page.times_ms):7.1f}ms {max(page.times_ms):7.1f}ms "
            f"{page.rows:5d} {page.queries:7d} "
            f"{page.sql_ms:7.1f}ms {page.slowest_ms:7.1f}ms  {verdict}{'' if page.budget else ' [not in the budget]'}"
        )


def compare(baseline_n: int, baseline: list[Page], n: int, measured: list[Page]) -> list[Page]:
    """Prints each page's slow-down from the baseline; returns the pages slower than allowed."""
    print(f"\n{n:,} against {baseline_n:,} events: at most {MAX_RATIO:.0f}x")
    before = {page.label: page for page in baseline}
    slower = []
    for page in measured:
        old = before.get(page.label)
        if page.status != 200 or old is None or old.status != 200:
            continue
        ratio = page.median_ms / old.median_ms
        if ratio > MAX_RATIO:
            slower.append(page)
        verdict = "ok" if ratio <= MAX_RATIO else ("SLOWER THAN 2x" if page.budget else "slower than 2x (info)")
        print(f"  {page.label:44s} {old.median_ms:7.1f}ms -> {page.median_ms:7.1f}ms  x{ratio:4.2f}  {verdict}")
    return slower


def print_explain(page: Page) -> None:
    print(f"\n  {page.label}: slowest query ({page.slowest_ms:.1f} ms):\n    {page.slowest_sql}")
    print("    " + explain(page.slowest_sql).replace("\n", "\n    "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000, 1_000_000], help="sizes, in order")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page (the median is reported)")
    parser.add_argument("--reuse", action="store_true", help="keep the events when the database holds that many")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN every page's slowest query")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    settings.DEBUG = False  # as in production: no query log, no template debug information
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # a failing page is reported in the table
    print(f"database {connection.settings_dict['NAME']} on {connection.settings_dict['HOST']}")
    passed = True
    results: list[tuple[int, list[Page]]] = []
    for n in args.events:
        measured = run(n, runs=args.runs, reuse=args.reuse)
        report(n, measured)
        passed &= all(page.status == 200 for page in measured if page.budget)
        slow = [page for page in measured if page.status == 200 and page.median_ms >= BUDGET_MS]
        if results:
            slow += [page for page in compare(*results[0], n, measured) if page not in slow]
        passed &= not any(page.budget for page in slow)
        for page in measured if args.explain else slow:
            if page.slowest_sql:
                print_explain(page)
        results.append((n, measured))
    print(
        f"\n{'PASS' if passed else 'FAIL'}: budget {BUDGET_MS:.0f} ms per page, at most {MAX_RATIO:.0f}x the first size"
    )
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
