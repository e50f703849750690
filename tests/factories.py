"""Builders for test data: plain functions with sensible defaults."""

import importlib
from datetime import UTC, datetime, timedelta
from itertools import count

from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from sync.models import Organization

TEST_BASE_URL = "https://api.meraki.com/api/v1"
TEST_API_KEY = "0123456789abcdef0123456789abcdef01234567"
_numbers = count(1)


def make_organization(**fields) -> Organization:
    number = next(_numbers)
    fields.setdefault("name", f"Org {number}")
    fields.setdefault("meraki_org_id", f"{100000 + number}")
    fields.setdefault("meraki_base_url", TEST_BASE_URL)
    fields.setdefault("api_key", TEST_API_KEY)
    organization = Organization.objects.create(**fields)
    organization.refresh_from_db()  # the key comes back as a Secret, as in production
    return organization


def ids_event(ts: datetime, *, priority: int = 1, src: str = "192.0.2.10:51000", **extra) -> dict:
    """An IDS Alert shaped like the official example."""
    event = {
        "ts": ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        "eventType": "IDS Alert",
        "deviceMac": "00:18:0a:01:02:03",
        "clientMac": "A1:B2:C3:D4:E5:F6",
        "srcIp": src,
        "destIp": "198.51.100.20:80",
        "protocol": "tcp/ip",
        "priority": str(priority),
        "classification": "4",
        "blocked": True,
        "message": "SERVER-WEBAPP JBoss JMX console access attempt",
        "signature": "1:21516:9",
        "sigSource": "",
        "ruleId": "meraki:intrusion/snort/GID/1/SID/21516",
    }
    event.update(extra)
    return event


def ids_events(start: datetime, n: int, *, step: timedelta = timedelta(seconds=7)) -> list[dict]:
    return [ids_event(start + i * step, src=f"192.0.2.{i % 250 + 1}:{40000 + i}") for i in range(n)]


GROUPS_MIGRATION = ("sync", "0004_analyst_and_admin_groups")


def ensure_role_groups() -> None:
    """The Analyst and Admin groups, as migration 0004 creates them.

    A transactional test empties every table when it ends, so the groups the migration made are gone for the
    next one: the migration's own function runs again (on the migration's state), so the permissions are exactly
    the migration's.
    """
    if Group.objects.filter(name="Analyst").exists():
        return
    migration = importlib.import_module(f"{GROUPS_MIGRATION[0]}.migrations.{GROUPS_MIGRATION[1]}")
    migration.create_groups(MigrationLoader(connection).project_state(GROUPS_MIGRATION).apps, None)
