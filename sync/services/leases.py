"""The per-organization sync lock, held as a lease in the database.

A database row works across every worker on every machine, on SQLite and PostgreSQL alike, with no extra
service. The lease expires on its own, so a worker killed mid-run blocks its organization for at most the lease
timeout; a live run renews it after every page.
"""

from datetime import datetime, timedelta

from django.db.models import Q

from sync.models import Organization


def acquire_sync_lease(*, organization_id: int, owner: str, now: datetime, timeout: timedelta) -> bool:
    """Take the lease if it is free or expired; one conditional UPDATE, so two callers can't both win."""
    updated = (
        Organization.objects.filter(pk=organization_id)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now))
        .update(lease_owner=owner, lease_expires_at=now + timeout)
    )
    return updated == 1


def renew_sync_lease(*, organization_id: int, owner: str, now: datetime, timeout: timedelta) -> bool:
    """Extend the lease; False when another run has taken it over (ours had expired)."""
    updated = Organization.objects.filter(pk=organization_id, lease_owner=owner).update(lease_expires_at=now + timeout)
    return updated == 1


def release_sync_lease(*, organization_id: int, owner: str) -> None:
    Organization.objects.filter(pk=organization_id, lease_owner=owner).update(lease_owner="", lease_expires_at=None)
