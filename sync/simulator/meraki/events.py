"""The simulated Meraki organizations' security events: a deterministic stream, and its pages.

Every organization has a timeline of `events_per_hour` events in each clock hour. The timestamps of one hour
come from a `random.Random` seeded by (seed, org id, hour), and each event's body from one seeded by
(seed, org id, its timestamp), so any window - an hourly sync, a backfill, a demo's check - sees exactly the
same events, and a page can be built without generating the rest of the window. Timestamps are whole
microseconds, unique within an organization (sampled without replacement inside each hour).

Shapes follow the official example of `getOrganizationApplianceSecurityEvents` exactly (same keys, same value
types, same key order); addresses are from the documentation ranges (RFC 5737 and RFC 3849) and domains from
RFC 2606, so nothing generated points at a real host.
"""

import hashlib
import random
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any, NamedTuple

from django.utils import timezone

HOUR_US = 3_600_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)

FILE_SCANNED_SHARE = 0.2
MALICIOUS_SHARE = 0.6
IPV6_SHARE = 0.1
PRIORITY_WEIGHTS = {"1": 10, "2": 35, "3": 40, "4": 15}


class SnortRule(NamedTuple):
    sid: int
    rev: int
    message: str
    classification: str  # Snort classtype number, as the example gives it (a string)
    priority: str
    protocol: str
    port: int
    inbound: bool  # from the internet to a host behind the MX; else a host calling out


TCP, UDP = "tcp/ip", "udp/ip"
IN, OUT = True, False

# Real Snort rule names; SIDs and revisions are plausible, not a promise about Talos' current rule set.
SNORT_RULES = (
    SnortRule(25975, 2, "POLICY-OTHER Adobe ColdFusion admin interface access attempt", "33", "1", TCP, 80, IN),
    SnortRule(58722, 3, "SERVER-OTHER Apache Log4j logging remote code execution attempt", "28", "1", TCP, 80, IN),
    SnortRule(41978, 5, "OS-WINDOWS Microsoft Windows SMB remote code execution attempt", "12", "1", TCP, 445, IN),
    SnortRule(31978, 5, "OS-OTHER Bash CGI environment variable injection attempt", "12", "1", TCP, 80, IN),
    SnortRule(47616, 2, "MALWARE-CNC Win.Trojan.Emotet outbound connection attempt", "21", "1", TCP, 8080, OUT),
    SnortRule(21516, 9, "SERVER-WEBAPP JBoss JMX console access attempt", "4", "2", TCP, 80, IN),
    SnortRule(19559, 5, "INDICATOR-SCAN SSH brute force login attempt", "30", "2", TCP, 22, IN),
    SnortRule(30524, 8, "SERVER-OTHER OpenSSL TLSv1.1 heartbeat read overrun attempt", "4", "2", TCP, 443, IN),
    SnortRule(1411, 19, "PROTOCOL-SNMP public access udp", "4", "2", UDP, 161, IN),
    SnortRule(13990, 28, "SQL union select - possible sql injection attempt - GET parameter", "30", "2", TCP, 80, IN),
    SnortRule(1917, 16, "INDICATOR-SCAN UPnP service discover attempt", "23", "3", UDP, 1900, IN),
    SnortRule(2465, 12, "OS-WINDOWS SMB-DS IPC$ share access", "26", "3", TCP, 445, IN),
    SnortRule(28190, 4, "INDICATOR-COMPROMISE Suspicious .tk dns query", "29", "3", UDP, 53, OUT),
    SnortRule(30041, 3, "POLICY-OTHER HTTP request by IPv4 address attempt", "29", "3", TCP, 80, OUT),
    SnortRule(15306, 20, "FILE-IDENTIFY Portable Executable binary file magic detected", "20", "4", TCP, 80, OUT),
    SnortRule(
        34463, 3, "APP-DETECT TeamViewer remote administration tool outbound connection", "20", "4", TCP, 5938, OUT
    ),
)

# (canonical name, file type, file name) of malware an AMP-enabled MX blocks.
MALWARE = (
    ("PUA.Win.Dropper.Kraddare::1201", "MS_EXE", "FavoriteIconsUninstall.exe"),
    ("Win.Trojan.Emotet::in03.talos", "MS_EXE", "invoice_2291.exe"),
    ("Win.Dropper.TrickBot::1201", "MS_EXE", "update_service.exe"),
    ("Win.Ransomware.Locky::1201", "MS_EXE", "scan_0417.exe"),
    ("Doc.Downloader.Valyria::tpd", "MSOLE2", "Payment_Advice.doc"),
    ("Pdf.Phishing.Generic::in03.talos", "PDF", "shared_document.pdf"),
    ("W32.GenericKD:Malwaregen.22mn.1201", "ZIP", "delivery_note.zip"),
    ("Win.Malware.Zusy::1201", "MS_EXE", "flashplayer_install.exe"),
)
CLEAN_FILES = (
    ("MS_EXE", "ChromeSetup.exe"),
    ("MS_EXE", "vlc-3.0.20-win64.exe"),
    ("PDF", "quarterly-report.pdf"),
    ("ZIP", "drivers.zip"),
    ("MSOLE2", "price-list.xls"),
)
DOWNLOAD_HOSTS = (
    "downloads.example.com",
    "cdn.example.net",
    "files.example.org",
    "update.example.com",
    "www.example.net",
)
_NAME_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


class Client(NamedTuple):
    name: str
    mac: str  # lower case
    ipv4: str
    ipv6: str


@dataclass(frozen=True)
class _Profile:
    """What stays the same across an organization's events: its appliances, hosts and usual attackers."""

    device_macs: tuple[str, ...]
    clients: tuple[Client, ...]
    attackers_v4: tuple[str, ...]
    attackers_v6: tuple[str, ...]


def to_us(value: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (value - EPOCH) // _ONE_US


def from_us(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


def format_ts(value: int) -> str:
    """The API's timestamp form: `2020-03-20T16:00:10.144989Z`."""
    return from_us(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class EventStream:
    """The events of one simulated organization: (org id, seed, events per hour) decide every one of them."""

    org_id: str
    seed: int
    events_per_hour: int

    @classmethod
    def for_organization(cls, organization: Any) -> "EventStream":
        return cls(org_id=organization.org_id, seed=organization.seed, events_per_hour=organization.events_per_hour)

    def timestamps(self, start_us: int, end_us: int, *, descending: bool = False) -> Iterator[int]:
        """Event timestamps (microseconds) in [start_us, end_us), oldest first or newest first; lazy."""
        if end_us <= start_us or self.events_per_hour <= 0:
            return
        first, last = start_us // HOUR_US, (end_us - 1) // HOUR_US
        for hour in range(last, first - 1, -1) if descending else range(first, last + 1):
            stamps = _hour_timestamps(self.org_id, self.seed, self.events_per_hour, hour)
            chunk = stamps[bisect_left(stamps, start_us) : bisect_left(stamps, end_us)]
            yield from reversed(chunk) if descending else chunk

    def event(self, ts_us: int) -> dict[str, Any]:
        """The event at `ts_us` (one of `timestamps()`), always the same dict for the same stream."""
        rng = random.Random(f"meraki-sim:{self.seed}:{self.org_id}:event:{ts_us}")  # noqa: S311 -- test data
        profile = _profile(self.org_id, self.seed)
        if rng.random() < FILE_SCANNED_SHARE:
            return _file_scanned(rng, profile, ts_us)
        return _ids_alert(rng, profile, ts_us)

    def events(self, t0: datetime, t1: datetime) -> list[dict[str, Any]]:
        """Every event with t0 <= ts < t1, oldest first."""
        return [self.event(ts) for ts in self.timestamps(to_us(t0), to_us(t1))]


def generate_events(
    *, org_id: str, seed: int, events_per_hour: int, t0: datetime, t1: datetime, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The events the simulator serves for the window [t0, t1) asked at `now` (default: now), oldest first.

    What a complete sync of that window must store: tests and the demo compare the database with it.
    """
    end = min(t1, now or timezone.now())
    return EventStream(org_id=org_id, seed=seed, events_per_hour=events_per_hour).events(t0, end)


@lru_cache(maxsize=256)  # a few hundred hours: the windows a sync walks, bounded memory
def _hour_timestamps(org_id: str, seed: int, events_per_hour: int, hour: int) -> tuple[int, ...]:
    rng = random.Random(f"meraki-sim:{seed}:{org_id}:hour:{hour}")  # noqa: S311 -- test data
    count = min(events_per_hour, HOUR_US)
    return tuple(hour * HOUR_US + offset for offset in sorted(rng.sample(range(HOUR_US), count)))


@lru_cache(maxsize=64)
def _profile(org_id: str, seed: int) -> _Profile:
    rng = random.Random(f"meraki-sim:{seed}:{org_id}:profile")  # noqa: S311 -- test data
    subnet = rng.randrange(0x10000)
    device_macs = tuple(_mac(rng, oui="00:18:0a") for _ in range(rng.randint(1, 3)))
    hosts = rng.sample(range(10, 250), 24)
    clients = tuple(
        Client(
            name=f"{rng.choice(('LAPTOP', 'DESKTOP', 'COMPUTER-M'))}-{''.join(rng.choices(_NAME_CHARS, k=7))}",
            mac=_mac(rng),
            ipv4=f"192.0.2.{host}",
            ipv6=f"2001:db8:{subnet:x}::{host:x}",
        )
        for host in hosts
    )
    attackers_v4 = tuple(f"{rng.choice(('198.51.100', '203.0.113'))}.{rng.randint(1, 254)}" for _ in range(16))
    attackers_v6 = tuple(
        f"2001:db8:{rng.randrange(0x8000, 0x10000):x}::{rng.randrange(1, 0x10000):x}" for _ in range(4)
    )
    return _Profile(device_macs, clients, attackers_v4, attackers_v6)


def _mac(rng: random.Random, *, oui: str | None = None) -> str:
    """A MAC under `oui` (Meraki's 00:18:0a for an MX), else a random unicast, locally administered one."""
    if oui is None:
        oui = ":".join([f"{(rng.randrange(256) & 0xFC) | 0x02:02x}", *(f"{rng.randrange(256):02x}" for _ in range(2))])
    return ":".join([oui, *(f"{rng.randrange(256):02x}" for _ in range(3))])


def _ids_alert(rng: random.Random, profile: _Profile, ts_us: int) -> dict[str, Any]:
    priority = rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0]
    rule = rng.choice([rule for rule in SNORT_RULES if rule.priority == priority])
    client = rng.choice(profile.clients)
    if rng.random() < IPV6_SHARE:
        inside, outside = f"[{client.ipv6}]", f"[{rng.choice(profile.attackers_v6)}]"
    else:
        # Mostly the organization's usual attackers, sometimes a new address.
        outside = rng.choice(profile.attackers_v4) if rng.random() < 0.7 else f"203.0.113.{rng.randint(1, 254)}"
        inside = client.ipv4
    ephemeral = rng.randint(1024, 65535)
    if rule.inbound:
        src, dest = f"{outside}:{ephemeral}", f"{inside}:{rule.port}"
    else:
        src, dest = f"{inside}:{ephemeral}", f"{outside}:{rule.port}"
    return {
        "ts": format_ts(ts_us),
        "eventType": "IDS Alert",
        "deviceMac": rng.choice(profile.device_macs),
        "clientMac": client.mac.upper(),
        "srcIp": src,
        "destIp": dest,
        "protocol": rule.protocol,
        "priority": rule.priority,
        "classification": rule.classification,
        "blocked": rng.random() < (0.9 if rule.priority in ("1", "2") else 0.6),
        "message": rule.message,
        "signature": f"1:{rule.sid}:{rule.rev}",
        "sigSource": "",
        "ruleId": f"meraki:intrusion/snort/GID/1/SID/{rule.sid}",
    }


def _file_scanned(rng: random.Random, profile: _Profile, ts_us: int) -> dict[str, Any]:
    client = rng.choice(profile.clients)
    malicious = rng.random() < MALICIOUS_SHARE
    if malicious:
        canonical_name, file_type, file_name = rng.choice(MALWARE)
        # A few variants per family: the same file shows up again, in this organization and in others.
        file_hash = hashlib.sha256(f"malware:{canonical_name}:{rng.randrange(3)}".encode()).hexdigest()
    else:
        file_type, file_name = rng.choice(CLEAN_FILES)
        canonical_name = ""
        file_hash = hashlib.sha256(f"clean:{file_name}".encode()).hexdigest()
    port = 80 if rng.random() < 0.9 else 8080
    host = rng.choice(DOWNLOAD_HOSTS)
    authority = host if port == 80 else f"{host}:{port}"
    return {
        "ts": format_ts(ts_us),
        "eventType": "File Scanned",
        "clientName": client.name,
        "clientMac": client.mac,
        "clientIp": client.ipv4,
        "srcIp": client.ipv4,
        "destIp": f"{rng.choice(('198.51.100', '203.0.113'))}.{rng.randint(1, 254)}",
        "protocol": "http",
        "uri": f"http://{authority}/{rng.choice(('download', 'files', 'pub', 'dl'))}/{file_name}",
        "canonicalName": canonical_name,
        "destinationPort": port,
        "fileHash": file_hash,
        "fileType": file_type,
        "fileSizeBytes": rng.randint(20_000, 8_000_000),
        "disposition": "Malicious" if malicious else "Clean",
        "action": "Blocked" if malicious else "Allowed",
    }


# Pagination: the real API's tokens are timestamps; here a token is an event's ts (microseconds).


@dataclass(frozen=True)
class Page:
    """One page in list order, and the tokens of the four Link relations (None: the link is left out)."""

    timestamps: list[int]
    first_starting_after: int
    last_ending_before: int
    prev_ending_before: int | None
    next_starting_after: int | None


def paginate(
    stream: EventStream,
    *,
    start_us: int,
    end_us: int,
    per_page: int,
    descending: bool = False,
    starting_after: int | None = None,
    ending_before: int | None = None,
) -> Page:
    """The page of the window [start_us, end_us) that the tokens select, with its neighbours' tokens.

    Tokens follow the list order: `startingAfter=X` gives the events listed after the one at X (newer in
    ascending order, older in descending), `endingBefore=X` the `per_page` listed just before it. `next` is
    given only when events remain after the page, `prev` only when some precede it.
    """
    # Work on keys that ascend in list order (ts, or -ts when descending): one algorithm for both orders.
    sign = -1 if descending else 1
    key_lo, key_hi = (1 - end_us, 1 - start_us) if descending else (start_us, end_us)

    def keys(lo: int, hi: int, *, backwards: bool = False) -> Iterator[int]:
        """Keys in [lo, hi), ascending (or backwards)."""
        if descending:
            stamps = stream.timestamps(1 - hi, 1 - lo, descending=not backwards)
        else:
            stamps = stream.timestamps(lo, hi, descending=backwards)
        return (sign * ts for ts in stamps)

    def any_between(lo: int, hi: int) -> bool:
        return next(keys(lo, hi), None) is not None

    if ending_before is None:
        after = key_lo - 1 if starting_after is None else sign * starting_after
        start = max(key_lo, after + 1)
        found = list(islice(keys(start, key_hi), per_page + 1))
        page = found[:per_page]
        has_next = len(found) > per_page
        before = page[0] if page else start
        has_prev = any_between(key_lo, min(before, key_hi))
        after_page = page[-1] if page else start - 1
    else:
        end = min(key_hi, sign * ending_before)
        found = list(islice(keys(key_lo, end, backwards=True), per_page + 1))
        page = found[:per_page][::-1]
        has_prev = len(found) > per_page
        before = page[0] if page else end
        after_page = page[-1] if page else end - 1
        has_next = any_between(max(after_page + 1, key_lo), key_hi)
    return Page(
        timestamps=[sign * key for key in page],
        first_starting_after=sign * (key_lo - 1),
        last_ending_before=sign * key_hi,
        prev_ending_before=sign * before if has_prev else None,
        next_starting_after=sign * after_page if has_next else None,
    )
